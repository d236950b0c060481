"""Stage job: core banking transactions, PostgreSQL ``sourcemf.public.transactions`` (JDBC) -> typed, validated
Parquet in ``<stage>/transactions/``, partitioned by month (``trans_month=YYYY-MM``), incrementally.

Glue:  --lake s3://bucket-prefix (or --raw_uri/--stage_uri/--logs_uri) and the connection: --connection_name NAME
       (resolved with GlueContext.extract_jdbc_conf), or --jdbc_url URL --db_user USER with the password in the
       environment (C360_PG_PASSWORD) or --db_password. Optional: --num_partitions 4, --max_attempts 3,
       --backoff_seconds 2, --fetch_size 10000, --full_refresh true.
Local: called by ``c360 stage`` with the lake's source database (``c360.services.source_db``).

A batch, like a Glue job bookmark:

1. The bookmark ``<logs>/bookmarks/transactions.json`` says the highest ``trans_id`` already staged (none: 0),
   and the fingerprint of the code that staged it. Other code than this job's now, or ``--full_refresh true``,
   extracts from 0 again: every row goes through the current rules and replaces its staged copy.
2. A min/max/count query over ``trans_id > bookmark`` fixes the batch's range; rows that arrive meanwhile are
   left for the next batch.
3. The range is read in parallel (``partitionColumn=trans_id``, ``lowerBound``/``upperBound`` from step 2,
   ``numPartitions``) into a staging folder. A dropped connection fails the read; it is retried from scratch
   (bounded attempts, doubling backoff), overwriting the staging folder, so nothing is read twice or skipped.
4. Rows are validated (amount >= 0, known type/operation/k_symbol codes, a valid date): bad rows go to
   ``<stage>/_quarantine/transactions/batch_id=<batch>/`` with the row as JSON, the reason, the table and the
   ``trans_id`` (as the line). Codes are translated to their documented English values.
5. Only the months the batch touches are rewritten: their existing rows and the new ones, deduplicated by
   ``trans_id`` (the latest extract wins), are written to staging and each month folder is swapped in on its own.
   ``is_orphan`` (the account is not in ``<stage>/accounts/``) is recomputed for the rows of those months.
6. The audit record is written and checked (raw = extracted rows; stage = rows added to the table; deduplicated =
   rows the table already had; quarantined), then the bookmark moves to the range's end. A run that fails before
   leaves the bookmark alone: the next run extracts the same rows and the merge keeps one copy of each.

SQL text holds only the fixed table name and integers this job computed: never a string from outside.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.args import FULL_REFRESH_ARG, JobArgumentError, is_true, parse_job_args
from spark_jobs.common.code_version import stage_code_fingerprint
from spark_jobs.common.foreign_keys import ForeignKey, flag_orphans, require_parents
from spark_jobs.common.hadoopfs import HadoopFS
from spark_jobs.common.jdbc import JdbcSource, jdbc_source_from_args, read_query, with_retries
from spark_jobs.common.jdbc_bookmark import Bookmark, read_bookmark, write_bookmark
from spark_jobs.common.partitions import restore_replaced, swap_partitions
from spark_jobs.common.pkdd_codes import K_SYMBOL, OPERATION, TRANSACTION_TYPE, blank, translate
from spark_jobs.common.quality import AuditRecord, first_failure, quarantine_frame, reconcile, write_audit
from spark_jobs.common.runner import lake_uris, publish
from spark_jobs.common.session import get_session

SOURCE = "transactions"
TABLE = "public.transactions"
"""The source table: a constant, never taken from arguments."""
KEY = "trans_id"
PARTITION = "trans_month"
SOURCE_COLUMNS = (
    "trans_id",
    "account_id",
    "date",
    "type",
    "operation",
    "amount",
    "balance",
    "k_symbol",
    "bank",
    "account",
)

EXTRACT_SCHEMA = T.StructType(
    [
        T.StructField("trans_id", T.LongType()),
        T.StructField("account_id", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("type", T.StringType()),
        T.StructField("operation", T.StringType()),
        T.StructField("amount", T.DecimalType(12, 2)),
        T.StructField("balance", T.DecimalType(14, 2)),
        T.StructField("k_symbol", T.StringType()),
        T.StructField("bank", T.StringType()),
        T.StructField("account", T.StringType()),
    ]
)
"""The types the source's columns are checked against (:func:`validate` casts them; a value that does not cast
is quarantined). The extract keeps the columns as the source sent them."""

STAGE_SCHEMA = T.StructType(
    [
        T.StructField("trans_id", T.LongType(), False),
        T.StructField("account_id", T.LongType(), False),
        T.StructField("trans_date", T.DateType(), False),
        T.StructField("trans_type", T.StringType(), False),
        T.StructField("operation", T.StringType(), True),
        T.StructField("amount", T.DecimalType(12, 2), False),
        T.StructField("balance", T.DecimalType(14, 2), False),
        T.StructField("k_symbol", T.StringType(), True),
        T.StructField("partner_bank", T.StringType(), True),
        T.StructField("partner_account", T.StringType(), True),
        T.StructField("is_orphan", T.BooleanType(), False),
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_ingested_at", T.TimestampType(), False),
        T.StructField("_batch_id", T.StringType(), False),
        T.StructField(PARTITION, T.StringType(), False),
    ]
)
"""The stage table's columns; ``trans_month`` (``YYYY-MM`` of ``trans_date``) is the partition folder."""
FOREIGN_KEYS = (ForeignKey("account_id", "accounts", "account_id"),)

DEFAULT_PARTITIONS = 4
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 2.0
DEFAULT_FETCH_SIZE = 10_000


@dataclass(frozen=True)
class Bounds:
    """The batch's range of ``trans_id``: ``(after, last]``, holding ``rows`` rows from ``first`` on."""

    after: int
    first: int
    last: int
    rows: int

    @property
    def batch_id(self) -> str:
        """Deterministic: rerunning the same range gives the same id (an empty batch has ``last == after``)."""
        return f"{SOURCE}-{self.after + 1}-{self.last}"


# --- SQL (integers and the table constant only) ------------------------------------------------------------


def _checked_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def bounds_query(after: int) -> str:
    after = _checked_int(after, "after")
    return f"select min(trans_id) as first_id, max(trans_id) as last_id, count(*) as row_count from {TABLE} where trans_id > {after}"


def extract_query(after: int, last: int) -> str:
    after, last = _checked_int(after, "after"), _checked_int(last, "last")
    return f"select {', '.join(SOURCE_COLUMNS)} from {TABLE} where trans_id > {after} and trans_id <= {last}"


# --- I/O: the source database ---------------------------------------------------------------------------------


def read_bounds(spark: SparkSession, source: JdbcSource, after: int) -> Bounds:
    """The range of the next batch: every row after the bookmark that exists now."""
    row = read_query(spark, source, bounds_query(after)).collect()[0]
    count = int(row["row_count"])
    if count == 0:
        return Bounds(after=after, first=after + 1, last=after, rows=0)
    return Bounds(after=after, first=int(row["first_id"]), last=int(row["last_id"]), rows=count)


def extract_batch(
    spark: SparkSession, source: JdbcSource, bounds: Bounds, target: str, num_partitions: int, fetch_size: int
) -> None:
    """Read the batch's range in ``num_partitions`` parallel queries and write it to ``target`` (replacing what a
    failed attempt left there). Repeatable: the same range gives the same rows."""
    options = {
        "partitionColumn": KEY,
        "lowerBound": str(bounds.first),
        "upperBound": str(bounds.last + 1),
        "numPartitions": str(max(1, min(num_partitions, bounds.rows))),
        "fetchsize": str(fetch_size),
    }
    frame = read_query(spark, source, extract_query(bounds.after, bounds.last), options)
    missing = [c for c in SOURCE_COLUMNS if c not in frame.columns]
    if missing:
        raise RuntimeError(
            f"{TABLE} has no column(s) {', '.join(missing)}; expected {', '.join(SOURCE_COLUMNS)}"
        )
    # As the source sent them: the casts and the row's JSON text (for the quarantine) come in validate(), where
    # the JSON is made for the rows that need it only (writing it for every row doubled the extract's time)
    frame.select(*SOURCE_COLUMNS).write.mode("overwrite").parquet(target)


# --- transformations (DataFrame in, DataFrame out) ------------------------------------------------------------


def validate(extracted: DataFrame, batch_id: str, ingested_at: datetime, source_file: str) -> DataFrame:
    """Typed stage columns and ``reason`` (null for a good row) for every extracted row (the source's columns, as
    it sent them). ``raw_record`` is the row as the source sent it, as JSON text; Spark computes it only where it
    is used (quarantined rows, the tie-break between copies of a row), never for a frame that drops it."""
    col = {f.name: F.col(f.name).cast(f.dataType) for f in EXTRACT_SCHEMA.fields}
    trans_type = translate(col["type"], TRANSACTION_TYPE)
    operation = translate(col["operation"], OPERATION)
    k_symbol = translate(col["k_symbol"], K_SYMBOL)
    bank = F.upper(F.trim(col["bank"]))
    account = F.trim(col["account"])
    # The source's date as it came, to tell a missing date from one that does not cast.
    raw_date = F.col("date")
    reason = first_failure(
        [
            (
                col["trans_id"].isNull() | (col["trans_id"] <= 0),
                "trans_id missing or not a positive integer",
            ),
            (col["account_id"].isNull(), "account_id missing"),
            (col["date"].isNull() & raw_date.isNull(), "date missing"),
            (col["date"].isNull() & raw_date.isNotNull(), "date is not a valid date"),
            (col["amount"].isNull(), "amount missing or not a number"),
            (col["amount"] < 0, "amount is negative"),
            (col["balance"].isNull(), "balance missing or not a number"),
            (blank(col["type"]), "type missing"),
            (~blank(col["type"]) & trans_type.isNull(), "unknown type code"),
            (~blank(col["operation"]) & operation.isNull(), "unknown operation code"),
            (~blank(col["k_symbol"]) & k_symbol.isNull(), "unknown k_symbol code"),
            ((bank != "") & ~bank.rlike("^[A-Z]{2}$"), "bank is not a two-letter code"),
        ]
    )
    return extracted.select(
        col["trans_id"].alias("trans_id"),
        col["account_id"].alias("account_id"),
        col["date"].alias("trans_date"),
        trans_type.alias("trans_type"),
        operation.alias("operation"),
        col["amount"].alias("amount"),
        col["balance"].alias("balance"),
        k_symbol.alias("k_symbol"),
        F.when(bank != "", bank).alias("partner_bank"),
        F.when(account != "", account).alias("partner_account"),
        F.lit(source_file).alias("_source_file"),
        F.lit(ingested_at).cast(T.TimestampType()).alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
        F.date_format(col["date"], "yyyy-MM").alias(PARTITION),
        F.to_json(F.struct(*[F.col(c) for c in SOURCE_COLUMNS])).alias("raw_record"),
        F.when(reason != "", reason).alias("reason"),
    )


def latest_per_transaction(rows: DataFrame) -> DataFrame:
    """One row per ``trans_id``: the latest extract, then the latest batch (deterministic on ties)."""
    order = Window.partitionBy(KEY).orderBy(
        F.col("_ingested_at").desc(), F.col("_batch_id").desc(), F.col("raw_record").desc_nulls_last()
    )
    return rows.withColumn("_rank", F.row_number().over(order)).where(F.col("_rank") == 1).drop("_rank")


def merge_months(existing: DataFrame | None, new_rows: DataFrame, months: list[str]) -> DataFrame:
    """The rows of ``months`` after the batch: the existing rows the batch does not replace, and the new rows."""
    if existing is None:
        return new_rows
    kept = existing.where(F.col(PARTITION).isin(months)).join(new_rows.select(KEY), KEY, "left_anti")
    return kept.unionByName(new_rows)


# --- the job --------------------------------------------------------------------------------------------------


def run(
    spark: SparkSession,
    raw_uri: str,
    stage_uri: str,
    logs_uri: str,
    jdbc: JdbcSource,
    num_partitions: int = DEFAULT_PARTITIONS,
    max_attempts: int = DEFAULT_ATTEMPTS,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    fetch_size: int = DEFAULT_FETCH_SIZE,
    full_refresh: bool = False,
) -> AuditRecord:
    """Stage the transactions added since the bookmark (all of them with ``full_refresh``, no bookmark, or one
    written by other stage code; ``raw_uri`` is unused: the source is the database)."""
    fs = HadoopFS(spark)
    stage_root = stage_uri.rstrip("/")
    target = f"{stage_root}/{SOURCE}"
    work = f"{stage_root}/_staging/{SOURCE}"
    require_parents(fs, SOURCE, FOREIGN_KEYS, stage_root)
    restore_replaced(fs, f"{work}/_replaced", target)
    fs.delete(work)
    source_file = f"{jdbc.display}#{TABLE}"

    code = stage_code_fingerprint(SOURCE)
    bookmark = None if full_refresh else read_bookmark(fs, logs_uri, SOURCE)
    after = bookmark.last_value if bookmark and bookmark.code == code else 0
    bounds = with_retries(
        lambda _attempt: read_bounds(spark, jdbc, after),
        f"reading the range of {TABLE}",
        max_attempts,
        backoff_seconds,
    )
    batch_id = bounds.batch_id
    quarantine_uri = f"{stage_root}/_quarantine/{SOURCE}/batch_id={batch_id}"
    if bounds.rows == 0:
        record = AuditRecord(SOURCE, batch_id, 0, 0, 0, 0, [source_file], target, quarantine_uri)
        write_audit(fs, logs_uri, record)
        return record

    ingested_at = datetime.now(UTC)

    def extract(attempt: int) -> str:
        uri = f"{work}/{batch_id}/extract/attempt={attempt}"
        extract_batch(spark, jdbc, bounds, uri, num_partitions, fetch_size)
        return uri

    extract_uri = with_retries(
        extract,
        f"extracting {TABLE} trans_id {bounds.first}..{bounds.last}",
        max_attempts,
        backoff_seconds,
    )
    checked = validate(spark.read.parquet(extract_uri), batch_id, ingested_at, source_file)
    # Cached once, without the rows' JSON text: only quarantined rows and the tie-break between duplicates need
    # it, and both are rare, so they make it from the extract. One pass
    # counts the rows per month (the months the batch touches, and what it adds to each); a second one counts
    # the distinct valid keys.
    counted = checked.drop("raw_record").cache()
    by_month = counted.groupBy(PARTITION).agg(F.count(F.lit(1)).alias("rows"), F.count("reason").alias("bad"))
    by_month = by_month.collect()
    raw_rows = sum(int(r["rows"]) for r in by_month)
    quarantined_rows = sum(int(r["bad"]) for r in by_month)
    valid = counted.where(F.col("reason").isNull())
    distinct_good = valid.select(KEY).distinct().count()
    bad = checked.where(F.col("reason").isNotNull()).select(
        F.lit(source_file).alias("_source_file"), F.col(KEY).alias("_line_number"), "raw_record", "reason"
    )
    within_batch_duplicates = raw_rows - quarantined_rows - distinct_good
    # The source's primary key makes duplicates within a batch impossible there; only sort them out when present.
    if within_batch_duplicates:
        new_rows = latest_per_transaction(checked.where(F.col("reason").isNull())).drop("raw_record")
        new_rows = new_rows.drop("reason").cache()
        per_month = {r[PARTITION]: int(r["count"]) for r in new_rows.groupBy(PARTITION).count().collect()}
        counted.unpersist()
        cached = new_rows
    else:
        new_rows = valid.drop("reason")
        per_month = {r[PARTITION]: int(r["rows"]) - int(r["bad"]) for r in by_month if r["rows"] > r["bad"]}
        cached = counted

    existing = spark.read.schema(STAGE_SCHEMA).parquet(target) if fs.exists(target) else None
    replaced_rows, months = 0, set(per_month)
    if existing is not None:
        replaced = (
            existing.where(F.col(KEY).between(bounds.first, bounds.last))
            .select(KEY, PARTITION)
            .join(new_rows.select(KEY), KEY, "left_semi")
            .groupBy(PARTITION)
            .count()
            .collect()
        )
        replaced_rows = sum(int(r["count"]) for r in replaced)
        months |= {r[PARTITION] for r in replaced}
    touched = sorted(months)
    before = existing.where(F.col(PARTITION).isin(touched)).count() if existing is not None and touched else 0

    merged = merge_months(existing, new_rows.withColumn("is_orphan", F.lit(False)), touched)
    merged = flag_orphans(merged.drop("is_orphan"), FOREIGN_KEYS, stage_root)
    # A rerun of the batch replaces its quarantine; a batch without bad rows leaves none (no empty files).
    fs.delete(quarantine_uri)
    if quarantined_rows:
        publish(
            fs,
            quarantine_frame(bad, SOURCE, batch_id).drop("_batch_id"),
            quarantine_uri,
            f"{work}/{batch_id}/quarantine",
            ("_line_number",),
        )
    if touched:
        swap_partitions(
            fs,
            merged.select([f.name for f in STAGE_SCHEMA.fields]),
            target,
            f"{work}/{batch_id}/table",
            f"{work}/_replaced",
            PARTITION,
            touched,
            (KEY,),
        )
    after_rows = 0
    if touched:
        after_rows = (
            spark.read.schema(STAGE_SCHEMA).parquet(target).where(F.col(PARTITION).isin(touched)).count()
        )
    cached.unpersist()

    record = AuditRecord(
        source=SOURCE,
        batch_id=batch_id,
        raw_rows=raw_rows,
        stage_rows=after_rows - before,
        quarantined_rows=quarantined_rows,
        deduplicated_rows=replaced_rows + within_batch_duplicates,
        files=[source_file],
        stage_uri=target,
        quarantine_uri=quarantine_uri,
    )
    write_audit(fs, logs_uri, record)
    reconcile(record)
    write_bookmark(fs, logs_uri, Bookmark(SOURCE, TABLE, KEY, bounds.last, batch_id, code=code))
    fs.delete(work)
    return record


def _int_arg(args: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(args.get(name) or default)
    except ValueError:
        raise JobArgumentError(f"--{name} must be a positive integer, got {args[name]!r}") from None
    if value < 1:
        raise JobArgumentError(f"--{name} must be a positive integer, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_job_args(argv if argv is not None else sys.argv[1:], required=[], optional=FULL_REFRESH_ARG)
    raw, stage, logs = lake_uris(args)
    spark = get_session(f"c360-stage-{SOURCE}")
    jdbc = jdbc_source_from_args(args)
    try:
        backoff = float(args.get("backoff_seconds") or DEFAULT_BACKOFF_SECONDS)
    except ValueError:
        raise JobArgumentError(
            f"--backoff_seconds must be a number, got {args['backoff_seconds']!r}"
        ) from None
    record = run(
        spark,
        raw,
        stage,
        logs,
        jdbc,
        num_partitions=_int_arg(args, "num_partitions", DEFAULT_PARTITIONS),
        max_attempts=_int_arg(args, "max_attempts", DEFAULT_ATTEMPTS),
        backoff_seconds=backoff,
        fetch_size=_int_arg(args, "fetch_size", DEFAULT_FETCH_SIZE),
        full_refresh=is_true(args["full_refresh"]),
    )
    print(record.to_json())


if __name__ == "__main__":
    main()
