"""The SparkSession a job runs in: Glue's when inside AWS Glue, otherwise the active or a new plain session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

JOB_CONF = {
    # Behaviour the jobs rely on, set at run time so that Glue, EMR and local sessions agree.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "snappy",
}


def in_glue() -> bool:
    try:
        import awsglue  # noqa: F401  (only importable inside AWS Glue)
    except ImportError:
        return False
    return True


def get_session(app_name: str) -> SparkSession:
    if in_glue():  # pragma: no cover - exercised on AWS Glue only
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext

        spark = GlueContext(SparkContext.getOrCreate()).spark_session
    else:
        spark = SparkSession.builder.appName(app_name).getOrCreate()
    configure(spark)
    return spark


def configure(spark: SparkSession) -> None:
    for key, value in JOB_CONF.items():
        spark.conf.set(key, value)


SMALL_INPUT_BYTES = 16 * 1024 * 1024
"""A batch that reads less than this (raw files plus the stage rows it merges with) is small: see
:data:`SMALL_INPUT_CONF`."""
SMALL_INPUT_CONF = {
    # Adaptive execution plans every shuffle as a query stage of its own, a Spark job each, and optimizes the plan
    # again after each one; whole-stage code generation compiles Java for every new plan. Both pay off on large
    # inputs and cost more than they save on a few megabytes: the small jobs of a full scale-1 stage, the mainframe
    # extracts most (BENCHMARKS.md, fifteenth session). A day's batches gain nothing measurable: their cost is the
    # JVM's warm-up.
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    # Without adaptive execution nothing coalesces the shuffle partitions (200 by default, as on Glue).
    "spark.sql.shuffle.partitions": "4",
}


@contextmanager
def sized_for(spark: SparkSession, input_bytes: int) -> Iterator[None]:
    """Run the block with :data:`SMALL_INPUT_CONF` when ``input_bytes`` is below :data:`SMALL_INPUT_BYTES`, and
    restore the session's settings after it (as they were, set or not); otherwise leave them as they are.
    What a job computes does not change, only how Spark plans it."""
    if input_bytes >= SMALL_INPUT_BYTES:
        yield
        return
    previous = {key: spark.conf.get(key, None) for key in SMALL_INPUT_CONF}
    for key, value in SMALL_INPUT_CONF.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
