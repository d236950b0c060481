"""Stage job: CRM customers, raw JSON Lines -> typed, validated, deduplicated Parquet.

Glue:  --lake s3://bucket-prefix   (or --raw_uri/--stage_uri/--logs_uri for separate buckets)
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_crm_customers --lake ./lake``

Output ``<stage>/crm_customers/``: the latest state of every client (the record with the latest ``updated_at``;
ties broken by the later load, then the later file and line, so the choice is deterministic). Codes are normalized
to documented English values. Bad records go to ``<stage>/_quarantine/crm_customers/`` with their reason.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.args import FULL_REFRESH_ARG, is_true, parse_job_args
from spark_jobs.common.json_lines import (
    has_lone_surrogate_escape,
    has_repeated_key,
    holds_object_or_array,
    is_one_json_object,
)
from spark_jobs.common.quality import AuditRecord, first_failure
from spark_jobs.common.runner import LineSource, lake_uris, stage_line_source
from spark_jobs.common.session import get_session

SOURCE = "crm_customers"
RAW_PREFIX = "crm"

# Every field is read as a string first: typing happens below, so a wrong type is a quarantined record with a
# reason rather than a silent null.
RAW_FIELDS = [
    "client_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street_address",
    "city",
    "birth_date",
    "age",
    "gender",
    "home_ownership",
    "occupation",
    "marital_status",
    "head_of_household_flag",
    "income_band",
    "cars_owned",
    "client_created_date",
    "updated_at",
]
TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "street_address", "city", "occupation")
"""Free-text fields: any scalar is taken as text, but an object or an array is a wrong type."""
CORRUPT = "_corrupt_record"
RAW_SCHEMA = T.StructType([T.StructField(name, T.StringType(), True) for name in [*RAW_FIELDS, CORRUPT]])
JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT, "allowSingleQuotes": "false"}

GENDER = {"F": "female", "M": "male"}
HOME_OWNERSHIP = {"O": "own", "R": "rent", "U": "unknown"}
MARITAL_STATUS = {"S": "single", "M": "married", "D": "divorced", "W": "widowed"}
HEAD_OF_HOUSEHOLD = {"Y": True, "N": False}
INCOME_BANDS = ["under_25k", "25k_50k", "50k_100k", "100k_200k", "200k_plus"]

STAGE_SCHEMA = T.StructType(
    [
        T.StructField("client_id", T.LongType(), False),
        T.StructField("first_name", T.StringType(), True),
        T.StructField("last_name", T.StringType(), True),
        T.StructField("email", T.StringType(), True),
        T.StructField("phone", T.StringType(), True),
        T.StructField("street_address", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("birth_date", T.DateType(), True),
        T.StructField("gender", T.StringType(), True),
        T.StructField("home_ownership", T.StringType(), True),
        T.StructField("occupation", T.StringType(), True),
        T.StructField("marital_status", T.StringType(), True),
        T.StructField("is_head_of_household", T.BooleanType(), True),
        T.StructField("income_band", T.StringType(), True),
        T.StructField("cars_owned", T.IntegerType(), True),
        T.StructField("client_created_at", T.TimestampType(), True),
        T.StructField("updated_at", T.TimestampType(), False),
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_ingested_at", T.TimestampType(), True),
        T.StructField("_batch_id", T.StringType(), False),
    ]
)

_STAMP = re.compile(r"(\d{8}T\d{6}Z)")
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_INT = r"^-?\d+$"


def _code(column: str, mapping: dict[str, object]) -> Column:
    """Map a code (trimmed, case-insensitive) or its English value to the English value; null if unknown."""
    key = F.upper(F.trim(F.col(column)))
    expr = None
    for code, value in mapping.items():
        match = key.isin(code.upper(), str(value).upper())
        expr = F.when(match, F.lit(value)) if expr is None else expr.when(match, F.lit(value))
    return expr


def _trimmed(column: str) -> Column:
    value = F.trim(F.col(column))
    return F.when(value == "", F.lit(None)).otherwise(value)


def ingested_at_from_path(column: Column) -> Column:
    """The extract time written in a raw file name (``..._20241231T000000Z.jsonl``), as a timestamp."""
    stamp = F.regexp_extract(column, _STAMP.pattern, 1)
    return F.when(stamp == "", F.lit(None).cast("timestamp")).otherwise(
        F.to_timestamp(stamp, "yyyyMMdd'T'HHmmss'Z'")
    )


def parse(lines: DataFrame, batch_id: str) -> tuple[DataFrame, DataFrame]:
    """Split raw lines into typed candidate rows and quarantined rows (with ``reason``)."""
    text = F.trim(F.col("raw_record"))
    parsed = lines.withColumn("j", F.from_json(F.col("raw_record"), RAW_SCHEMA, JSON_OPTIONS))
    # A line is a JSON object iff the text is braced, the parser did not flag it as corrupt (PERMISSIVE mode
    # puts malformed text in the corrupt-record field instead of failing) and nothing follows the object (the
    # parser stops after the first value: two records glued on one line would stage as the first alone).
    is_object = (
        text.startswith("{")
        & text.endswith("}")
        & F.col("j").isNotNull()
        & F.col(f"j.{CORRUPT}").isNull()
        & is_one_json_object(F.col("raw_record"))
    )
    fields = {name: F.trim(F.col(f"j.{name}")) for name in RAW_FIELDS}
    typed = parsed.select(
        "_source_file",
        "_line_number",
        "raw_record",
        is_object.alias("_is_object"),
        has_repeated_key(F.col("raw_record")).alias("_has_repeated_key"),
        F.array(
            *[F.when(holds_object_or_array(F.col("raw_record"), name), F.lit(name)) for name in TEXT_FIELDS]
        ).alias("_not_text"),
        *[fields[name].alias(f"raw_{name}") for name in RAW_FIELDS],
    )
    typed = typed.select(
        "*",
        F.when(F.col("raw_client_id").rlike(_INT), F.col("raw_client_id").cast("long")).alias("client_id"),
        F.when(F.col("raw_birth_date").rlike(_DATE), F.to_date("raw_birth_date", "yyyy-MM-dd")).alias(
            "birth_date"
        ),
        _code("raw_gender", GENDER).alias("gender"),
        _code("raw_home_ownership", HOME_OWNERSHIP).alias("home_ownership"),
        _code("raw_marital_status", MARITAL_STATUS).alias("marital_status"),
        _code("raw_head_of_household_flag", HEAD_OF_HOUSEHOLD).cast("boolean").alias("is_head_of_household"),
        F.when(F.lower(F.col("raw_income_band")).isin(INCOME_BANDS), F.lower(F.col("raw_income_band"))).alias(
            "income_band"
        ),
        F.when(F.col("raw_cars_owned").rlike(_INT), F.col("raw_cars_owned").cast("int")).alias("cars_owned"),
        F.col("raw_client_created_date").cast("timestamp").alias("client_created_at"),
        F.col("raw_updated_at").cast("timestamp").alias("updated_at"),
    )

    def bad_code(raw: str, typed_col: str) -> Column:
        return F.col(raw).isNotNull() & F.col(typed_col).isNull()

    reason = first_failure(
        [
            (~F.col("_is_object"), "not a JSON object (malformed JSON, an array or a scalar)"),
            (
                F.col("_is_object") & (F.col("client_id").isNull() | (F.col("client_id") <= 0)),
                "client_id missing or not a positive integer",
            ),
            (
                F.col("_is_object") & has_lone_surrogate_escape(F.col("raw_record")),
                "a \\u escape is a lone UTF-16 surrogate, not a character",
            ),
            (
                F.col("_is_object") & F.col("_has_repeated_key"),
                "a key appears more than once in the object (ambiguous record)",
            ),
            *[
                (
                    F.col("_is_object") & F.array_contains(F.col("_not_text"), name),
                    f"{name} is not a text value (an object or an array)",
                )
                for name in TEXT_FIELDS
            ],
            (
                F.col("_is_object") & F.col("updated_at").isNull(),
                "updated_at missing or not an ISO timestamp",
            ),
            (
                F.col("_is_object") & bad_code("raw_birth_date", "birth_date"),
                "birth_date is not a valid YYYY-MM-DD date",
            ),
            (F.col("_is_object") & bad_code("raw_gender", "gender"), "unknown gender code"),
            (
                F.col("_is_object") & bad_code("raw_home_ownership", "home_ownership"),
                "unknown home_ownership code",
            ),
            (
                F.col("_is_object") & bad_code("raw_marital_status", "marital_status"),
                "unknown marital_status code",
            ),
            (
                F.col("_is_object") & bad_code("raw_head_of_household_flag", "is_head_of_household"),
                "unknown head_of_household_flag (expected Y or N)",
            ),
            (F.col("_is_object") & bad_code("raw_income_band", "income_band"), "unknown income_band"),
            (
                F.col("_is_object") & (bad_code("raw_cars_owned", "cars_owned") | (F.col("cars_owned") < 0)),
                "cars_owned is not a non-negative integer",
            ),
            (
                F.col("_is_object") & bad_code("raw_client_created_date", "client_created_at"),
                "client_created_date is not an ISO timestamp",
            ),
        ]
    )
    checked = typed.withColumn("reason", F.when(reason != "", reason))
    good = checked.where(F.col("reason").isNull()).select(
        "client_id",
        _trimmed("raw_first_name").alias("first_name"),
        _trimmed("raw_last_name").alias("last_name"),
        F.lower(_trimmed("raw_email")).alias("email"),
        _trimmed("raw_phone").alias("phone"),
        _trimmed("raw_street_address").alias("street_address"),
        _trimmed("raw_city").alias("city"),
        "birth_date",
        "gender",
        "home_ownership",
        _trimmed("raw_occupation").alias("occupation"),
        "marital_status",
        "is_head_of_household",
        "income_band",
        "cars_owned",
        "client_created_at",
        "updated_at",
        "_source_file",
        ingested_at_from_path(F.col("_source_file")).alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
        "_line_number",
    )
    bad = checked.where(F.col("reason").isNotNull())
    return good, bad


def latest_per_client(good: DataFrame) -> DataFrame:
    """Keep one row per client_id: the latest ``updated_at``, then the latest load, file and line (deterministic)."""
    order = Window.partitionBy("client_id").orderBy(
        F.col("updated_at").desc(),
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_source_file").desc(),
        F.col("_line_number").desc(),
    )
    ranked = good.withColumn("_rank", F.row_number().over(order))
    return ranked.where(F.col("_rank") == 1).select([f.name for f in STAGE_SCHEMA.fields])


SPEC = LineSource(
    name=SOURCE,
    raw_prefix=RAW_PREFIX,
    suffixes=(".jsonl", ".json"),
    parse=parse,
    schema=STAGE_SCHEMA,
    dedupe=latest_per_client,
    sort_by=("client_id",),
    incremental=True,
)


def run(
    spark: SparkSession, raw_uri: str, stage_uri: str, logs_uri: str, full_refresh: bool = False
) -> AuditRecord:
    """Stage the CRM extracts under ``raw_uri`` that are new since the last run (every one with ``full_refresh``):
    merge them into the stage table by client, write quarantine and audit records."""
    return stage_line_source(spark, SPEC, raw_uri, stage_uri, logs_uri, full_refresh=full_refresh)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_job_args(argv if argv is not None else sys.argv[1:], required=[], optional=FULL_REFRESH_ARG)
    raw, stage, logs = lake_uris(args)
    spark = get_session(f"c360-stage-{SOURCE}")
    print(run(spark, raw, stage, logs, is_true(args["full_refresh"])).to_json())


if __name__ == "__main__":
    main()
