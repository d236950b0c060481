"""The CRM stage job on small, hand-written inputs: typing, quarantine reasons, deduplication, reconciliation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spark_jobs import stage_crm_customers as job
from spark_jobs.common.args import JobArgumentError, parse_job_args
from spark_jobs.common.quality import AuditRecord, ReconciliationError, reconcile

pytestmark = pytest.mark.spark


def good(client_id: int, updated_at: str = "2024-12-01T00:00:00Z", **changes: object) -> dict:
    record = {
        "client_id": client_id,
        "first_name": " Ann ",
        "last_name": "Lee",
        "email": "Ann.Lee@Example.com",
        "phone": "+1-200-200-2000",
        "street_address": "1 Main St",
        "city": "Springfield",
        "birth_date": "1980-05-17",
        "age": 44,
        "gender": "F",
        "home_ownership": "O",
        "occupation": "Teacher",
        "marital_status": "M",
        "head_of_household_flag": "Y",
        "income_band": "50k_100k",
        "cars_owned": 2,
        "client_created_date": "2016-03-01T09:30:00Z",
        "updated_at": updated_at,
    }
    record.update(changes)
    return record


def write(tmp_path: Path, name: str, lines: list[str]) -> None:
    path = tmp_path / "raw" / "crm" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape"))


def run_job(spark, tmp_path: Path) -> AuditRecord:
    return job.run(spark, str(tmp_path / "raw"), str(tmp_path / "stage"), str(tmp_path / "logs"))


def quarantine(tmp_path: Path) -> list[dict]:
    return pq.read_table(tmp_path / "stage" / "_quarantine" / "crm_customers").to_pylist()


def stage_rows(tmp_path: Path) -> list[dict]:
    return pq.read_table(tmp_path / "stage" / "crm_customers").sort_by("client_id").to_pylist()


BAD_CASES = {
    "empty": ("", "empty line"),
    "truncated": (json.dumps(good(90))[:40], "not a JSON object"),
    "array": ("[1, 2, 3]", "not a JSON object"),
    "python_repr": (str({"client_id": 91}), "not a JSON object"),
    "wrong_type": (json.dumps(good(92, cars_owned="two")), "cars_owned is not a non-negative integer"),
    "bad_id": (json.dumps(good(0)), "client_id missing or not a positive integer"),
    "missing_id": (json.dumps({k: v for k, v in good(93).items() if k != "client_id"}), "client_id missing"),
    "bad_date": (json.dumps(good(94, birth_date="1980-02-30")), "birth_date is not a valid YYYY-MM-DD date"),
    "unknown_code": (json.dumps(good(95, marital_status="X")), "unknown marital_status code"),
    "bad_timestamp": (
        json.dumps(good(96, updated_at="yesterday")),
        "updated_at missing or not an ISO timestamp",
    ),
}


def test_bad_records_are_quarantined_with_reason_file_and_line(spark, tmp_path: Path) -> None:
    lines = [json.dumps(good(1)), *[text for text, _ in BAD_CASES.values()], json.dumps(good(2))]
    write(tmp_path, "crm_20241201T000000Z.jsonl", lines)
    record = run_job(spark, tmp_path)
    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        len(lines),
        2,
        len(BAD_CASES),
        0,
    )
    rows = {r["_line_number"]: r for r in quarantine(tmp_path)}
    for line_number, (name, (text, reason)) in enumerate(BAD_CASES.items(), start=2):
        assert reason in rows[line_number]["reason"], name
        assert rows[line_number]["raw_record"] == text, name
        assert rows[line_number]["_source_file"].endswith("crm_20241201T000000Z.jsonl")
    assert [r["client_id"] for r in stage_rows(tmp_path)] == [1, 2]


def test_invalid_utf8_is_quarantined(spark, tmp_path: Path) -> None:
    write(
        tmp_path,
        "crm_20241201T000000Z.jsonl",
        [json.dumps(good(1)), '{"client_id": 2, "city": "Br\udcfcnn"}'],
    )
    record = run_job(spark, tmp_path)
    assert record.quarantined_rows == 1
    assert "invalid utf-8 bytes" in quarantine(tmp_path)[0]["reason"]


def test_values_are_typed_trimmed_and_codes_normalized(spark, tmp_path: Path) -> None:
    write(tmp_path, "crm_20241201T000000Z.jsonl", [json.dumps(good(7, gender=" m ", home_ownership="rent"))])
    run_job(spark, tmp_path)
    (row,) = stage_rows(tmp_path)
    assert row["first_name"] == "Ann" and row["email"] == "ann.lee@example.com"
    assert (row["gender"], row["home_ownership"], row["marital_status"]) == ("male", "rent", "married")
    assert row["is_head_of_household"] is True and row["cars_owned"] == 2
    assert str(row["birth_date"]) == "1980-05-17"
    assert row["_batch_id"].startswith("crm_customers-") and row["_ingested_at"].year == 2024
    schema = pq.read_schema(next((tmp_path / "stage" / "crm_customers").glob("*.parquet")))
    assert [f.name for f in schema] == [f.name for f in job.STAGE_SCHEMA.fields]


def test_dedup_keeps_the_latest_update_and_is_deterministic_on_ties(spark, tmp_path: Path) -> None:
    write(
        tmp_path,
        "crm_20241201T000000Z.jsonl",
        [
            json.dumps(good(1, "2024-11-01T00:00:00Z", city="Old")),
            json.dumps(good(2, "2024-11-05T00:00:00Z", city="Tie-early-file")),
        ],
    )
    write(
        tmp_path,
        "crm_20241231T000000Z.jsonl",
        [
            json.dumps(good(1, "2024-12-20T00:00:00Z", city="New")),
            json.dumps(good(1, "2024-10-01T00:00:00Z", city="Older-but-later-file")),
            json.dumps(good(2, "2024-11-05T00:00:00Z", city="Tie-late-file")),
        ],
    )
    record = run_job(spark, tmp_path)
    assert (record.stage_rows, record.deduplicated_rows) == (2, 3)
    cities = {r["client_id"]: r["city"] for r in stage_rows(tmp_path)}
    assert cities == {1: "New", 2: "Tie-late-file"}


def _content_hash(folder: Path) -> str:
    rows = pq.read_table(folder).sort_by("client_id").to_pylist()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_rerun_gives_the_same_content_and_replaces_the_output(spark, tmp_path: Path) -> None:
    write(tmp_path, "crm_20241201T000000Z.jsonl", [json.dumps(good(i)) for i in range(1, 20)])
    first = run_job(spark, tmp_path)
    before = _content_hash(tmp_path / "stage" / "crm_customers")
    assert run_job(spark, tmp_path).raw_rows == 0  # no new extract: nothing to stage
    second = job.run(spark, str(tmp_path / "raw"), str(tmp_path / "stage"), str(tmp_path / "logs"), True)
    assert first.batch_id == second.batch_id and second.raw_rows == first.raw_rows == 19
    assert _content_hash(tmp_path / "stage" / "crm_customers") == before
    assert len(list((tmp_path / "stage" / "crm_customers").glob("*.parquet"))) == 1
    assert not (tmp_path / "stage" / "crm_customers.old").exists()


def test_audit_record_is_written_and_unbalanced_counts_fail_loudly(spark, tmp_path: Path) -> None:
    write(tmp_path, "crm_20241201T000000Z.jsonl", [json.dumps(good(1)), "oops"])
    record = run_job(spark, tmp_path)
    latest = json.loads((tmp_path / "logs" / "audit" / "crm_customers" / "latest.json").read_text())
    assert latest["batch_id"] == record.batch_id and latest["balanced"] is True
    assert latest["raw_rows"] == 2 and latest["quarantined_rows"] == 1
    broken = AuditRecord(
        source="x", batch_id="b", raw_rows=5, stage_rows=3, quarantined_rows=1, deduplicated_rows=0
    )
    with pytest.raises(ReconciliationError, match="raw 5 != stage 3 \\+ quarantined 1 \\+ deduplicated 0"):
        reconcile(broken)


def test_empty_input_produces_an_empty_typed_table(spark, tmp_path: Path) -> None:
    write(tmp_path, "crm_20241201T000000Z.jsonl", [])
    record = run_job(spark, tmp_path)
    assert (record.raw_rows, record.stage_rows) == (0, 0)
    assert pq.read_table(tmp_path / "stage" / "crm_customers").num_rows == 0


def test_glue_style_entry_point(spark, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "crm_20241201T000000Z.jsonl", [json.dumps(good(1)), json.dumps(good(2))])
    job.main(
        [
            "--JOB_NAME",
            "c360-stage-crm",
            "--lake",
            str(tmp_path),
            "--TempDir",
            "s3://tmp/",
            "--enable-metrics",
            "true",
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["stage_rows"] == 2 and printed["balanced"] is True


def test_job_arguments_accept_glue_and_spark_submit_forms() -> None:
    args = parse_job_args(["script.py", "--JOB_NAME", "j", "--lake=s3://b/p", "--flag"], required=["lake"])
    assert args == {"JOB_NAME": "j", "lake": "s3://b/p", "flag": "true"}
    with pytest.raises(JobArgumentError, match="--lake"):
        parse_job_args(["--JOB_NAME", "j"], required=["lake"])
