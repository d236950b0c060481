"""The shared line-source runner: the counts of a batch come from one Spark action over cached frames, a batch
without bad lines writes no quarantine, and the cached frames are released once the batch is published."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common import runner
from spark_jobs.common.quality import QUARANTINE_COLUMNS, RAW_LINE_SCHEMA

pytestmark = pytest.mark.spark

SCHEMA = T.StructType(
    [
        T.StructField("key", T.LongType(), False),
        T.StructField("value", T.LongType(), True),
        T.StructField("_source_file", T.StringType(), False),
    ]
)


def parse(lines: DataFrame, batch_id: str) -> tuple[DataFrame, DataFrame]:
    """``key,value`` lines of digits; anything else is bad."""
    valid = F.col("raw_record").rlike(r"^\d+,\d+$")
    parts = F.split("raw_record", ",")
    good = lines.where(valid).select(
        parts.getItem(0).cast("long").alias("key"),
        parts.getItem(1).cast("long").alias("value"),
        "_source_file",
        "_line_number",
    )
    bad = lines.where(~valid).withColumn("reason", F.lit("not key,value"))
    return good, bad


def highest_value(good: DataFrame) -> DataFrame:
    return good.groupBy("key").agg(F.max("value").alias("value"), F.max("_source_file").alias("_source_file"))


SPEC = runner.LineSource("numbers", "numbers", (".csv",), parse, SCHEMA, dedupe=highest_value)


def lines(spark, texts: list[str | None], errors: dict[int, str] | None = None) -> DataFrame:
    errors = errors or {}
    data = [("f.csv", i, text, errors.get(i)) for i, text in enumerate(texts, start=1)]
    return spark.createDataFrame(data, RAW_LINE_SCHEMA)


def test_count_rows_counts_each_frame_of_one_union(spark) -> None:
    numbers = spark.range(10)
    assert runner.count_rows(numbers, numbers.where("id < 3"), numbers.where("id < 0"), spark.range(1)) == [
        10,
        3,
        0,
        1,
    ]
    assert runner.count_rows(spark.range(0)) == [0]


def test_counts_reconcile_and_frames_are_cached_then_released(spark) -> None:
    texts = ["1,5", "1,7", "2,1", "oops", "", "3,3", "bad bytes"]
    outcome = runner.transform(SPEC, lines(spark, texts, {7: "invalid utf-8 bytes"}), "numbers-batch")

    assert (outcome.raw_rows, outcome.stage_rows, outcome.quarantined_rows, outcome.deduplicated_rows) == (
        7,
        3,
        3,
        1,
    )
    assert sorted(tuple(r) for r in outcome.stage.collect()) == [
        (1, 7, "f.csv"),
        (2, 1, "f.csv"),
        (3, 3, "f.csv"),
    ]
    assert sorted((r["_line_number"], r["reason"]) for r in outcome.quarantine.collect()) == [
        (4, "not key,value"),
        (5, "empty line"),
        (7, "invalid utf-8 bytes"),
    ]
    assert outcome.cached and all(frame.is_cached for frame in outcome.cached)
    outcome.unpersist()
    assert not any(frame.is_cached for frame in outcome.cached)


def test_a_batch_without_bad_lines_leaves_no_quarantine(spark, tmp_path: Path) -> None:
    persisted = set(spark.sparkContext._jsc.getPersistentRDDs().keys())
    raw = tmp_path / "raw" / "numbers"
    raw.mkdir(parents=True)
    (raw / "a.csv").write_text("1,5\n1,7\n2,1\n")

    record = runner.stage_line_source(
        spark, SPEC, str(tmp_path / "raw"), str(tmp_path / "stage"), str(tmp_path / "logs")
    )

    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        3,
        2,
        0,
        1,
    )
    # No Spark job writes an empty file: the batch's quarantine folder is not there (as for GA and transactions).
    assert record.quarantine_uri.endswith(f"batch_id={record.batch_id}")
    assert not Path(record.quarantine_uri).exists()
    assert pq.read_table(record.stage_uri).num_rows == 2
    # What an earlier run of the same batch quarantined (a killed run, older code) is removed when it runs again.
    Path(record.quarantine_uri).mkdir(parents=True)
    (Path(record.quarantine_uri) / "part-0.parquet").write_bytes(b"left by an earlier run")
    again = runner.stage_line_source(
        spark, SPEC, str(tmp_path / "raw"), str(tmp_path / "stage"), str(tmp_path / "logs"), full_refresh=True
    )
    assert again.batch_id == record.batch_id and not Path(record.quarantine_uri).exists()
    # A batch with a bad line writes its quarantine, in the quarantine's columns.
    (raw / "b.csv").write_text("3,3\noops\n")
    bad = runner.stage_line_source(
        spark, SPEC, str(tmp_path / "raw"), str(tmp_path / "stage"), str(tmp_path / "logs")
    )
    quarantine = pq.read_table(bad.quarantine_uri)
    assert bad.quarantined_rows == quarantine.num_rows == 1
    assert quarantine.column_names == [c for c in QUARANTINE_COLUMNS if c != "_batch_id"]
    # Nothing of the batch stays cached in the shared session.
    assert set(spark.sparkContext._jsc.getPersistentRDDs().keys()) <= persisted
