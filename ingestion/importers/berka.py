"""``c360 import berka DIR``: the PKDD'99 Discovery Challenge bank data (Berka) into the lake's raw layout.

The ``.asc`` files are ``;``-separated with quoted strings, CRLF line ends, ``YYMMDD`` dates (card ``issued`` with
a time), ``birth_number`` with the month +50 for women, and missing values written as ``""``, ``" "``, empty or
``?``. Each table lands where the simulator writes its source:

* ``client`` -> CRM JSON Lines (``raw/crm/``): birth date and gender decoded from ``birth_number``;
* ``account``, ``disp``, ``card``, ``loan``, ``order``, ``district`` -> the mainframe fixed-width extracts, laid
  out by the same copybooks (codes stay the core system's Czech codes, as the mainframe writes them);
* ``trans`` -> ``public.transactions`` in the source database with COPY (types and operations in English, as
  the core-banking table holds them).

Lines are parsed one at a time, so a broken quote never swallows the next line. A record that cannot be
converted is quarantined with its reason; every table's counts become an audit record.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from c360.errors import C360Error
from c360.storage import Lake
from ingestion import crm, mainframe
from ingestion import transactions as tx
from ingestion.copybooks import CopybookError
from ingestion.importers.report import TableImport, record

EXTRACTED_AT = datetime(1999, 1, 1, tzinfo=UTC)
"""The data ends on 1998-12-31: the import is stamped as the extract of the next morning."""
MISSING = {"", " ", "?"}
TABLES = ("client", "district", "account", "disp", "card", "loan", "order", "trans")

TRANS_TYPES = {"PRIJEM": tx.TYPE_CREDIT, "VYDAJ": tx.TYPE_DEBIT, "VYBER": tx.TYPE_CASH_WITHDRAWAL}
OPERATIONS = {
    "VYBER KARTOU": tx.OP_CARD_WITHDRAWAL,
    "VKLAD": tx.OP_CASH_CREDIT,
    "PREVOD Z UCTU": tx.OP_COLLECTION,
    "VYBER": tx.OP_CASH_WITHDRAWAL,
    "PREVOD NA UCET": tx.OP_REMITTANCE,
}
K_SYMBOLS = {
    "POJISTNE": tx.K_INSURANCE,
    "SLUZBY": tx.K_STATEMENT,
    "UROK": tx.K_INTEREST,
    "SANKC. UROK": tx.K_SANCTION,
    "SIPO": tx.K_HOUSEHOLD,
    "DUCHOD": tx.K_PENSION,
    "UVER": tx.K_LOAN,
}


class BerkaError(C360Error):
    """The folder does not hold the PKDD'99 files."""


class Reject(ValueError):
    """One record cannot be converted; the message is the quarantine reason."""


@dataclass(frozen=True)
class Row:
    file: str
    line: int
    text: str
    values: dict[str, str | None]


def rows(path: Path) -> Iterator[Row | tuple[str, int, str, str]]:
    """The data rows of one ``.asc`` file as dicts (missing values as None), or ``(file, line, text, reason)``
    for a line that is not a record of the file's columns."""
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()
    header = next(csv.reader([lines[0].rstrip(b"\r").decode("utf-8")], delimiter=";"))
    for number, raw in enumerate(lines[1:], start=2):
        text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        try:
            fields = next(csv.reader([text], delimiter=";", strict=True))
        except (csv.Error, StopIteration) as exc:
            yield (str(path), number, text, f"not a ;-separated record: {exc}")
            continue
        if len(fields) != len(header):
            yield (str(path), number, text, f"expected {len(header)} fields, got {len(fields)}")
            continue
        values = {
            name: (None if value.strip() in MISSING else value.strip())
            for name, value in zip(header, fields, strict=True)
        }
        yield Row(str(path), number, text, values)


def yymmdd(text: str | None, field: str) -> date:
    if text is None or len(text) < 6 or not text[:6].isdigit():
        raise Reject(f"{field} is not a YYMMDD date: {text!r}")
    try:
        return date(1900 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError as exc:
        raise Reject(f"{field} is not a valid date: {text!r}") from exc


def integer(text: str | None, field: str) -> int:
    try:
        return int(str(text))
    except ValueError:
        raise Reject(f"{field} is not an integer: {text!r}") from None


def decimal(text: str | None, field: str) -> Decimal:
    try:
        return Decimal(str(text))
    except InvalidOperation:
        raise Reject(f"{field} is not a number: {text!r}") from None


def birth(birth_number: str | None) -> tuple[date, str]:
    """PKDD's birth_number YYMMDD, month + 50 for women -> (birth date, gender code)."""
    if birth_number is None or len(birth_number) != 6 or not birth_number.isdigit():
        raise Reject(f"birth_number is not YYMMDD: {birth_number!r}")
    month = int(birth_number[2:4])
    gender = "F" if month > 50 else "M"
    try:
        born = date(1900 + int(birth_number[:2]), month - 50 if month > 50 else month, int(birth_number[4:6]))
    except ValueError:
        raise Reject(f"birth_number is not a valid date: {birth_number!r}") from None
    return born, gender


def ymd(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


# --- per-table converters: a Row -> the record our raw layout holds ---------------------------------------
def client_record(row: Row) -> dict[str, Any]:
    born, gender = birth(row.values["birth_number"])
    return {
        "client_id": integer(row.values["client_id"], "client_id"),
        "birth_date": born.isoformat(),
        "gender": gender,
        "updated_at": EXTRACTED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _optional_decimal(values: dict[str, str | None], key: str) -> Decimal | None:
    return None if values[key] is None else decimal(values[key], key)


def _optional_int(values: dict[str, str | None], key: str) -> int | None:
    return None if values[key] is None else integer(values[key], key)


def district_record(row: Row) -> dict[str, Any]:
    v = row.values
    return {
        "district_id": integer(v["A1"], "A1 (district_id)"),
        "district_name": v["A2"],
        "region": v["A3"],
        "inhabitants": integer(v["A4"], "A4 (inhabitants)"),
        "urban_ratio": decimal(v["A10"], "A10 (urban ratio)"),
        "average_salary": integer(v["A11"], "A11 (average salary)"),
        "unemployment_95": _optional_decimal(v, "A12"),
        "unemployment_96": _optional_decimal(v, "A13"),
        "entrepreneurs_per_1000": _optional_int(v, "A14"),
        "crimes_95": _optional_int(v, "A15"),
        "crimes_96": _optional_int(v, "A16"),
    }


def account_record(row: Row) -> dict[str, Any]:
    v = row.values
    return {
        "account_id": integer(v["account_id"], "account_id"),
        "district_id": integer(v["district_id"], "district_id"),
        "frequency": v["frequency"],
        "open_date": ymd(yymmdd(v["date"], "date")),
    }


def card_record(row: Row) -> dict[str, Any]:
    v = row.values
    issued = v["issued"] or ""
    clock = issued[7:].replace(":", "") if len(issued) > 7 else "000000"
    if not clock.isdigit():
        raise Reject(f"issued has no valid time: {issued!r}")
    return {
        "card_id": integer(v["card_id"], "card_id"),
        "disp_id": integer(v["disp_id"], "disp_id"),
        "card_type": v["type"],
        "issued_date": ymd(yymmdd(issued, "issued")),
        "issued_time": int(clock),
    }


def loan_record(row: Row) -> dict[str, Any]:
    v = row.values
    return {
        "loan_id": integer(v["loan_id"], "loan_id"),
        "account_id": integer(v["account_id"], "account_id"),
        "granted_date": ymd(yymmdd(v["date"], "date")),
        "amount": decimal(v["amount"], "amount"),
        "duration": integer(v["duration"], "duration"),
        "payments": decimal(v["payments"], "payments"),
        "loan_status": v["status"],
    }


class Converter:
    """Converters that need another table (the account's opening date for dispositions and orders)."""

    def __init__(self) -> None:
        self.account_opened: dict[int, int] = {}

    def disp_record(self, row: Row) -> dict[str, Any]:
        v = row.values
        account_id = integer(v["account_id"], "account_id")
        return {
            "disp_id": integer(v["disp_id"], "disp_id"),
            "client_id": integer(v["client_id"], "client_id"),
            "account_id": account_id,
            "disp_type": v["type"],
            "valid_from": self.account_opened.get(account_id),
        }

    def order_record(self, row: Row) -> dict[str, Any]:
        v = row.values
        account_id = integer(v["account_id"], "account_id")
        return {
            "order_id": integer(v["order_id"], "order_id"),
            "account_id": account_id,
            "bank_to": v["bank_to"],
            "account_to": v["account_to"],
            "amount": decimal(v["amount"], "amount"),
            "k_symbol": v["k_symbol"],
            "start_date": self.account_opened.get(account_id),
        }


def trans_record(row: Row) -> dict[str, Any]:
    v = row.values
    kind = TRANS_TYPES.get(v["type"] or "")
    if kind is None:
        raise Reject(f"unknown type code {v['type']!r}")
    operation = None if v["operation"] is None else OPERATIONS.get(v["operation"])
    if v["operation"] is not None and operation is None:
        raise Reject(f"unknown operation code {v['operation']!r}")
    k_symbol = None if v["k_symbol"] is None else K_SYMBOLS.get(v["k_symbol"])
    if v["k_symbol"] is not None and k_symbol is None:
        raise Reject(f"unknown k_symbol code {v['k_symbol']!r}")
    amount = decimal(v["amount"], "amount")
    if amount <= 0:
        raise Reject(f"amount must be positive, got {amount}")
    return {
        "trans_id": integer(v["trans_id"], "trans_id"),
        "account_id": integer(v["account_id"], "account_id"),
        "date": yymmdd(v["date"], "date"),
        "type": kind,
        "operation": operation,
        "amount": amount,
        "balance": decimal(v["balance"], "balance"),
        "k_symbol": k_symbol,
        "bank": v["bank"],
        "account": v["account"],
    }


def convert(
    path: Path,
    source: str,
    to_record: Callable[[Row], dict[str, Any]],
    check: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[TableImport, list[dict[str, Any]]]:
    """Every line of ``path`` converted, or quarantined with its reason."""
    table = TableImport(source=f"import_berka_{source}", files=[str(path)])
    converted = []
    for row in rows(path):
        table.input_rows += 1
        if isinstance(row, tuple):
            table.reject(*row)
            continue
        try:
            item = to_record(row)
            if check is not None:
                check(item)
        except (Reject, CopybookError) as exc:
            table.reject(row.file, row.line, row.text, str(exc))
            continue
        converted.append(item)
        table.landed_rows += 1
    return table, converted


def _layout_check(source: str) -> Callable[[dict[str, Any]], None]:
    """Encode one record with the source's copybook, so a value that does not fit is caught per record."""
    layout = mainframe.load_layout(mainframe.COPYBOOKS[source])
    return lambda item: layout.encode_line(item) and None


def run(lake: Lake, folder: Path, dsn: str | None) -> list[dict[str, object]]:
    """Import every table of ``folder``; transactions go to ``dsn`` (skipped, with a message, when None)."""
    missing = [name for name in TABLES if not (folder / f"{name}.asc").is_file()]
    if missing:
        raise BerkaError(f"{folder} lacks {', '.join(n + '.asc' for n in missing)}: not the PKDD'99 files")
    audits = []
    clients, records = convert(folder / "client.asc", "client", client_record)
    crm.write_extract(lake, records, EXTRACTED_AT)
    audits.append(record(lake, clients))

    converter = Converter()
    plan: list[tuple[str, str, Callable[[Row], dict[str, Any]]]] = [
        ("district", "district", district_record),
        ("account", "account", account_record),
        ("disp", "gbank", converter.disp_record),
        ("card", "card", card_record),
        ("loan", "loan", loan_record),
        ("order", "standing_order", converter.order_record),
    ]
    for name, source, to_record in plan:
        table, items = convert(folder / f"{name}.asc", name, to_record, _layout_check(source))
        if name == "account":
            converter.account_opened = {item["account_id"]: item["open_date"] for item in items}
        mainframe.write_extract(lake, source, items, EXTRACTED_AT)
        audits.append(record(lake, table))

    trans, items = convert(folder / "trans.asc", "trans", trans_record)
    if dsn is not None:
        load_transactions(dsn, items)
    audits.append(record(lake, trans))
    return audits


def load_transactions(dsn: str, items: list[dict[str, Any]]) -> None:
    """Replace ``public.transactions`` with the converted rows, with COPY."""
    import psycopg

    frame = pa.Table.from_pylist(
        items,
        schema=pa.schema(
            [
                ("trans_id", pa.int64()),
                ("account_id", pa.int64()),
                ("date", pa.date32()),
                ("type", pa.string()),
                ("operation", pa.string()),
                ("amount", pa.decimal128(12, 2)),
                ("balance", pa.decimal128(14, 2)),
                ("k_symbol", pa.string()),
                ("bank", pa.string()),
                ("account", pa.string()),
            ]
        ),
    )
    with psycopg.connect(dsn) as conn:
        tx.create_schema(conn)
        tx.load_table(conn, frame)
