"""The retail orders stage job: CSV parsing (BOM, CRLF), header and field-count checks, typing, the Date Key
flag, deduplication by License, monthly partitions, and the real SaaS Sales export."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from c360.settings import Settings
from c360.storage import Lake
from ingestion import retail_orders as generator
from ingestion.common import start_of_day
from spark_jobs import stage_retail_orders as job
from spark_jobs.common import quality
from spark_jobs.common.hadoopfs import HadoopFS

pytestmark = pytest.mark.spark

REFERENCE = (
    Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "saas_sales" / "SaaS-Sales.csv"
)
HEADER = ",".join(generator.HEADER)


def line(row_id: int, license_code: str, **changes: str) -> str:
    fields = {
        "row_id": str(row_id),
        "order_id": "EMEA-2024-100001",
        "order_date": "3/7/2024",
        "date_key": "20240307",
        "contact_name": " Ann Lee ",
        "country": "Ireland",
        "city": "Dublin",
        "region": "EMEA",
        "subregion": "UKIR",
        "customer_name": "Lee Logistics",
        "client_id": "5017",
        "industry": "Energy",
        "segment": "SMB",
        "product": "Marketing Suite",
        "license": license_code,
        "sales": "261.96",
        "quantity": "2",
        "discount": "0.2",
        "profit": "-41.9136",
    }
    fields.update(changes)
    return ",".join(fields[name] for name in job.COLUMNS)


def write(root: Path, stamp: str, lines: list[str], header: str | None = HEADER) -> Path:
    """An extract as the SaaS app writes it: UTF-8 with a BOM, CRLF line endings."""
    folder = root / "raw" / "retail_orders" / f"ingest_date={stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"retail_orders_{stamp}.csv"
    text = "\r\n".join([header, *lines] if header is not None else lines) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8", "surrogateescape"))
    return path


def run_job(spark, root: Path):
    return job.run(spark, str(root / "raw"), str(root / "stage"), str(root / "logs"))


def stage_rows(root: Path) -> list[dict]:
    table = ds.dataset(root / "stage" / "retail_orders", format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["license"])


BAD_LINES = {
    "truncated": (
        line(3, "LIC0000003")[:40],
        f"expected 19 fields, got {line(3, 'LIC0000003')[:40].count(',') + 1}",
    ),
    "extra_field": (line(4, "LIC0000004") + ",oops", "expected 19 fields, got 20"),
    "wrong_type": (line(5, "LIC0000005", quantity="two"), "Quantity is not a positive integer"),
    "bad_date": (
        line(6, "LIC0000006", order_date="2/30/2024"),
        "Order Date missing or not a valid M/D/YYYY date",
    ),
    "bad_date_key": (
        line(7, "LIC0000007", date_key="2024-03-07"),
        "Date Key missing or not a valid YYYYMMDD",
    ),
    "unknown_code": (line(8, "LIC0000008", region="MARS"), "unknown Region code"),
    "unknown_segment": (line(9, "LIC0000009", segment="Galactic"), "unknown Segment"),
    "discount": (line(10, "LIC0000010", discount="1.5"), "Discount is not a fraction between 0 and 1"),
    "money": (line(11, "LIC0000011", sales="12.34567"), "Sales is not a number with at most 4 decimals"),
    "no_license": (line(12, " "), "License missing"),
    "empty": ("", "empty line"),
    "bad_encoding": (line(13, "LIC0000013", city="S\udce3o Paulo"), "invalid utf-8 bytes"),
}


def test_parsing_quarantine_flags_dedup_and_partitions(spark, tmp_path: Path) -> None:
    first_lines = [
        line(1, "LIC0000001"),
        line(2, "LIC0000002", order_date="2/9/2022", date_key="20220219", city="Malmö", segment="Strategic"),
        *[text for text, _ in BAD_LINES.values()],
        line(14, "LIC0000014", sales="5", order_date="12/31/2023", date_key="20231231"),
    ]
    first = write(tmp_path, "20241230T000000Z", first_lines)
    # The same order line again in a later extract (a re-delivery): the later load wins.
    second = write(tmp_path, "20241231T000000Z", [line(1, "LIC0000001", quantity="3", sales="392.94")])
    renamed = write(
        tmp_path, "20250101T000000Z", [line(99, "LIC0000099")], header=HEADER.replace("Sales,", "")
    )
    empty = (
        tmp_path / "raw" / "retail_orders" / "ingest_date=2025-01-02" / "retail_orders_20250102T000000Z.csv"
    )
    empty.parent.mkdir()
    empty.write_bytes(b"")  # an empty extract: no rows, nothing to quarantine

    record = run_job(spark, tmp_path)

    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        len(first_lines) + 1 + 2,
        3,
        len(BAD_LINES) + 2,
        1,
    )
    rows = {r["license"]: r for r in stage_rows(tmp_path)}
    assert sorted(rows) == ["LIC0000001", "LIC0000002", "LIC0000014"]
    one = rows["LIC0000001"]
    assert (one["quantity"], one["sales"], one["_source_file"]) == (3, Decimal("392.94"), str(second))
    assert (one["order_date"], one["date_key"], one["is_date_key_mismatch"]) == (date(2024, 3, 7),) * 2 + (
        False,
    )
    assert (one["discount"], one["profit"], one["client_id"], one["row_id"]) == (
        Decimal("0.2"),
        Decimal("-41.9136"),
        5017,
        1,
    )
    assert one["contact_name"] == "Ann Lee" and one["customer_name"] == "Lee Logistics"
    assert (one["region"], one["region_name"], one["subregion"], one["subregion_name"]) == (
        "EMEA",
        "Europe, Middle East and Africa",
        "UKIR",
        "United Kingdom and Ireland",
    )
    two = rows["LIC0000002"]
    assert two["is_date_key_mismatch"] is True and two["city"] == "Malmö" and two["segment"] == "Strategic"
    assert two["order_date"] == date(2022, 2, 9) and two["date_key"] == date(2022, 2, 19)

    partitions = tmp_path / "stage" / "retail_orders"
    assert sorted(p.name for p in partitions.iterdir() if p.is_dir()) == [
        "order_month=2022-02",
        "order_month=2023-12",
        "order_month=2024-03",
    ]
    assert all(len(list(p.glob("*.parquet"))) == 1 for p in partitions.iterdir() if p.is_dir())
    read = spark.read.parquet(str(partitions)).schema
    assert [(f.name, f.dataType) for f in read] == [(f.name, f.dataType) for f in job.STAGE_SCHEMA]

    quarantined = pq.read_table(tmp_path / "stage" / "_quarantine" / "retail_orders").to_pylist()
    by_line = {(Path(r["_source_file"]).name, r["_line_number"]): r for r in quarantined}
    for number, (name, (text, reason)) in enumerate(
        BAD_LINES.items(), start=4
    ):  # header, then two good lines
        row = by_line[(first.name, number)]
        assert reason in row["reason"], (name, row["reason"])
        assert row["raw_record"] == text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), name
    for number in (1, 2):
        assert by_line[(renamed.name, number)]["reason"].startswith("unexpected header: expected 'Row ID,")


def test_a_large_extract_is_spread_over_partitions_with_the_same_result(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file above ``SPLIT_BYTES`` is read by one task, then its lines are repartitioned: line numbers, the
    quarantine and the latest-line-wins deduplication come out exactly as when the file stays one partition."""
    lines = [line(n, f"LIC{n:07d}", sales=f"{n}.5") for n in range(1, 301)]
    lines += [line(5, "LIC0000005", quantity="9"), BAD_LINES["wrong_type"][0], BAD_LINES["no_license"][0]]
    write(tmp_path / "whole", "20241230T000000Z", lines)
    shutil.copytree(tmp_path / "whole" / "raw", tmp_path / "split" / "raw")

    whole = run_job(spark, tmp_path / "whole")
    monkeypatch.setattr(quality, "SPLIT_BYTES", 4096)
    files = HadoopFS(spark).list_files(str(tmp_path / "split" / "raw" / "retail_orders"), suffixes=(".csv",))
    expected_partitions = max(spark.sparkContext.defaultParallelism, -(-files[0].size // 4096))
    assert expected_partitions > 2
    assert quality.read_lines(spark, files).rdd.getNumPartitions() == expected_partitions
    split = run_job(spark, tmp_path / "split")

    counts = (whole.raw_rows, whole.stage_rows, whole.quarantined_rows, whole.deduplicated_rows)
    assert counts == (len(lines), 300, 2, 1)  # the header is not a record
    assert (split.raw_rows, split.stage_rows, split.quarantined_rows, split.deduplicated_rows) == counts

    def outputs(root: Path) -> tuple[list[dict], list[tuple]]:
        rows = [{**r, "_source_file": Path(r["_source_file"]).name} for r in stage_rows(root)]
        quarantined = pq.read_table(root / "stage" / "_quarantine" / "retail_orders").to_pylist()
        return rows, sorted((r["_line_number"], r["raw_record"], r["reason"]) for r in quarantined)

    assert outputs(tmp_path / "split") == outputs(tmp_path / "whole")
    rows, quarantined = outputs(tmp_path / "split")
    assert next(r for r in rows if r["license"] == "LIC0000005")["quantity"] == 9  # the later line won
    assert [number for number, _, _ in quarantined] == [len(lines), len(lines) + 1]  # the header is line 1


def _content_hash(root: Path) -> str:
    return hashlib.sha256(repr(stage_rows(root)).encode()).hexdigest()


def _daily_extracts(settings: Settings, lake: Lake, count: int) -> list[tuple[Path, int]]:
    """The generator's nightly extracts of the last ``count`` days with orders before the end date."""
    customers = generator.build_customers(settings.seed, settings.scale, settings.end_date)
    calendar = generator.build_calendar(settings.seed, settings.scale, settings.end_date, customers)
    extracts = []
    day = settings.end_date
    while len(extracts) < count:
        day -= timedelta(days=1)
        if rows := generator.day_rows(settings.seed, customers, calendar, day):
            uri = generator.raw_uri(lake, start_of_day(day + timedelta(days=1)))
            lake.write_bytes(uri, generator.render_csv(rows))
            extracts.append((Path(uri), len(rows)))
    return extracts


def test_generated_extracts_rerun_identically_through_the_glue_entry_point(
    spark, settings: Settings, lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    extracts = _daily_extracts(settings, lake, 3)
    argv = ["--JOB_NAME", "c360-stage-retail", "--lake", lake.root, "--enable-metrics", "true"]

    job.main(argv)
    first = json.loads(capsys.readouterr().out)
    before = _content_hash(Path(lake.root))
    job.main(argv)
    assert json.loads(capsys.readouterr().out)["raw_rows"] == 0  # no new extract: nothing to stage
    job.main([*argv, "--full_refresh", "true"])
    second = json.loads(capsys.readouterr().out)

    assert (
        first["raw_rows"] == first["stage_rows"] == sum(count for _, count in extracts) and first["balanced"]
    )
    assert first["batch_id"] == second["batch_id"] and _content_hash(Path(lake.root)) == before
    rows = stage_rows(Path(lake.root))
    assert not any(r["is_date_key_mismatch"] for r in rows)
    # Row IDs continue across the daily extracts; License stays the key.
    assert len({r["row_id"] for r in rows}) == len({r["license"] for r in rows}) == len(rows)


@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"reference data not found at {REFERENCE}")
def test_real_saas_sales_export(spark, tmp_path: Path) -> None:
    folder = tmp_path / "raw" / "retail_orders" / "ingest_date=2025-01-01"
    folder.mkdir(parents=True)
    shutil.copy(REFERENCE, folder / "retail_orders_20250101T000000Z.csv")
    with REFERENCE.open(encoding="utf-8-sig", newline="") as handle:
        source = list(csv.DictReader(handle))
    mismatches = sum(
        1
        for r in source
        if "{2}{0:0>2}{1:0>2}".format(*r["Order Date"].split("/")) != r["Date Key"]  # M/D/YYYY vs YYYYMMDD
    )
    months = {"{2}-{0:0>2}".format(*r["Order Date"].split("/")) for r in source}

    record = run_job(spark, tmp_path)

    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        len(source),
        9994,
        0,
        0,
    )
    rows = stage_rows(tmp_path)
    assert sum(r["is_date_key_mismatch"] for r in rows) == mismatches == 26
    assert sum(r["sales"] for r in rows) == sum(Decimal(r["Sales"]) for r in source)
    assert sum(r["profit"] for r in rows) == sum(Decimal(r["Profit"]) for r in source)
    assert {r["order_month"] for r in rows} == months
    assert len({r["license"] for r in rows}) == len(rows)
