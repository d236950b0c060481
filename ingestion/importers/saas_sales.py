"""``c360 import saas-sales FILE``: the SaaS Sales orders CSV (UTF-8 BOM, CRLF, ``Order Date`` M/D/YYYY) into
``raw/retail_orders/``, where the generator writes. Lines are landed byte for byte (the stage job parses them, one
line at a time, so a broken line never swallows the next); a line that is not a record at all (blank, or without
the 19 fields) is quarantined here with its reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from c360.errors import C360Error
from c360.storage import Lake
from ingestion import retail_orders
from ingestion.common import start_of_day
from ingestion.importers.report import TableImport, record

HEADER = (
    "Row ID,Order ID,Order Date,Date Key,Contact Name,Country,City,Region,Subregion,Customer,Customer ID,"
    "Industry,Segment,Product,License,Sales,Quantity,Discount,Profit"
)
FIELDS = HEADER.count(",") + 1
BOM = b"\xef\xbb\xbf"


class SaasSalesError(C360Error):
    """The file is not a SaaS Sales export."""


def _order_day(fields: list[str]) -> date | None:
    try:
        return datetime.strptime(fields[2].strip(), "%m/%d/%Y").date()
    except ValueError:
        return None


def import_file(lake: Lake, path: Path) -> tuple[TableImport, str]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()
    header = lines[0].removeprefix(BOM).rstrip(b"\r").decode("utf-8", errors="replace") if lines else ""
    if header.replace("_", " ") != HEADER and header != HEADER.replace("Customer ID", "client_id").replace(
        " ", "_"
    ):
        raise SaasSalesError(f"{path}: unexpected header {header[:120]!r}; expected the SaaS Sales columns")
    table = TableImport(source="import_saas_sales", files=[str(path)])
    kept = [HEADER.encode()]
    last_day = None
    for number, raw in enumerate(lines[1:], start=2):
        table.input_rows += 1
        text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        fields = text.split(",")
        if not text.strip():
            table.reject(str(path), number, text, "empty line")
            continue
        if len(fields) != FIELDS:
            table.reject(str(path), number, text, f"expected {FIELDS} fields, got {len(fields)}")
            continue
        day = _order_day(fields)
        last_day = max(last_day, day) if day and last_day else (day or last_day)
        kept.append(raw.rstrip(b"\r"))
        table.landed_rows += 1
    # The extract is stamped the day after its last order, as the generator's nightly extracts are.
    extracted = start_of_day((last_day or date(1970, 1, 1)) + timedelta(days=1))
    uri = retail_orders.raw_uri(lake, extracted)
    lake.write_bytes(uri, BOM + b"".join(line + b"\r\n" for line in kept))
    return table, uri


def run(lake: Lake, path: Path) -> list[dict[str, object]]:
    table, _ = import_file(lake, path)
    return [record(lake, table)]
