"""The mainframe stage jobs: records decoded with the copybooks that wrote them (ASCII lines and EBCDIC cp037
fixed-length records), typed and translated columns, quarantine reasons, deduplication, orphan flags, audit."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from c360.settings import Settings
from c360.storage import Lake
from ingestion import bank, mainframe
from ingestion.copybooks import load_layout, parse_copybook
from spark_jobs import (
    stage_accounts,
    stage_cards,
    stage_dispositions,
    stage_districts,
    stage_loans,
    stage_standing_orders,
)
from spark_jobs.common.copybook_frames import calendar_date, decode_field
from spark_jobs.common.foreign_keys import MissingParentError
from spark_jobs.common.pkdd_codes import CARD_TYPE, DISPOSITION_TYPE, FREQUENCY, K_SYMBOL, LOAN_STATUS

pytestmark = pytest.mark.spark

END = date(2024, 12, 31)
JOBS = {  # in run order, with the raw source each one reads
    "districts": (stage_districts, "district"),
    "accounts": (stage_accounts, "account"),
    "dispositions": (stage_dispositions, "gbank"),
    "cards": (stage_cards, "card"),
    "loans": (stage_loans, "loan"),
    "standing_orders": (stage_standing_orders, "standing_order"),
}
LINEAGE = [("_source_file", "string"), ("_ingested_at", "timestamp"), ("_batch_id", "string")]
SCHEMAS = {
    "districts": [
        ("district_id", "bigint"),
        ("district_name", "string"),
        ("region", "string"),
        ("inhabitants", "int"),
        ("urban_ratio", "decimal(4,1)"),
        ("average_salary", "int"),
        ("unemployment_95", "decimal(4,2)"),
        ("unemployment_96", "decimal(4,2)"),
        ("entrepreneurs_per_1000", "int"),
        ("crimes_95", "int"),
        ("crimes_96", "int"),
        *LINEAGE,
    ],
    "accounts": [
        ("account_id", "bigint"),
        ("district_id", "bigint"),
        ("frequency", "string"),
        ("open_date", "date"),
        ("is_orphan", "boolean"),
        *LINEAGE,
    ],
    "dispositions": [
        ("disp_id", "bigint"),
        ("client_id", "bigint"),
        ("account_id", "bigint"),
        ("disp_type", "string"),
        ("valid_from", "date"),
        ("is_orphan", "boolean"),
        *LINEAGE,
    ],
    "cards": [
        ("card_id", "bigint"),
        ("disp_id", "bigint"),
        ("card_type", "string"),
        ("issued_date", "date"),
        ("issued_at", "timestamp"),
        ("is_orphan", "boolean"),
        *LINEAGE,
    ],
    "loans": [
        ("loan_id", "bigint"),
        ("account_id", "bigint"),
        ("granted_date", "date"),
        ("amount", "decimal(11,2)"),
        ("duration_months", "int"),
        ("monthly_payment", "decimal(9,2)"),
        ("loan_status", "string"),
        ("is_orphan", "boolean"),
        *LINEAGE,
    ],
    "standing_orders": [
        ("order_id", "bigint"),
        ("account_id", "bigint"),
        ("bank_to", "string"),
        ("account_to", "string"),
        ("amount", "decimal(9,2)"),
        ("k_symbol", "string"),
        ("start_date", "date"),
        ("is_orphan", "boolean"),
        *LINEAGE,
    ],
}


# --- helpers ---------------------------------------------------------------------------------------------


def encode(source: str, **record: object) -> str:
    """One record of ``source`` as its copybook lays it out (a fixed-width line without terminator)."""
    return load_layout(mainframe.COPYBOOKS[source]).encode_line(record)


def write_raw(
    root: Path, source: str, stamp: str, records: list[str | bytes], encoding: str = "ascii"
) -> Path:
    """``raw/<source>/ingest_date=.../<source>_<stamp>.dat``: lines (ASCII) or unlined records (EBCDIC)."""
    day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    path = root / "raw" / source / f"ingest_date={day}" / f"{source}_{stamp}.dat"
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [r if isinstance(r, bytes) else r.encode(encoding) for r in records]
    separator = b"" if encoding == "cp037" else b"\n"
    path.write_bytes(b"".join(p + separator for p in parts))
    return path


def run(spark, root: Path, table: str, encoding: str = "ascii", full_refresh: bool = False):
    job = JOBS[table][0]
    return job.run(spark, str(root / "raw"), str(root / "stage"), str(root / "logs"), encoding, full_refresh)


def rows(root: Path, table: str, key: str | None = None) -> list[dict]:
    result = pq.read_table(root / "stage" / table).to_pylist()
    return sorted(result, key=lambda r: r[key or SCHEMAS[table][0][0]])


def quarantine(root: Path, table: str) -> dict[int, dict]:
    return {r["_line_number"]: r for r in pq.read_table(root / "stage" / "_quarantine" / table).to_pylist()}


def write_parent(spark, root: Path, table: str, key: str, ids: list[int]) -> None:
    """A stage table holding only the keys that foreign keys are checked against (when it is not under test)."""
    frame = spark.createDataFrame([(i,) for i in ids], f"{key} bigint")
    frame.coalesce(1).write.mode("overwrite").parquet(str(root / "stage" / table))


DISTRICT = {
    "district_id": 1,
    "district_name": "Hlavni mesto Praha",
    "region": "Prague",
    "inhabitants": 1204953,
    "urban_ratio": Decimal("100.0"),
    "average_salary": 12541,
    "unemployment_95": Decimal("0.29"),
    "unemployment_96": Decimal("0.43"),
    "entrepreneurs_per_1000": 167,
    "crimes_95": 85677,
    "crimes_96": 99107,
}


def account(
    account_id: int, district_id: int = 1, frequency: str = "POPLATEK MESICNE", opened: int = 20150210
):
    return encode(
        "account", account_id=account_id, district_id=district_id, frequency=frequency, open_date=opened
    )


# --- the generated extracts: every table, ASCII and EBCDIC --------------------------------------------------


EBCDIC_TABLES = ("districts", "accounts", "loans", "standing_orders")
"""Staged from cp037 too: every kind of field (text, blank numbers, signed decimals, dates, codes)."""


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same small bank's extracts, staged from ASCII lines and from EBCDIC cp037 records."""
    ks = bank.build_keyspace(42, 0.02, END)
    lakes = {}
    for encoding in ("ascii", "cp037"):
        root = tmp_path_factory.mktemp(f"mainframe-{encoding}")
        settings = Settings().with_overrides(lake=str(root), seed=42, scale=0.02, end_date=END)
        lake = Lake(settings.lake)
        lake.ensure_zones()
        mainframe.generate(settings, lake, encoding=encoding)
        clients = sorted({r["client_id"] for r in mainframe.disposition_records(ks, None, END)})
        write_parent(spark, root, "crm_customers", "client_id", clients)
        for table in JOBS if encoding == "ascii" else EBCDIC_TABLES:
            record = run(spark, root, table, encoding)
            assert record.balanced and record.quarantined_rows == 0, (encoding, table, record)
        lakes[encoding] = root
    return lakes


def test_every_stage_table_has_its_columns_and_types(spark, generated: dict[str, Path]) -> None:
    for table, expected in SCHEMAS.items():
        assert spark.read.parquet(str(generated["ascii"] / "stage" / table)).dtypes == expected, table
        job = JOBS[table][0]
        assert [(f.name, f.dataType.simpleString()) for f in job.STAGE_SCHEMA.fields] == expected, table
        assert len(list((generated["ascii"] / "stage" / table).glob("*.parquet"))) == 1, "one file per table"


def test_staged_rows_are_the_records_the_bank_wrote(generated: dict[str, Path]) -> None:
    """The full unload and the nightly increments together: every record once, decoded and translated."""
    ks = bank.build_keyspace(42, 0.02, END)
    root = generated["ascii"]

    def day(value: int) -> date:
        return date(value // 10_000, value // 100 % 100, value % 100)

    accounts = [
        (r["account_id"], r["district_id"], FREQUENCY[r["frequency"]], day(r["open_date"]))
        for r in mainframe.account_records(ks, None, END)
    ]
    assert [
        (r["account_id"], r["district_id"], r["frequency"], r["open_date"]) for r in rows(root, "accounts")
    ] == sorted(accounts)
    dispositions = [
        (
            r["disp_id"],
            r["client_id"],
            r["account_id"],
            DISPOSITION_TYPE[r["disp_type"]],
            day(r["valid_from"]),
        )
        for r in mainframe.disposition_records(ks, None, END)
    ]
    staged = [
        (r["disp_id"], r["client_id"], r["account_id"], r["disp_type"], r["valid_from"])
        for r in rows(root, "dispositions")
    ]
    assert staged == sorted(dispositions)
    cards = rows(root, "cards")
    source_cards = sorted(mainframe.card_records(ks, None, END), key=lambda r: r["card_id"])
    assert [(c["card_id"], c["disp_id"], c["card_type"]) for c in cards] == [
        (r["card_id"], r["disp_id"], CARD_TYPE[r["card_type"].upper()]) for r in source_cards
    ]
    first = source_cards[0]
    issued = cards[0]["issued_at"]
    assert issued.strftime("%Y%m%d%H%M%S") == f"{first['issued_date']}{first['issued_time']:06d}"
    loans = rows(root, "loans")
    assert [(r["loan_id"], r["amount"], r["monthly_payment"], r["loan_status"]) for r in loans] == sorted(
        (r["loan_id"], r["amount"], r["payments"], LOAN_STATUS[r["loan_status"]])
        for r in mainframe.loan_records(ks, None, END)
    )
    orders = rows(root, "standing_orders")
    assert [(r["order_id"], r["account_to"], r["amount"], r["k_symbol"]) for r in orders] == sorted(
        (r["order_id"], r["account_to"], r["amount"], K_SYMBOL[r["k_symbol"]] if r["k_symbol"] else None)
        for r in mainframe.standing_order_records(ks, None, END)
    )
    districts = rows(root, "districts")
    assert len(districts) == bank.DISTRICT_COUNT
    assert any(d["unemployment_95"] is None for d in districts) or all(d["crimes_95"] for d in districts)
    for table in JOBS:
        staged_rows = rows(root, table)
        assert not any(r.get("is_orphan") for r in staged_rows), f"{table}: the generated keys all join"
        assert all(r["_ingested_at"] is not None and r["_batch_id"].startswith(table) for r in staged_rows)


def test_ebcdic_cp037_records_stage_to_the_same_rows_as_ascii_lines(generated: dict[str, Path]) -> None:
    def comparable(root: Path, table: str) -> list[dict]:
        result = []
        for row in rows(root, table):
            row.pop("_batch_id")  # the batch id hashes the files' sizes: EBCDIC records have no newline
            row["_source_file"] = row["_source_file"][len(str(root)) :]
            result.append(row)
        return result

    assert (generated["cp037"] / "raw" / "account").exists()
    unload = max((generated["cp037"] / "raw" / "account").rglob("*.dat"), key=lambda p: p.stat().st_size)
    data = unload.read_bytes()
    assert b"\n" not in data and data[:1] == "0".encode("cp037")
    for table in EBCDIC_TABLES:
        assert comparable(generated["cp037"], table) == comparable(generated["ascii"], table), table


# --- hand-written inputs: one bad record of each kind ---------------------------------------------------------


def test_bad_records_are_quarantined_with_reason_file_and_line(spark, tmp_path: Path) -> None:
    write_parent(spark, tmp_path, "districts", "district_id", [1])
    good = account(1)
    lines: list[str | bytes] = [
        good,  # 1
        good[:20],  # 2 truncated record
        account(3) + "XYZ",  # 3 an extra field
        "00000000A" + account(4)[9:],  # 4 a number that is not numeric
        account(5, opened=20240230),  # 5 no such day
        account(6, frequency="POPLATEK ROCNE"),  # 6 an unknown code
        "",  # 7 empty line
        account(8).encode("ascii")[:15] + b"\xe9" + account(8).encode("ascii")[16:],  # 8 not ASCII
        account(9)[:9] + "   " + account(9)[12:],  # 9 a required field left blank
        account(10)[:12] + "POPLATEK\x01MESICNE  " + account(10)[30:],  # 10 a control character
        account(11, opened=150210),  # 11 YYMMDD in the 9(8) field: a good record
        account(12, frequency=" weekly "),  # 12 an English value, trimmed: a good record
    ]
    path = write_raw(tmp_path, "account", "20241225T000000Z", lines)
    record = run(spark, tmp_path, "accounts")
    expected = {
        2: "record length 20, expected 38",
        3: "record length 41, expected 38",
        4: "ACCOUNT-ID is not numeric (PIC 9(9))",
        5: "open_date is not a valid date (YYYYMMDD or YYMMDD)",
        6: "unknown frequency code",
        7: "empty line",
        8: "invalid ascii bytes",
        9: "district_id missing",
        10: "record contains control characters (wrong encoding?)",
    }
    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        12,
        3,
        len(expected),
        0,
    )
    bad = quarantine(tmp_path, "accounts")
    assert set(bad) == set(expected)
    for line, reason in expected.items():
        assert reason in bad[line]["reason"], (line, bad[line]["reason"])
        assert bad[line]["_source_file"] == str(path)
    assert bad[4]["raw_record"] == lines[3] and bad[2]["raw_record"] == good[:20]
    staged = {r["account_id"]: r for r in rows(tmp_path, "accounts")}
    assert staged[11]["open_date"] == date(2015, 2, 10)
    assert (staged[1]["frequency"], staged[12]["frequency"]) == ("monthly", "weekly")


@pytest.fixture(scope="module")
def hand_written(spark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every table from a few hand-written records: good ones, one bad record per check, and orphans."""
    root = tmp_path_factory.mktemp("hand-written")
    stamp = "20241225T000000Z"
    write_raw(root, "district", stamp, [encode("district", **{**DISTRICT, "crimes_95": None})])
    write_raw(root, "account", stamp, [account(1), account(2, district_id=99)])
    gbank = {"disp_id": 1, "client_id": 1, "account_id": 1, "disp_type": "OWNER", "valid_from": 20150210}
    write_raw(
        root,
        "gbank",
        stamp,
        [
            encode("gbank", **gbank),
            encode("gbank", **{**gbank, "disp_id": 2, "disp_type": "CO-OWNER"}),
            encode("gbank", **{**gbank, "disp_id": 3, "account_id": 3}),  # no such account
            encode(
                "gbank", **{**gbank, "disp_id": 4, "client_id": 77, "disp_type": "DISPONENT"}
            ),  # no such client
        ],
    )
    card = {"card_id": 1, "disp_id": 1, "card_type": "gold", "issued_date": 20200101, "issued_time": 123000}
    write_raw(
        root,
        "card",
        stamp,
        [
            encode("card", **card),
            encode("card", **{**card, "card_id": 2, "issued_time": 256100}),
            encode("card", **{**card, "card_id": 3, "card_type": "silver"}),
            encode("card", **{**card, "card_id": 4, "issued_time": None}),
            encode("card", **{**card, "card_id": 5, "disp_id": 9}),  # no such disposition
        ],
    )
    loan = {
        "loan_id": 1,
        "account_id": 1,
        "granted_date": 20200101,
        "amount": Decimal("24000.00"),
        "duration": 24,
        "payments": Decimal("1000.00"),
        "loan_status": "D",
    }
    write_raw(
        root,
        "loan",
        stamp,
        [
            encode("loan", **loan),
            encode("loan", **{**loan, "loan_id": 2, "loan_status": "E"}),
            encode("loan", **{**loan, "loan_id": 3, "amount": Decimal("-5.00")}),
            encode("loan", **loan).replace("+000024000", "*000024000"),
            encode("loan", **{**loan, "loan_id": 5, "account_id": 5}),  # no such account
        ],
    )
    order = {
        "order_id": 1,
        "account_id": 1,
        "bank_to": "AB",
        "account_to": "00012345",
        "amount": Decimal("123.45"),
        "k_symbol": "SIPO",
        "start_date": 20200101,
    }
    write_raw(
        root,
        "standing_order",
        stamp,
        [
            encode("standing_order", **order),
            encode("standing_order", **{**order, "order_id": 2, "k_symbol": None}),
            encode("standing_order", **{**order, "order_id": 3, "k_symbol": "DARKY"}),
        ],
    )
    write_parent(spark, root, "crm_customers", "client_id", [1])
    for table in JOBS:
        assert run(spark, root, table).balanced, table
    return root


def test_codes_dates_times_and_amounts_are_checked_per_table(hand_written: Path) -> None:
    root = hand_written
    assert rows(root, "districts")[0]["crimes_95"] is None, "a numeric field of spaces is not reported"
    assert quarantine(root, "dispositions").keys() == {2}
    assert quarantine(root, "dispositions")[2]["reason"] == "unknown disp_type code"
    cards = quarantine(root, "cards")
    assert cards[2]["reason"] == "issued_at: ISSUED-TIME is not a valid HHMMSS time"
    assert cards[3]["reason"] == "unknown card_type code"
    staged_cards = {r["card_id"]: r for r in rows(root, "cards")}
    assert staged_cards[1]["issued_at"].isoformat() == "2020-01-01T12:30:00"
    assert staged_cards[4]["issued_at"] is None and staged_cards[4]["issued_date"] == date(2020, 1, 1)
    loans = quarantine(root, "loans")
    assert loans[2]["reason"] == "unknown loan_status code"
    assert loans[3]["reason"] == "amount is not positive"
    assert loans[4]["reason"] == "AMOUNT is not numeric (PIC S9(9)V9(2))"
    staged_loan = rows(root, "loans")[0]
    assert staged_loan["loan_status"] == "running, client in debt"
    assert (staged_loan["amount"], staged_loan["duration_months"]) == (Decimal("24000.00"), 24)
    assert quarantine(root, "standing_orders")[3]["reason"] == "unknown k_symbol code"
    orders = rows(root, "standing_orders")
    assert [(o["order_id"], o["k_symbol"], o["account_to"]) for o in orders] == [
        (1, "household", "00012345"),
        (2, None, "00012345"),
    ]


def test_orphan_foreign_keys_are_flagged_and_kept(hand_written: Path) -> None:
    flags = {
        t: {r[SCHEMAS[t][0][0]]: r["is_orphan"] for r in rows(hand_written, t)}
        for t in ("accounts", "dispositions", "cards", "loans", "standing_orders")
    }
    assert flags == {
        "accounts": {1: False, 2: True},  # district 99
        "dispositions": {1: False, 3: True, 4: True},  # account 3, client 77
        "cards": {1: False, 4: False, 5: True},  # disposition 9
        "loans": {1: False, 5: True},  # account 5
        "standing_orders": {1: False, 2: False},
    }


def test_ebcdic_truncated_and_misencoded_records_are_quarantined(spark, tmp_path: Path) -> None:
    write_parent(spark, tmp_path, "districts", "district_id", [1])
    misencoded = b"\x00\x01" + account(2).encode("cp037")[2:]
    write_raw(
        tmp_path,
        "account",
        "20241225T000000Z",
        [account(1).encode("cp037"), misencoded, account(3).encode("cp037")[:10]],
        "cp037",
    )
    record = run(spark, tmp_path, "accounts", "cp037")
    assert (record.raw_rows, record.stage_rows, record.quarantined_rows) == (3, 1, 2)
    bad = quarantine(tmp_path, "accounts")
    assert "record contains control characters" in bad[2]["reason"]
    assert "ACCOUNT-ID is not numeric" in bad[2]["reason"]
    assert bad[3]["reason"] == "truncated record: 10 bytes, expected 38"


def test_duplicates_keep_the_record_of_the_latest_extract(spark, tmp_path: Path) -> None:
    write_parent(spark, tmp_path, "districts", "district_id", [1])
    write_raw(tmp_path, "account", "20241225T000000Z", [account(1), account(2)])  # the full unload
    write_raw(tmp_path, "account", "20241226T230000Z", [account(1, frequency="POPLATEK TYDNE")])
    write_raw(
        tmp_path,
        "account",
        "20241227T230000Z",
        [account(2, frequency="POPLATEK PO OBRATU"), account(2, frequency="POPLATEK TYDNE")],
    )
    record = run(spark, tmp_path, "accounts")
    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        5,
        2,
        0,
        3,
    )
    staged = rows(tmp_path, "accounts")
    assert [(r["account_id"], r["frequency"]) for r in staged] == [(1, "weekly"), (2, "weekly")]
    assert staged[1]["_source_file"].endswith("account_20241227T230000Z.dat")
    assert str(staged[0]["_ingested_at"]) == "2024-12-26 23:00:00"


def test_the_last_disposition_is_the_last_one_delivered(spark, tmp_path: Path) -> None:
    """The original's "last" disposition table held the first: here a disposition re-sent by a later extract
    (a disponent who became the owner of another account) replaces the earlier record."""
    write_parent(spark, tmp_path, "accounts", "account_id", [1, 2])
    write_parent(spark, tmp_path, "crm_customers", "client_id", [1, 2])
    first = {"disp_id": 7, "client_id": 2, "account_id": 1, "disp_type": "DISPONENT", "valid_from": 20150210}
    later = {**first, "account_id": 2, "disp_type": "OWNER", "valid_from": 20241226}
    write_raw(
        tmp_path,
        "gbank",
        "20241225T000000Z",
        [
            encode("gbank", **{**first, "disp_id": 1, "client_id": 1, "disp_type": "OWNER"}),
            encode("gbank", **first),
        ],
    )
    write_raw(tmp_path, "gbank", "20241226T230000Z", [encode("gbank", **later)])
    record = run(spark, tmp_path, "dispositions")
    assert (record.raw_rows, record.stage_rows, record.deduplicated_rows) == (3, 2, 1)
    staged = {r["disp_id"]: r for r in rows(tmp_path, "dispositions")}
    assert (staged[7]["account_id"], staged[7]["disp_type"], staged[7]["valid_from"]) == (
        2,
        "owner",
        date(2024, 12, 26),
    )
    assert staged[7]["_source_file"].endswith("gbank_20241226T230000Z.dat")
    assert staged[1]["disp_type"] == "owner" and not staged[7]["is_orphan"]


def test_a_job_before_its_parent_table_fails_loudly(spark, tmp_path: Path) -> None:
    write_raw(tmp_path, "card", "20241225T000000Z", [])
    with pytest.raises(MissingParentError, match="stage dispositions first"):
        run(spark, tmp_path, "cards")


def test_empty_extract_gives_an_empty_typed_table(spark, tmp_path: Path) -> None:
    write_raw(tmp_path, "district", "20241225T000000Z", [])
    record = run(spark, tmp_path, "districts")
    assert (record.raw_rows, record.stage_rows, record.quarantined_rows) == (0, 0, 0)
    table = pq.read_table(tmp_path / "stage" / "districts")
    assert table.num_rows == 0 and table.schema.names == [name for name, _ in SCHEMAS["districts"]]


def _content_hash(folder: Path) -> str:
    return hashlib.sha256(repr(pq.read_table(folder).sort_by("account_id").to_pylist()).encode()).hexdigest()


def test_rerun_replaces_the_table_with_the_same_content(spark, generated: dict[str, Path]) -> None:
    root = generated["ascii"]
    before = _content_hash(root / "stage" / "accounts")
    first = json.loads((root / "logs" / "audit" / "accounts" / "latest.json").read_text())
    unchanged = run(spark, root, "accounts")  # no new extract: nothing to stage
    assert (unchanged.raw_rows, unchanged.files) == (0, [])
    second = run(spark, root, "accounts", full_refresh=True)
    assert first["batch_id"] == second.batch_id and first["raw_rows"] == second.raw_rows
    assert _content_hash(root / "stage" / "accounts") == before
    assert len(list((root / "stage" / "accounts").glob("*.parquet"))) == 1
    assert not (root / "stage" / "accounts.old").exists()
    assert not list((root / "stage" / "_staging").rglob("*.parquet")), "nothing left in staging"


def test_glue_style_entry_point_with_encoding(
    spark, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_raw(tmp_path, "district", "20241225T000000Z", [encode("district", **DISTRICT)], "cp037")
    stage_districts.main(
        ["--JOB_NAME", "c360-stage-districts", "--lake", str(tmp_path), "--encoding", "cp037"]
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["stage_rows"] == 1 and printed["balanced"] is True
    assert rows(tmp_path, "districts")[0]["district_name"] == "Hlavni mesto Praha"


# --- the decoding expressions against the copybook module ------------------------------------------------------

SIGNS = """\
       01  SIGNS-RECORD.
           05  PLAIN            PIC 9(4).
           05  TRAILING-PUNCH   PIC S9(3)V99.
           05  LEADING-PUNCH    PIC S9(3) SIGN IS LEADING.
           05  LEADING-SIGN     PIC S9(3)V9(2) SIGN IS LEADING SEPARATE.
           05  TRAILING-SIGN    PIC S999 SIGN TRAILING SEPARATE CHARACTER.
           05  RATE             PIC 9V999.
           05  LABEL            PIC X(5).
"""


def test_spark_decoding_matches_the_copybook_module_for_every_sign_convention(spark) -> None:
    layout = parse_copybook(SIGNS)
    records = [
        {
            "plain": 42,
            "trailing_punch": Decimal("-12.34"),
            "leading_punch": -7,
            "leading_sign": Decimal("5.5"),
            "trailing_sign": -120,
            "rate": Decimal("0.125"),
            "label": "ab",
        },
        {
            "plain": 0,
            "trailing_punch": Decimal("999.99"),
            "leading_punch": 305,
            "leading_sign": Decimal("-0.01"),
            "trailing_sign": 0,
            "rate": None,
            "label": None,
        },
    ]
    lines = [layout.encode_line(r) for r in records]
    frame = spark.createDataFrame([(line,) for line in lines], "raw_record string")
    decoded = frame.select(
        *[decode_field(f, F.col("raw_record")).value.alias(f.column) for f in layout.data_fields]
    ).collect()
    for line, row in zip(lines, decoded, strict=True):
        expected = layout.decode_line(line)
        got = row.asDict()
        assert {k: (None if v is None else Decimal(v)) for k, v in got.items() if k != "label"} == {
            k: (None if v is None else Decimal(v)) for k, v in expected.items() if k != "label"
        }
        assert got["label"] == expected["label"]


def test_dates_accept_yyyymmdd_and_yymmdd(spark) -> None:
    values = [20150210, 150210, 930101, 991231, 20240229, 20230229, 0, 18991231]
    got = (
        spark.createDataFrame([(v,) for v in values], "v bigint").select(calendar_date(F.col("v"))).collect()
    )
    assert [r[0] for r in got] == [
        date(2015, 2, 10),
        date(2015, 2, 10),
        date(1993, 1, 1),
        date(1999, 12, 31),
        date(2024, 2, 29),
        None,
        None,
        None,
    ]
