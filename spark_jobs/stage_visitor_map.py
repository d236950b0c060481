"""Stage job: the web visitor map, raw CSV snapshots -> the current visitor-to-client links as Parquet.

Glue:  --lake s3://bucket-prefix   (or --raw_uri/--stage_uri/--logs_uri for separate buckets)
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_visitor_map --lake ./lake``

Input ``raw/visitor_map/ingest_date=D/visitor_map_<stamp>.csv``: the header ``fullVisitorId,client_id``, then one
link per line. A file whose header is wrong (missing, renamed or extra column, or no header at all) is
quarantined whole, every line with the reason "unexpected header ...", and is not a snapshot.

Output ``<stage>/visitor_map/`` (not partitioned: the map is not dated), one row per (visitor, client) link:

- ``full_visitor_id`` stays a string: 8.5 % of the ids start with 0, and a number would lose the zeros and the join
  to GA. It must be 1-25 digits; ``client_id`` a positive integer.
- A visitor linked to several clients (a shared family computer) is kept with every link, flagged
  ``is_ambiguous`` with its ``client_count``: never fanned out silently, never dropped. Downstream takes only the
  unambiguous rows (``where not is_ambiguous``).

Latest-snapshot semantics: every file is a full snapshot of the links as of its extract time, so the stage table
is the rows of the latest file with a valid header (latest by the stamp in its name, then by path). Counting, so
that raw = stage + quarantined + deduplicated holds:

- a repeated line of the latest snapshot (same visitor, same client) is a deduplicated row;
- every valid row of an older snapshot is a deduplicated row too: either it is identical to a row of the latest
  snapshot, or the link has disappeared from the source since (the bank removed it), and the current map no
  longer holds it. Older snapshots stay in the raw zone as the history of the links.

Incremental: a run reads the snapshots delivered since the last one and the snapshot the stage table was taken
from, not every snapshot ever delivered (a year of daily snapshots would be 365 of them), and counts those files;
nothing new, nothing staged. ``--full_refresh true`` reads them all.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.args import FULL_REFRESH_ARG, is_true, parse_job_args
from spark_jobs.common.lineage import ingested_at, load_order
from spark_jobs.common.quality import AuditRecord, first_failure
from spark_jobs.common.runner import (
    LineSource,
    file_headers,
    header_error,
    lake_uris,
    mark_headers,
    stage_prepared_line_source,
)
from spark_jobs.common.session import get_session

SOURCE = "visitor_map"
HEADER = ("fullVisitorId", "client_id")
_VISITOR_ID = r"^\d{1,25}$"
_CLIENT_ID = r"^\d{1,18}$"

STAGE_SCHEMA = T.StructType(
    [
        T.StructField("full_visitor_id", T.StringType(), False),
        T.StructField("client_id", T.LongType(), False),
        T.StructField("is_ambiguous", T.BooleanType(), False),
        T.StructField("client_count", T.IntegerType(), False),
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_ingested_at", T.TimestampType(), True),
        T.StructField("_batch_id", T.StringType(), False),
    ]
)


def latest_snapshot(errors: dict[str, str | None]) -> str | None:
    """The file the stage table is taken from: the latest one whose header is right (None if there is none)."""
    valid = [uri for uri, error in errors.items() if error is None]
    return max(valid, key=load_order) if valid else None


def prepare(lines: DataFrame) -> DataFrame:
    """Check every file's header (dropping the valid header lines) and mark the lines of the latest snapshot."""
    errors = {uri: header_error(text, HEADER) for uri, text in file_headers(lines).items()}
    latest = latest_snapshot(errors)
    return mark_headers(lines, errors).withColumn(
        "_is_latest_snapshot", F.col("_source_file") == F.lit(latest or "")
    )


def parse(lines: DataFrame, batch_id: str) -> tuple[DataFrame, DataFrame]:
    """Split the data lines into typed links and quarantined lines (with ``reason``)."""
    fields = F.split(F.col("raw_record"), ",", -1)
    visitor = F.trim(fields.getItem(0))
    client = F.trim(fields.getItem(1))
    typed = lines.select(
        "*",
        F.size(fields).alias("_fields"),
        visitor.alias("full_visitor_id"),
        F.when(client.rlike(_CLIENT_ID), client.cast("long")).alias("client_id"),
    )
    field_checks = first_failure(
        [
            (~F.col("full_visitor_id").rlike(_VISITOR_ID), "fullVisitorId is not a string of 1-25 digits"),
            (
                F.col("client_id").isNull() | (F.col("client_id") <= 0),
                "client_id missing or not a positive integer",
            ),
        ]
    )
    # One reason per line: a wrong header explains every line of its file, a wrong field count every field.
    checked = typed.withColumn(
        "reason",
        F.coalesce(
            F.col("_header_error"),
            F.when(
                F.col("_fields") != len(HEADER),
                F.format_string("expected %d fields, got %d", F.lit(len(HEADER)), F.col("_fields")),
            ),
            F.when(field_checks != "", field_checks),
        ),
    )
    good = checked.where(F.col("reason").isNull()).select(
        "full_visitor_id",
        "client_id",
        "_is_latest_snapshot",
        "_source_file",
        ingested_at(F.col("_source_file")).alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
        "_line_number",
    )
    return good, checked.where(F.col("reason").isNotNull())


def current_links(good: DataFrame) -> DataFrame:
    """The latest snapshot's links, one row per (visitor, client) (the last line of a repeated link), each
    visitor flagged when it is linked to more than one client."""
    latest = good.where(F.col("_is_latest_snapshot"))
    repeat = Window.partitionBy("full_visitor_id", "client_id").orderBy(F.col("_line_number").desc())
    links = latest.withColumn("_rank", F.row_number().over(repeat)).where(F.col("_rank") == 1)
    clients = links.groupBy("full_visitor_id").agg(F.count("*").cast("int").alias("client_count"))
    return (
        links.join(clients, "full_visitor_id")
        .withColumn("is_ambiguous", F.col("client_count") > 1)
        .select([f.name for f in STAGE_SCHEMA.fields])
    )


SPEC = LineSource(
    name=SOURCE,
    raw_prefix=SOURCE,
    suffixes=(".csv",),
    parse=parse,
    schema=STAGE_SCHEMA,
    dedupe=current_links,
    sort_by=("full_visitor_id", "client_id"),
    incremental=True,
    snapshots=True,
)


def run(
    spark: SparkSession, raw_uri: str, stage_uri: str, logs_uri: str, full_refresh: bool = False
) -> AuditRecord:
    """Stage the latest visitor map snapshot under ``raw_uri`` (from the new files and the current one, or every
    file with ``full_refresh``); quarantine, reconcile and audit the files read."""
    return stage_prepared_line_source(spark, SPEC, raw_uri, stage_uri, logs_uri, prepare, full_refresh)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_job_args(argv if argv is not None else sys.argv[1:], required=[], optional=FULL_REFRESH_ARG)
    raw, stage, logs = lake_uris(args)
    spark = get_session(f"c360-stage-{SOURCE}")
    print(run(spark, raw, stage, logs, is_true(args["full_refresh"])).to_json())


if __name__ == "__main__":
    main()
