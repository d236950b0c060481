"""Stage job: retail order lines (the SaaS Sales CSV export) -> typed, validated, deduplicated Parquet.

Glue:  --lake s3://bucket-prefix   (or --raw_uri/--stage_uri/--logs_uri for separate buckets)
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_retail_orders --lake ./lake``

Input ``raw/retail_orders/ingest_date=D/retail_orders_<stamp>.csv``: UTF-8 with a byte-order mark, CRLF, comma
separated without quoting, the 19-column header ``Row ID,Order ID,...,Profit`` (checked: a file with another
header is quarantined whole, "unexpected header ..."). Lines are parsed one at a time, so a broken line (a
field too many or too few: "expected 19 fields, got N") never swallows the next.

Output ``<stage>/retail_orders/``, partitioned by ``order_month`` (``YYYY-MM`` of the order date), one row per
order line: the columns in snake_case, ``Customer ID`` as ``client_id`` (the bank client that runs the business),
``Order Date`` (M/D/YYYY) and ``Date Key`` (YYYYMMDD) as dates, and ``is_date_key_mismatch`` flagging the lines
where they disagree (26 lines of the real export): flagged, not quarantined, because the order date is the one
the sample's reports use. Money is ``decimal(12,4)`` (at most 4 decimals, as exported), the discount
``decimal(5,4)`` in 0..1, the quantity a positive integer. Region and subregion keep the export's codes
(validated) and gain their English names, ``region_name`` and ``subregion_name``; the segment is validated.

The business key is ``license``, not ``row_id``: the real export numbers its rows 1..9994 on its own while the
generated daily extracts continue one numbering across files, so the same Row ID can name two different lines
once both are loaded; the License code is unique per order line in both. Duplicates (the same line in two
extracts) keep the latest load: the latest extract stamp, then the later file, then the later line. A run merges
its new lines into the months they fall in and the months their licenses were in (a line sent again with another
date moves), and leaves every other month's files as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.args import FULL_REFRESH_ARG, is_true, parse_job_args
from spark_jobs.common.lineage import ingested_at
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

SOURCE = "retail_orders"
HEADER = (
    "Row ID",
    "Order ID",
    "Order Date",
    "Date Key",
    "Contact Name",
    "Country",
    "City",
    "Region",
    "Subregion",
    "Customer",
    "Customer ID",
    "Industry",
    "Segment",
    "Product",
    "License",
    "Sales",
    "Quantity",
    "Discount",
    "Profit",
)
COLUMNS = (
    "row_id",
    "order_id",
    "order_date",
    "date_key",
    "contact_name",
    "country",
    "city",
    "region",
    "subregion",
    "customer_name",
    "client_id",
    "industry",
    "segment",
    "product",
    "license",
    "sales",
    "quantity",
    "discount",
    "profit",
)
"""The stage name of each header column, in the file's order."""

REGIONS = {"AMER": "Americas", "EMEA": "Europe, Middle East and Africa", "APJ": "Asia Pacific and Japan"}
SUBREGIONS = {
    "NAMER": "North America",
    "LATAM": "Latin America",
    "UKIR": "United Kingdom and Ireland",
    "EU-WEST": "Western Europe",
    "EU-EAST": "Eastern Europe",
    "EU": "Southern Europe",
    "NOR": "Nordics",
    "MEA": "Middle East and Africa",
    "ANZ": "Australia and New Zealand",
    "APAC": "Asia Pacific",
    "IND": "India",
    "JAPN": "Japan",
}
SEGMENTS = ("SMB", "Strategic", "Enterprise")

MONEY = T.DecimalType(12, 4)
RATE = T.DecimalType(5, 4)
STAGE_SCHEMA = T.StructType(
    [
        T.StructField("row_id", T.LongType(), False),
        T.StructField("order_id", T.StringType(), False),
        T.StructField("order_date", T.DateType(), False),
        T.StructField("date_key", T.DateType(), False),
        T.StructField("is_date_key_mismatch", T.BooleanType(), False),
        T.StructField("contact_name", T.StringType(), True),
        T.StructField("country", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("region", T.StringType(), False),
        T.StructField("region_name", T.StringType(), False),
        T.StructField("subregion", T.StringType(), False),
        T.StructField("subregion_name", T.StringType(), False),
        T.StructField("customer_name", T.StringType(), True),
        T.StructField("client_id", T.LongType(), False),
        T.StructField("industry", T.StringType(), True),
        T.StructField("segment", T.StringType(), False),
        T.StructField("product", T.StringType(), True),
        T.StructField("license", T.StringType(), False),
        T.StructField("sales", MONEY, False),
        T.StructField("quantity", T.IntegerType(), False),
        T.StructField("discount", RATE, False),
        T.StructField("profit", MONEY, False),
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_ingested_at", T.TimestampType(), True),
        T.StructField("_batch_id", T.StringType(), False),
        T.StructField("order_month", T.StringType(), False),
    ]
)

_ID = r"^\d{1,18}$"
_INT = r"^\d{1,9}$"
_MONEY = r"^-?\d{1,8}(\.\d{1,4})?$"
_RATE = r"^\d(\.\d{1,4})?$"
_US_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"
_DATE_KEY = r"^\d{8}$"


def _text(name: str) -> Column:
    """A trimmed field, null when empty."""
    value = F.trim(F.col(f"raw_{name}"))
    return F.when(value != "", value)


def _lookup(name: str, mapping: dict[str, str]) -> Column:
    """The English value of a code (trimmed, case-insensitive); null when unknown."""
    names = F.create_map(*[F.lit(text) for pair in mapping.items() for text in pair])
    return F.element_at(names, F.upper(_text(name)))


def _typed(pattern: str, name: str, data_type: T.DataType | str) -> Column:
    value = _text(name)
    return F.when(value.rlike(pattern), value.cast(data_type))


def prepare(lines: DataFrame) -> DataFrame:
    """Check every file's header; the valid header lines are not records."""
    return mark_headers(lines, {uri: header_error(text, HEADER) for uri, text in file_headers(lines).items()})


def parse(lines: DataFrame, batch_id: str) -> tuple[DataFrame, DataFrame]:
    """Split the data lines into typed order lines and quarantined lines (with ``reason``)."""
    fields = F.split(F.col("raw_record"), ",", -1)
    split = lines.select(
        "*",
        F.size(fields).alias("_fields"),
        *[fields.getItem(i).alias(f"raw_{name}") for i, name in enumerate(COLUMNS)],
    )
    order_date = _text("order_date")
    date_key = _text("date_key")
    segment = _text("segment")
    typed = split.select(
        "*",
        _typed(_ID, "row_id", "long").alias("row_id"),
        _typed(_ID, "client_id", "long").alias("client_id"),
        F.when(order_date.rlike(_US_DATE), F.to_date(order_date, "M/d/yyyy")).alias("order_date"),
        F.when(date_key.rlike(_DATE_KEY), F.to_date(date_key, "yyyyMMdd")).alias("date_key"),
        _lookup("region", REGIONS).alias("region_name"),
        _lookup("subregion", SUBREGIONS).alias("subregion_name"),
        F.when(segment.isin(*SEGMENTS), segment).alias("segment"),
        _typed(_MONEY, "sales", MONEY).alias("sales"),
        _typed(_MONEY, "profit", MONEY).alias("profit"),
        _typed(_INT, "quantity", "int").alias("quantity"),
        _typed(_RATE, "discount", RATE).alias("discount"),
    )

    def missing(name: str) -> Column:
        return _text(name).isNull()

    field_checks = first_failure(
        [
            (F.col("row_id").isNull() | (F.col("row_id") <= 0), "Row ID missing or not a positive integer"),
            (missing("order_id"), "Order ID missing"),
            (F.col("order_date").isNull(), "Order Date missing or not a valid M/D/YYYY date"),
            (F.col("date_key").isNull(), "Date Key missing or not a valid YYYYMMDD date"),
            (F.col("region_name").isNull(), "unknown Region code"),
            (F.col("subregion_name").isNull(), "unknown Subregion code"),
            (
                F.col("client_id").isNull() | (F.col("client_id") <= 0),
                "Customer ID missing or not a positive integer",
            ),
            (F.col("segment").isNull(), f"unknown Segment (expected one of {', '.join(SEGMENTS)})"),
            (missing("license"), "License missing"),
            (F.col("sales").isNull(), "Sales is not a number with at most 4 decimals"),
            (F.col("quantity").isNull() | (F.col("quantity") <= 0), "Quantity is not a positive integer"),
            (
                F.col("discount").isNull() | (F.col("discount") > 1),
                "Discount is not a fraction between 0 and 1",
            ),
            (F.col("profit").isNull(), "Profit is not a number with at most 4 decimals"),
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
        "row_id",
        _text("order_id").alias("order_id"),
        "order_date",
        "date_key",
        (F.col("order_date") != F.col("date_key")).alias("is_date_key_mismatch"),
        _text("contact_name").alias("contact_name"),
        _text("country").alias("country"),
        _text("city").alias("city"),
        F.upper(_text("region")).alias("region"),
        "region_name",
        F.upper(_text("subregion")).alias("subregion"),
        "subregion_name",
        _text("customer_name").alias("customer_name"),
        "client_id",
        _text("industry").alias("industry"),
        "segment",
        _text("product").alias("product"),
        _text("license").alias("license"),
        "sales",
        "quantity",
        "discount",
        "profit",
        "_source_file",
        ingested_at(F.col("_source_file")).alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
        F.date_format("order_date", "yyyy-MM").alias("order_month"),
        "_line_number",
    )
    return good, checked.where(F.col("reason").isNotNull())


def latest_per_license(good: DataFrame) -> DataFrame:
    """One row per order line (``license``): the latest load, then the later file and line (deterministic)."""
    order = Window.partitionBy("license").orderBy(
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_source_file").desc(),
        F.col("_line_number").desc(),
    )
    ranked = good.withColumn("_rank", F.row_number().over(order))
    return ranked.where(F.col("_rank") == 1).select([f.name for f in STAGE_SCHEMA.fields])


SPEC = LineSource(
    name=SOURCE,
    raw_prefix=SOURCE,
    suffixes=(".csv",),
    parse=parse,
    schema=STAGE_SCHEMA,
    dedupe=latest_per_license,
    partition_by="order_month",
    encoding="utf-8",
    sort_by=("order_month", "order_date", "order_id", "row_id"),
    incremental=True,
    key=("license",),
)


def run(
    spark: SparkSession, raw_uri: str, stage_uri: str, logs_uri: str, full_refresh: bool = False
) -> AuditRecord:
    """Stage the retail orders extracts under ``raw_uri`` that are new since the last run (every one with
    ``full_refresh``): merge them into the stage table by license, quarantine, audit."""
    return stage_prepared_line_source(
        spark, SPEC, raw_uri, stage_uri, logs_uri, prepare, full_refresh=full_refresh
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_job_args(argv if argv is not None else sys.argv[1:], required=[], optional=FULL_REFRESH_ARG)
    raw, stage, logs = lake_uris(args)
    spark = get_session(f"c360-stage-{SOURCE}")
    print(run(spark, raw, stage, logs, is_true(args["full_refresh"])).to_json())


if __name__ == "__main__":
    main()
