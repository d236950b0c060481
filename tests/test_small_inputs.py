"""Small batches run without adaptive execution and whole-stage code generation (``sized_for``): the settings hold
for the batch only, and what a job computes is the same either way."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spark_jobs import stage_crm_customers as job
from spark_jobs.common import runner, session
from spark_jobs.common.session import SMALL_INPUT_BYTES, SMALL_INPUT_CONF, sized_for
from tests.test_stage_crm import BAD_CASES, good, write

pytestmark = pytest.mark.spark


def _settings(spark) -> dict[str, str | None]:
    return {key: spark.conf.get(key, None) for key in SMALL_INPUT_CONF}


def test_a_small_input_runs_with_the_small_settings_and_restores_the_session(spark) -> None:
    before = _settings(spark)
    assert before != SMALL_INPUT_CONF  # (the local session adapts and generates code: see c360/spark.py)
    with sized_for(spark, SMALL_INPUT_BYTES - 1):
        assert _settings(spark) == SMALL_INPUT_CONF
    assert _settings(spark) == before
    with pytest.raises(RuntimeError), sized_for(spark, 0):
        assert _settings(spark) == SMALL_INPUT_CONF
        raise RuntimeError("a failed batch")
    assert _settings(spark) == before


def test_a_large_input_keeps_the_session_settings(spark) -> None:
    before = _settings(spark)
    with sized_for(spark, SMALL_INPUT_BYTES):
        assert _settings(spark) == before


def test_a_setting_the_session_did_not_have_is_unset_again(spark) -> None:
    key = "spark.sql.codegen.wholeStage"
    spark.conf.unset(key)
    assert spark.conf.get(key, None) is None
    with sized_for(spark, 1):
        assert spark.conf.get(key) == "false"
    assert spark.conf.get(key, None) is None
    assert spark.conf.get(key) == "true"  # Spark's default again


def _stage(spark, root: Path) -> tuple[list[dict], list[dict], tuple[int, ...]]:
    record = job.run(spark, str(root / "raw"), str(root / "stage"), str(root / "logs"))
    rows = pq.read_table(root / "stage" / "crm_customers").sort_by("client_id").to_pylist()
    for row in rows:  # (the two batches' files lie in different folders)
        row["_source_file"] = row["_source_file"].replace(str(root), "<root>")
    quarantined = (
        pq.read_table(root / "stage" / "_quarantine" / "crm_customers")
        .sort_by([("_source_file", "ascending"), ("_line_number", "ascending")])
        .drop_columns(["_source_file"])
        .to_pylist()
    )
    counts = (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows)
    return rows, quarantined, counts


def test_a_batch_stages_the_same_rows_with_either_settings(spark, tmp_path: Path, monkeypatch) -> None:
    lines = [
        json.dumps(good(1)),
        *[text for text, _ in BAD_CASES.values()],
        json.dumps(good(2, updated_at="2024-12-01T00:00:00Z")),
        json.dumps(good(2, updated_at="2024-12-02T00:00:00Z", city="Shelbyville")),
    ]
    for name in ("small", "large"):
        write(tmp_path / name, "ingest_date=2024-12-01/crm_20241201T000000Z.jsonl", lines)
    small = _stage(spark, tmp_path / "small")
    monkeypatch.setattr(session, "SMALL_INPUT_BYTES", 0)  # every batch "large": the session's own settings
    large = _stage(spark, tmp_path / "large")
    assert small == large
    rows, quarantined, counts = small
    assert [row["client_id"] for row in rows] == [1, 2] and rows[1]["city"] == "Shelbyville"
    assert len(quarantined) == len(BAD_CASES)
    assert counts == (len(lines), 2, len(BAD_CASES), 1)


def test_a_job_sizes_its_batch_by_the_files_it_reads_and_the_rows_it_merges(
    spark, tmp_path: Path, monkeypatch
) -> None:
    sized: list[int] = []

    def recording(spark, input_bytes: int):
        sized.append(input_bytes)
        return sized_for(spark, input_bytes)

    monkeypatch.setattr(runner, "sized_for", recording)
    first = "ingest_date=2024-12-01/crm_20241201T000000Z.jsonl"
    write(tmp_path, first, [json.dumps(good(1)), json.dumps(good(2))])
    job.run(spark, str(tmp_path / "raw"), str(tmp_path / "stage"), str(tmp_path / "logs"))
    assert sized == [(tmp_path / "raw" / "crm" / first).stat().st_size]
    table = sum(f.stat().st_size for f in (tmp_path / "stage" / "crm_customers").glob("*.parquet"))
    second = "ingest_date=2024-12-02/crm_20241202T000000Z.jsonl"
    write(tmp_path, second, [json.dumps(good(3, updated_at="2024-12-02T00:00:00Z"))])
    job.run(spark, str(tmp_path / "raw"), str(tmp_path / "stage"), str(tmp_path / "logs"))
    assert sized[1] == (tmp_path / "raw" / "crm" / second).stat().st_size + table
