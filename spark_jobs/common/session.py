"""The SparkSession a job runs in: Glue's when inside AWS Glue, otherwise the active or a new plain session."""

from __future__ import annotations

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
