"""The visitor map stage job: latest-snapshot semantics, leading zeros, ambiguous visitors, header checks,
quarantine reasons, reconciliation, reruns, and the workshop's real map."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from c360.settings import Settings
from c360.storage import Lake
from ingestion import visitor_map as generator
from spark_jobs import stage_visitor_map as job

pytestmark = pytest.mark.spark

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "workshop_2024" / "visitors"
HEADER = "fullVisitorId,client_id"


def write(root: Path, stamp: str, lines: list[str], header: str | None = HEADER) -> Path:
    path = root / "raw" / "visitor_map" / f"ingest_date={stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    path = path / f"visitor_map_{stamp}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = [header, *lines] if header is not None else lines
    path.write_bytes("".join(line + "\n" for line in text).encode("utf-8", "surrogateescape"))
    return path


def run_job(spark, root: Path):
    return job.run(spark, str(root / "raw"), str(root / "stage"), str(root / "logs"))


def stage_rows(root: Path) -> list[dict]:
    return (
        pq.read_table(root / "stage" / "visitor_map").sort_by([("full_visitor_id", "ascending")]).to_pylist()
    )


def quarantine(root: Path) -> dict[tuple[str, int], dict]:
    rows = pq.read_table(root / "stage" / "_quarantine" / "visitor_map").to_pylist()
    return {(Path(r["_source_file"]).name, r["_line_number"]): r for r in rows}


BAD_LINES = {
    "truncated": ("0000000000000000042", "expected 2 fields, got 1"),
    "extra_field": ("123456789,7,x", "expected 2 fields, got 3"),
    "wrong_type": ("123456789,seven", "client_id missing or not a positive integer"),
    "zero_client": ("123456789,0", "client_id missing or not a positive integer"),
    "bad_visitor": ("12345abc,7", "fullVisitorId is not a string of 1-25 digits"),
    "too_long": ("1" * 26 + ",7", "fullVisitorId is not a string of 1-25 digits"),
    "empty": ("", "empty line"),
    "bad_encoding": ("12\udcff45,7", "invalid utf-8 bytes"),
}


def test_latest_snapshot_flags_ambiguous_visitors_keeps_zeros_and_quarantines(spark, tmp_path: Path) -> None:
    older = write(tmp_path, "20241230T000000Z", ["0000123,5", "777,8", "0042,11"])
    latest_lines = [
        "0000123,5",  # unchanged since the older snapshot
        " 0042 , 11 ",  # trimmed
        "0042,12",  # a second client: ambiguous
        "0042,12",  # an exact duplicate line
        "0987654321098765432,9",
        *[text for text, _ in BAD_LINES.values()],
    ]
    latest = write(tmp_path, "20241231T000000Z", latest_lines)
    # A later file with a wrong header is not a snapshot: quarantined whole, every line with the reason.
    renamed = write(tmp_path, "20250101T000000Z", ["1,1", "2,2"], header="visitor,client_id")
    headless = write(tmp_path, "20250102T000000Z", ["3,3"], header=None)
    empty = write(tmp_path, "20250103T000000Z", [], header=None)

    record = run_job(spark, tmp_path)

    assert empty.stat().st_size == 0
    # raw rows: every line that is not a valid header (the wrong "headers" are rows, quarantined)
    assert record.raw_rows == 3 + len(latest_lines) + 3 + 1
    assert (record.stage_rows, record.quarantined_rows) == (4, len(BAD_LINES) + 3 + 1)
    assert record.deduplicated_rows == 1 + 3  # the duplicate line, and the older snapshot's rows
    assert record.balanced and record.files == [str(p) for p in (older, latest, renamed, headless, empty)]

    rows = stage_rows(tmp_path)
    assert [(r["full_visitor_id"], r["client_id"], r["is_ambiguous"], r["client_count"]) for r in rows] == [
        ("0000123", 5, False, 1),
        ("0042", 11, True, 2),
        ("0042", 12, True, 2),
        ("0987654321098765432", 9, False, 1),
    ]
    assert {r["_source_file"] for r in rows} == {str(latest)}
    assert rows[0]["_ingested_at"].isoformat() == "2024-12-31T00:00:00"

    bad = quarantine(tmp_path)
    first_bad = 2 + len(latest_lines) - len(BAD_LINES)  # line 1 is the header
    for line_number, (name, (text, reason)) in enumerate(BAD_LINES.items(), start=first_bad):
        row = bad[(latest.name, line_number)]
        assert reason in row["reason"], name
        assert row["raw_record"] == text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), name
    for path, lines in ((renamed, ["visitor,client_id", "1,1", "2,2"]), (headless, ["3,3"])):
        for number, text in enumerate(lines, start=1):
            row = bad[(path.name, number)]
            assert row["raw_record"] == text and row["reason"].startswith("unexpected header: expected")

    schema = pq.read_schema(next((tmp_path / "stage" / "visitor_map").glob("*.parquet")))
    assert [(f.name, str(f.type)) for f in schema] == [
        ("full_visitor_id", "string"),
        ("client_id", "int64"),
        ("is_ambiguous", "bool"),
        ("client_count", "int32"),
        ("_source_file", "string"),
        ("_ingested_at", "timestamp[ns]"),
        ("_batch_id", "string"),
    ]


def _content_hash(root: Path) -> str:
    return hashlib.sha256(repr(stage_rows(root)).encode()).hexdigest()


def test_generated_snapshot_reruns_identically_through_the_glue_entry_point(
    spark, settings: Settings, lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    [(uri, count)] = generator.generate(settings, lake)
    lines = Path(uri).read_text().splitlines()[1:]
    pairs = [tuple(line.split(",")) for line in lines]
    clients: dict[str, set[str]] = {}
    for visitor, client in pairs:
        clients.setdefault(visitor, set()).add(client)
    argv = ["--JOB_NAME", "c360-stage-visitor-map", "--lake", lake.root]

    job.main(argv)
    first = json.loads(capsys.readouterr().out)
    before = _content_hash(Path(lake.root))
    job.main(argv)
    assert json.loads(capsys.readouterr().out)["raw_rows"] == 0  # no new snapshot: nothing to stage
    job.main([*argv, "--full_refresh", "true"])
    second = json.loads(capsys.readouterr().out)

    assert first["stage_rows"] == second["stage_rows"] == count == len(set(pairs)) and first["balanced"]
    assert first["batch_id"] == second["batch_id"] and _content_hash(Path(lake.root)) == before
    rows = stage_rows(Path(lake.root))
    assert {r["full_visitor_id"] for r in rows if r["is_ambiguous"]} == {
        v for v, c in clients.items() if len(c) > 1
    }
    assert any(r["full_visitor_id"].startswith("0") for r in rows)  # leading zeros survive
    assert len(list((Path(lake.root) / "stage" / "visitor_map").glob("*.parquet"))) == 1


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}")
def test_workshop_map_with_its_many_to_many_links(spark, tmp_path: Path) -> None:
    source = (REFERENCE / "ga_visitors.csv").read_text().splitlines()  # no header in the original
    write(tmp_path, "20170801T000000Z", source)
    pairs = [tuple(field.strip() for field in line.split(",")) for line in source]
    clients: dict[str, set[str]] = {}
    for visitor, client in pairs:
        clients.setdefault(visitor, set()).add(client)

    record = run_job(spark, tmp_path)

    assert (record.raw_rows, record.stage_rows, record.quarantined_rows) == (201, len(set(pairs)), 0)
    assert record.deduplicated_rows == len(pairs) - len(set(pairs))
    rows = stage_rows(tmp_path)
    assert {r["full_visitor_id"] for r in rows} == set(clients)
    assert sum(1 for v in {r["full_visitor_id"] for r in rows} if v.startswith("0")) == sum(
        1 for v in clients if v.startswith("0")
    )
    ambiguous = {r["full_visitor_id"]: r["client_count"] for r in rows if r["is_ambiguous"]}
    assert ambiguous == {v: len(c) for v, c in clients.items() if len(c) > 1}
