"""Stage job (the design's EMR "advanced transformation"): the Google Analytics export, nested NDJSON -> two flat
Parquet tables at their own grain, staged incrementally.

Glue/EMR: --lake s3://bucket-prefix   (or --raw_uri/--stage_uri/--logs_uri), optionally --full_refresh true
Local:    called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_ga_sessions --lake ./lake``

Input ``raw/ga_sessions/ingest_date=D/ga_sessions_YYYYMMDD.json.gz`` (or ``.json``, uncompressed): one BigQuery
``ga_sessions`` row per line (every key present, ``null`` for zero, money in micros, ``fullVisitorId`` a string). The lines come from the
shared line reader (exact line numbers) and are parsed with ``from_json`` and the explicit :data:`RAW_SCHEMA`
(the part of the GA export we stage; nothing is inferred).

Outputs, both with ``session_date`` (the export's ``date``: the day in the view's time zone) and partitioned by its
month, ``session_month`` (``YYYY-MM``), one Parquet file per month sorted by day and key:

- ``<stage>/ga_sessions/``: one row per session. ``session_id`` = fullVisitorId || '-' || visitId;
  ``full_visitor_id`` stays a string (leading zeros). The ``totals`` are here and only here, with GA's nulls
  (which mean zero) as 0; ``transaction_revenue`` is in currency units (micros / 10^6). Traffic source, device,
  geography, and the custom dimensions as a map (``custom_dimensions``, index -> value) plus ``sales_region``
  (index 4, the only one the export uses). The placeholder "not available in demo dataset" becomes null.
- ``<stage>/ga_hits/``: one row per hit, keyed by (``session_id``, ``hit_number``): page (path levels derived
  from the path when the export lacks them), event, e-commerce action as an English value
  (:data:`ECOMMERCE_ACTIONS`), the first product of the hit and ``product_count``. No session total is repeated
  on the hits, and no hit is counted in the session table: a metric lives at one grain only.

Quarantine (``<stage>/_quarantine/ga_sessions/raw_file=<raw path>/``, the raw line, the reason, file and line):
an undecodable or blank line, JSON that is not an object, a missing or malformed ``fullVisitorId``/``visitId``/
``visitStartTime``/``visitNumber``, a bad ``date``, a session without hits (GA sessions always have one), hits
without a unique ``hitNumber``, an unknown hit type or e-commerce action code, and any value of the wrong type.
It is kept per raw file, so restaging a file replaces its quarantined lines rather than adding to them.

Deduplication: a session (``session_id``) met in several lines keeps the latest load (the ``ingest_date`` of its
file, then the later file and line: deterministic); its hits follow it. An incremental run deduplicates across the
files it reads, which include every staged file sharing a session date with a new or changed one, so a day
re-delivered (whole, or overlapping another extract of that day) is exact. A session id re-delivered under a
*different* date than a copy staged earlier is not looked for (the export puts a session in the one day it
started): the incremental run keeps both copies, a ``--full_refresh`` keeps the latest.

Reconciliation, per run: ``ga_sessions`` counts lines (raw = staged sessions + quarantined lines + duplicate
sessions). A second audit record, ``ga_hits``, counts hits: raw = the hits of every line that is a JSON object,
stage = the hit rows written, quarantined = the hits of quarantined sessions, deduplicated = the hits of
duplicate sessions. (Hits of a line that is not a JSON object cannot be counted; that line is counted in
``ga_sessions``.)

Incremental (a scale unit is about 600 MB of JSON in 730 day files): the bookmark ``<logs>/bookmarks/
ga_sessions.json`` remembers each staged file's size, modification time and the session dates it holds. A run
reads only new or changed files (plus, rarely, unchanged files that share a session date with them, so that
deduplication stays exact), and rebuilds only the session dates they touch: each month holding one is rewritten
from the batch's rows of those dates and the month's other days read back from the table as they are, and swapped
in whole (:func:`spark_jobs.common.runner.publish_partitions`); the other months are not touched. A removed raw
file has its dates rebuilt from what remains. ``--full_refresh true``, a missing bookmark or stage table, or
other stage code than the bookmark's (:func:`spark_jobs.common.code_version.stage_code_fingerprint`, so that an
edited rule reaches every session) rebuild everything and replace the tables whole.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.args import FULL_REFRESH_ARG, is_true, parse_job_args
from spark_jobs.common.code_version import stage_code_fingerprint
from spark_jobs.common.file_bookmarks import FileBookmark, FileVersion, StagedFile, list_versions
from spark_jobs.common.hadoopfs import HadoopFS, RemoteFile
from spark_jobs.common.json_lines import has_lone_surrogate_escape, is_one_json_object
from spark_jobs.common.lineage import ingested_at
from spark_jobs.common.quality import (
    AuditRecord,
    batch_id_for,
    first_failure,
    quarantine_frame,
    read_lines,
    reconcile,
    write_audit,
)
from spark_jobs.common.runner import lake_uris, publish, publish_partitions
from spark_jobs.common.session import get_session

SOURCE = "ga_sessions"
HITS = "ga_hits"
DAY = "session_date"
"""The unit a run rebuilds (and deduplicates over): the session dates its files hold."""
PARTITION = "session_month"
"""The stage tables' partition folder: the month (``YYYY-MM``) of ``session_date``, one file per month. A day's
partition held 25-30 kB at scale 1 (730 of them per table, written, listed and read as many files)."""
QUARANTINE_PARTITION = "raw_file"
SUFFIXES = (".json", ".json.gz")  # BigQuery exports JSON plain or gzip-compressed
NOT_AVAILABLE = "not available in demo dataset"
"""The public sample's placeholder for redacted values: staged as null."""

ECOMMERCE_ACTIONS = {
    "0": "unknown",
    "1": "product_list_click",  # click through of product lists
    "2": "product_detail_view",  # product detail views
    "3": "add_to_cart",  # add product(s) to cart
    "4": "remove_from_cart",  # remove product(s) from cart
    "5": "checkout",  # check out
    "6": "purchase",  # completed purchase
    "7": "refund",  # refund of purchase
    "8": "checkout_option",  # checkout options
}
"""GA's ``hits.eCommerceAction.action_type`` codes and their English values (GA's wording in the comments)."""
HIT_TYPES = ("PAGE", "EVENT", "TRANSACTION", "ITEM", "SOCIAL", "APPVIEW", "EXCEPTION", "TIMING")
"""The hit types of the BigQuery export (``hits.type``)."""


def _struct(**fields: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, data_type, True) for name, data_type in fields.items()])


S, L, B = T.StringType(), T.LongType(), T.BooleanType()
CORRUPT = "_corrupt_record"
RAW_SCHEMA = _struct(
    # The identifying scalars are read as text and validated below, so that a wrong one gets its own reason.
    visitNumber=S,
    visitId=S,
    visitStartTime=S,
    date=S,
    totals=_struct(
        visits=L,
        hits=L,
        pageviews=L,
        timeOnSite=L,
        bounces=L,
        transactions=L,
        transactionRevenue=L,
        newVisits=L,
    ),
    trafficSource=_struct(
        referralPath=S, campaign=S, source=S, medium=S, keyword=S, adContent=S, isTrueDirect=B
    ),
    device=_struct(browser=S, operatingSystem=S, isMobile=B, deviceCategory=S),
    geoNetwork=_struct(continent=S, subContinent=S, country=S, region=S, metro=S, city=S),
    customDimensions=T.ArrayType(_struct(index=L, value=S)),
    hits=T.ArrayType(
        _struct(
            hitNumber=L,
            time=L,
            isInteraction=B,
            isEntrance=B,
            isExit=B,
            type=S,
            page=_struct(
                pagePath=S,
                hostname=S,
                pageTitle=S,
                pagePathLevel1=S,
                pagePathLevel2=S,
                pagePathLevel3=S,
                pagePathLevel4=S,
            ),
            transaction=_struct(transactionId=S),
            eventInfo=_struct(eventCategory=S, eventAction=S, eventLabel=S, eventValue=L),
            eCommerceAction=_struct(action_type=S, step=L, option=S),
            product=T.ArrayType(_struct(productSKU=S, v2ProductName=S, v2ProductCategory=S, productPrice=L)),
            contentGroup=_struct(contentGroup1=S, contentGroup2=S),
        )
    ),
    fullVisitorId=S,
    channelGrouping=S,
    **{CORRUPT: S},
)
JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}

CURRENCY = T.DecimalType(18, 6)
LINEAGE = [
    T.StructField("_source_file", T.StringType(), False),
    T.StructField("_ingested_at", T.TimestampType(), True),
    T.StructField("_batch_id", T.StringType(), False),
]
SESSION_SCHEMA = T.StructType(
    [
        T.StructField("session_id", T.StringType(), False),
        T.StructField("full_visitor_id", T.StringType(), False),
        T.StructField("visit_id", T.LongType(), False),
        T.StructField("visit_number", T.IntegerType(), False),
        T.StructField("visit_start_at", T.TimestampType(), False),
        T.StructField("channel_grouping", T.StringType(), True),
        T.StructField("visits", T.IntegerType(), False),
        T.StructField("hits", T.IntegerType(), False),
        T.StructField("pageviews", T.IntegerType(), False),
        T.StructField("time_on_site", T.IntegerType(), False),
        T.StructField("bounces", T.IntegerType(), False),
        T.StructField("transactions", T.IntegerType(), False),
        T.StructField("transaction_revenue", CURRENCY, False),
        T.StructField("new_visits", T.IntegerType(), False),
        T.StructField("source", T.StringType(), True),
        T.StructField("medium", T.StringType(), True),
        T.StructField("campaign", T.StringType(), True),
        T.StructField("keyword", T.StringType(), True),
        T.StructField("ad_content", T.StringType(), True),
        T.StructField("referral_path", T.StringType(), True),
        T.StructField("is_true_direct", T.BooleanType(), False),
        T.StructField("browser", T.StringType(), True),
        T.StructField("operating_system", T.StringType(), True),
        T.StructField("is_mobile", T.BooleanType(), True),
        T.StructField("device_category", T.StringType(), True),
        T.StructField("continent", T.StringType(), True),
        T.StructField("sub_continent", T.StringType(), True),
        T.StructField("country", T.StringType(), True),
        T.StructField("region", T.StringType(), True),
        T.StructField("metro", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("custom_dimensions", T.MapType(T.IntegerType(), T.StringType()), True),
        T.StructField("sales_region", T.StringType(), True),
        *LINEAGE,
        T.StructField(DAY, T.DateType(), False),
        T.StructField(PARTITION, T.StringType(), False),
    ]
)
HIT_SCHEMA = T.StructType(
    [
        T.StructField("session_id", T.StringType(), False),
        T.StructField("hit_number", T.IntegerType(), False),
        T.StructField("hit_type", T.StringType(), False),
        T.StructField("hit_at", T.TimestampType(), True),
        T.StructField("is_interaction", T.BooleanType(), False),
        T.StructField("is_entrance", T.BooleanType(), False),
        T.StructField("is_exit", T.BooleanType(), False),
        T.StructField("hostname", T.StringType(), True),
        T.StructField("page_path", T.StringType(), True),
        T.StructField("page_title", T.StringType(), True),
        T.StructField("page_path_level1", T.StringType(), True),
        T.StructField("page_path_level2", T.StringType(), True),
        T.StructField("page_path_level3", T.StringType(), True),
        T.StructField("page_path_level4", T.StringType(), True),
        T.StructField("content_group1", T.StringType(), True),
        T.StructField("content_group2", T.StringType(), True),
        T.StructField("event_category", T.StringType(), True),
        T.StructField("event_action", T.StringType(), True),
        T.StructField("event_label", T.StringType(), True),
        T.StructField("event_value", T.LongType(), True),
        T.StructField("ecommerce_action_type", T.StringType(), True),
        T.StructField("ecommerce_action_step", T.IntegerType(), True),
        T.StructField("ecommerce_action_option", T.StringType(), True),
        T.StructField("product_count", T.IntegerType(), False),
        T.StructField("product_sku", T.StringType(), True),
        T.StructField("product_name", T.StringType(), True),
        T.StructField("product_category", T.StringType(), True),
        T.StructField("product_price", CURRENCY, True),
        T.StructField("transaction_id", T.StringType(), True),
        *LINEAGE,
        T.StructField(DAY, T.DateType(), False),
        T.StructField(PARTITION, T.StringType(), False),
    ]
)
QUARANTINE_SORT = ("_source_file", "_line_number")

_VISITOR_ID = r"^\d{1,25}$"
_POSITIVE = r"^[0-9]{1,18}$"
_DATE = r"^\d{8}$"


# --- parsing ---------------------------------------------------------------------------------------------------
def _text(value: Column) -> Column:
    """Trimmed text; null when empty or GA's "not available" placeholder."""
    trimmed = F.trim(value)
    return F.when((trimmed != "") & (trimmed != NOT_AVAILABLE), trimmed)


def _count(value: Column) -> Column:
    """A GA count: null means zero."""
    return F.coalesce(value, F.lit(0)).cast("int")


def _micros(value: Column) -> Column:
    """GA money (micros) in currency units, exactly."""
    return (value.cast(T.DecimalType(24, 0)) / F.lit(1_000_000)).cast(CURRENCY)


def _positive(text: Column) -> Column:
    """A positive integer given as text (a JSON number or a string), else null."""
    trimmed = F.trim(text)
    return F.when(trimmed.rlike(_POSITIVE) & (trimmed.cast("long") > 0), trimmed.cast("long"))


def _custom_dimensions(array: Column) -> Column:
    """customDimensions [{index, value}] as a map index -> value (the first value of a repeated index)."""
    valid = F.filter(array, lambda d: d["index"].isNotNull())
    indexes = F.transform(valid, lambda d: d["index"])
    first = F.filter(valid, lambda d, i: ~F.exists(F.slice(indexes, 1, i), lambda index: index == d["index"]))
    entries = F.transform(
        first, lambda d: F.struct(d["index"].cast("int").alias("key"), _text(d["value"]).alias("value"))
    )
    return F.map_from_entries(entries)


def parse(lines: DataFrame, batch_id: str) -> DataFrame:
    """One row per raw line: the session's typed fields, its raw ``hits`` array, ``_hit_count`` and ``reason``
    (null for a valid session). ``raw_record`` is kept only on rejected lines (it is what the quarantine needs;
    a valid line's text is not carried further)."""
    text = F.trim(F.col("raw_record"))
    parsed = lines.withColumn("j", F.from_json(F.col("raw_record"), RAW_SCHEMA, JSON_OPTIONS))
    corrupt = F.col(f"j.{CORRUPT}").isNotNull()
    # A braced line is a JSON object when it parses; when only a value had the wrong type the GA schema flags it
    # as corrupt, but it still parses as a map of texts.
    as_map = F.from_json(F.col("raw_record"), T.MapType(T.StringType(), T.StringType()))
    # ... and nothing may follow the object: the parser stops after the first value, so two sessions glued on one
    # line would otherwise stage as the first one alone.
    is_object = (
        text.startswith("{")
        & text.endswith("}")
        & F.col("j").isNotNull()
        & (~corrupt | F.when(corrupt, as_map.isNotNull()))
        & is_one_json_object(F.col("raw_record"))
    )
    hits = F.col("j.hits")
    typed = parsed.select(
        "_source_file",
        "_line_number",
        "raw_record",
        "_decode_error",
        F.coalesce(is_object, F.lit(False)).alias("_is_object"),
        corrupt.alias("_is_corrupt"),
        F.trim(F.col("j.fullVisitorId")).alias("full_visitor_id"),
        _positive(F.col("j.visitId")).alias("visit_id"),
        _positive(F.col("j.visitStartTime")).alias("_visit_start"),
        _positive(F.col("j.visitNumber")).alias("_visit_number"),
        F.when(F.trim(F.col("j.date")).rlike(_DATE), F.to_date(F.trim(F.col("j.date")), "yyyyMMdd")).alias(
            DAY
        ),
        F.when(hits.isNotNull(), F.size(hits)).otherwise(0).alias("_hit_count"),
        hits.alias("_hits"),
        "j",
    )
    hit_numbers = F.transform(F.col("_hits"), lambda h: h["hitNumber"])
    object_checks = first_failure(
        [
            (
                ~F.coalesce(F.col("full_visitor_id").rlike(_VISITOR_ID), F.lit(False)),
                "fullVisitorId missing or not a string of 1-25 digits",
            ),
            (F.col("visit_id").isNull(), "visitId missing or not a positive integer"),
            (
                F.col("_visit_start").isNull(),
                "visitStartTime missing or not a positive integer (epoch seconds)",
            ),
            (F.col("_visit_number").isNull(), "visitNumber missing or not a positive integer"),
            (F.col(DAY).isNull(), "date missing or not a valid YYYYMMDD date"),
            (F.col("_hit_count") == 0, "session without hits"),
            (
                F.exists("_hits", lambda h: h.isNull() | h["hitNumber"].isNull())
                | (F.size(F.array_distinct(hit_numbers)) != F.col("_hit_count")),
                "hits without a hitNumber, or a hitNumber repeated",
            ),
            (
                F.exists(
                    "_hits", lambda h: ~F.coalesce(F.upper(F.trim(h["type"])).isin(*HIT_TYPES), F.lit(False))
                ),
                "unknown hit type (expected " + ", ".join(HIT_TYPES) + ")",
            ),
            (
                F.exists(
                    "_hits",
                    lambda h: (
                        h["eCommerceAction"]["action_type"].isNotNull()
                        & ~F.trim(h["eCommerceAction"]["action_type"]).isin(*ECOMMERCE_ACTIONS)
                    ),
                ),
                "unknown eCommerceAction.action_type code (expected 0-8)",
            ),
            (
                has_lone_surrogate_escape(F.col("raw_record")),
                "a \\u escape is a lone UTF-16 surrogate, not a character",
            ),
            (
                F.col("_is_corrupt"),
                "a value does not have the type of the GA export (e.g. text for a number)",
            ),
        ]
    )
    reason = F.coalesce(
        F.col("_decode_error"),
        F.when(text == "", F.lit("empty line")),
        F.when(~F.col("_is_object"), F.lit("not a JSON object (malformed JSON, an array or a scalar)")),
        F.when(object_checks != "", object_checks),
    )
    checked = typed.withColumn("reason", reason)
    return checked.select(
        "_source_file",
        "_line_number",
        F.when(F.col("reason").isNotNull(), F.col("raw_record")).alias("raw_record"),
        "reason",
        "_is_object",
        "_hit_count",
        F.concat_ws("-", "full_visitor_id", F.col("visit_id").cast("string")).alias("session_id"),
        "full_visitor_id",
        "visit_id",
        F.col("_visit_number").cast("int").alias("visit_number"),
        F.timestamp_seconds("_visit_start").alias("visit_start_at"),
        _text(F.col("j.channelGrouping")).alias("channel_grouping"),
        _count(F.col("j.totals.visits")).alias("visits"),
        _count(F.col("j.totals.hits")).alias("hits"),
        _count(F.col("j.totals.pageviews")).alias("pageviews"),
        _count(F.col("j.totals.timeOnSite")).alias("time_on_site"),
        _count(F.col("j.totals.bounces")).alias("bounces"),
        _count(F.col("j.totals.transactions")).alias("transactions"),
        _micros(F.coalesce(F.col("j.totals.transactionRevenue"), F.lit(0))).alias("transaction_revenue"),
        _count(F.col("j.totals.newVisits")).alias("new_visits"),
        _text(F.col("j.trafficSource.source")).alias("source"),
        _text(F.col("j.trafficSource.medium")).alias("medium"),
        _text(F.col("j.trafficSource.campaign")).alias("campaign"),
        _text(F.col("j.trafficSource.keyword")).alias("keyword"),
        _text(F.col("j.trafficSource.adContent")).alias("ad_content"),
        _text(F.col("j.trafficSource.referralPath")).alias("referral_path"),
        F.coalesce(F.col("j.trafficSource.isTrueDirect"), F.lit(False)).alias("is_true_direct"),
        _text(F.col("j.device.browser")).alias("browser"),
        _text(F.col("j.device.operatingSystem")).alias("operating_system"),
        F.col("j.device.isMobile").alias("is_mobile"),
        F.lower(_text(F.col("j.device.deviceCategory"))).alias("device_category"),
        _text(F.col("j.geoNetwork.continent")).alias("continent"),
        _text(F.col("j.geoNetwork.subContinent")).alias("sub_continent"),
        _text(F.col("j.geoNetwork.country")).alias("country"),
        _text(F.col("j.geoNetwork.region")).alias("region"),
        _text(F.col("j.geoNetwork.metro")).alias("metro"),
        _text(F.col("j.geoNetwork.city")).alias("city"),
        _custom_dimensions(F.col("j.customDimensions")).alias("custom_dimensions"),
        "_hits",
        ingested_at(F.col("_source_file")).alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
        DAY,
        F.date_format(DAY, "yyyy-MM").alias(PARTITION),
    ).withColumn("sales_region", F.element_at("custom_dimensions", F.lit(4)))


def _latest_first() -> Window:
    """The order of the copies of a session: the latest load, then the later file and line (deterministic)."""
    return Window.partitionBy("session_id").orderBy(
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_source_file").desc(),
        F.col("_line_number").desc(),
    )


def duplicate_lines(good: DataFrame) -> DataFrame:
    """The lines of ``good`` that a later copy of the same session replaces: ``_source_file``, ``_line_number``
    and their ``_hit_count``. Ranked on these few columns only, so the sessions themselves (hits included) are
    never shuffled to deduplicate them."""
    keys = good.select("session_id", "_ingested_at", "_source_file", "_line_number", "_hit_count")
    ranked = keys.withColumn("_rank", F.row_number().over(_latest_first()))
    return ranked.where(F.col("_rank") > 1).select("_source_file", "_line_number", "_hit_count")


DUPLICATES_BROADCAST_LIMIT = 1_000_000
"""Up to this many duplicate lines, their keys are broadcast to drop them from the sessions (no shuffle)."""


def without_lines(good: DataFrame, duplicates: DataFrame, count: int | None = None) -> DataFrame:
    """``good`` without the lines of ``duplicates`` (``count`` of them, when known: none means nothing to drop,
    too many means a shuffled join rather than a broadcast one)."""
    if count == 0:
        return good
    keys = duplicates.select("_source_file", "_line_number")
    if count is None or count <= DUPLICATES_BROADCAST_LIMIT:
        keys = F.broadcast(keys)
    return good.join(keys, ["_source_file", "_line_number"], "left_anti")


def latest_sessions(good: DataFrame) -> DataFrame:
    """One row per ``session_id``: the latest load, then the later file and line (deterministic)."""
    return without_lines(good, duplicate_lines(good))


def session_rows(sessions: DataFrame) -> DataFrame:
    """The session table: one row per session, its totals, its context."""
    return sessions.select([f.name for f in SESSION_SCHEMA.fields])


def _path_levels(path: Column) -> list[Column]:
    """GA's pagePathLevel1..4 derived from a page path: each level keeps its slashes, level 4 holds the rest."""
    parts = F.filter(F.split(F.split(path, r"[?#]").getItem(0), "/"), lambda p: p != "")
    depth = F.size(parts)
    levels = [
        F.when(depth > k, F.concat(F.lit("/"), parts.getItem(k - 1), F.lit("/"))).when(
            depth == k, F.concat(F.lit("/"), parts.getItem(k - 1))
        )
        for k in (1, 2, 3)
    ]
    rest = F.array_join(F.slice(parts, 4, F.greatest(depth - 3, F.lit(1))), "/")
    return [*levels, F.when(depth > 3, F.concat(F.lit("/"), rest))]


def _ecommerce_action(code: Column) -> Column:
    """The English value of an eCommerceAction.action_type code (parse quarantines unknown codes)."""
    names = F.create_map(*[F.lit(text) for pair in ECOMMERCE_ACTIONS.items() for text in pair])
    return F.element_at(names, F.trim(code))


def hit_rows(sessions: DataFrame) -> DataFrame:
    """The hit table: one row per hit of each session (nothing of the session's totals)."""
    hits = sessions.select(
        "session_id",
        "visit_start_at",
        "_source_file",
        "_ingested_at",
        "_batch_id",
        DAY,
        PARTITION,
        F.explode("_hits").alias("h"),
    )
    path = _text(F.col("h.page.pagePath"))
    derived = _path_levels(path)
    product = F.col("h.product").getItem(0)
    return hits.select(
        "session_id",
        F.col("h.hitNumber").cast("int").alias("hit_number"),
        F.upper(F.trim(F.col("h.type"))).alias("hit_type"),
        F.timestamp_millis(
            F.col("visit_start_at").cast("long") * 1000 + F.coalesce(F.col("h.time"), F.lit(0))
        ).alias("hit_at"),
        F.coalesce(F.col("h.isInteraction"), F.lit(False)).alias("is_interaction"),
        F.coalesce(F.col("h.isEntrance"), F.lit(False)).alias("is_entrance"),
        F.coalesce(F.col("h.isExit"), F.lit(False)).alias("is_exit"),
        _text(F.col("h.page.hostname")).alias("hostname"),
        path.alias("page_path"),
        _text(F.col("h.page.pageTitle")).alias("page_title"),
        *[
            F.coalesce(_text(F.col(f"h.page.pagePathLevel{k}")), derived[k - 1]).alias(f"page_path_level{k}")
            for k in (1, 2, 3, 4)
        ],
        _text(F.col("h.contentGroup.contentGroup1")).alias("content_group1"),
        _text(F.col("h.contentGroup.contentGroup2")).alias("content_group2"),
        _text(F.col("h.eventInfo.eventCategory")).alias("event_category"),
        _text(F.col("h.eventInfo.eventAction")).alias("event_action"),
        _text(F.col("h.eventInfo.eventLabel")).alias("event_label"),
        F.col("h.eventInfo.eventValue").alias("event_value"),
        _ecommerce_action(F.col("h.eCommerceAction.action_type")).alias("ecommerce_action_type"),
        F.col("h.eCommerceAction.step").cast("int").alias("ecommerce_action_step"),
        _text(F.col("h.eCommerceAction.option")).alias("ecommerce_action_option"),
        F.when(F.col("h.product").isNotNull(), F.size("h.product")).otherwise(0).alias("product_count"),
        _text(product["productSKU"]).alias("product_sku"),
        _text(product["v2ProductName"]).alias("product_name"),
        _text(product["v2ProductCategory"]).alias("product_category"),
        _micros(product["productPrice"]).alias("product_price"),
        _text(F.col("h.transaction.transactionId")).alias("transaction_id"),
        "_source_file",
        "_ingested_at",
        "_batch_id",
        DAY,
        PARTITION,
    ).select([f.name for f in HIT_SCHEMA.fields])


# --- one batch -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    raw: int
    stage: int
    quarantined: int
    deduplicated: int


@dataclass(frozen=True)
class GaOutcome:
    sessions: DataFrame
    hits: DataFrame
    quarantine: DataFrame
    session_counts: Counts
    hit_counts: Counts
    partitions: dict[str, tuple[str, ...]]
    """Raw file -> the session dates of its valid sessions (what the bookmark remembers)."""
    cached: tuple[DataFrame, ...]

    @property
    def session_dates(self) -> set[str]:
        return {day for days in self.partitions.values() for day in days}

    def unpersist(self) -> None:
        for frame in self.cached:
            frame.unpersist()


def transform(lines: DataFrame, batch_id: str) -> GaOutcome:
    """Everything but I/O: raw lines in; sessions, hits, quarantined lines and both tables' counts out.

    Two Spark actions before the writes: one pass over the parsed lines (cached) counts them per file, and a
    ranking of the valid lines' keys finds the duplicate sessions. The stage counts follow from these (a staged
    session brings its ``_hit_count`` hits), so each table is computed once, when it is written."""
    checked = parse(lines, batch_id).cache()
    rejected = F.col("reason").isNotNull()
    per_file = (
        checked.groupBy("_source_file")
        .agg(
            F.count("*").alias("lines"),
            F.count("reason").alias("quarantined"),
            F.sum(F.when(F.col("_is_object"), F.col("_hit_count")).otherwise(0)).alias("hits"),
            F.sum(F.when(F.col("_is_object") & rejected, F.col("_hit_count")).otherwise(0)).alias(
                "rejected_hits"
            ),
            F.array_sort(F.collect_set(F.when(~rejected, F.col(DAY).cast("string")))).alias("dates"),
        )
        .collect()
    )
    good = checked.where(~rejected)
    duplicates = duplicate_lines(good).cache()
    duplicated = duplicates.agg(F.count("*").alias("lines"), F.sum("_hit_count").alias("hits")).first()
    sessions = without_lines(good, duplicates, duplicated["lines"])
    lines_read, quarantined, raw_hits, rejected_hits = (
        sum(row[column] for row in per_file) for column in ("lines", "quarantined", "hits", "rejected_hits")
    )
    duplicate_hits = duplicated["hits"] or 0
    return GaOutcome(
        sessions=session_rows(sessions),
        hits=hit_rows(sessions),
        quarantine=quarantine_frame(checked.where(rejected), SOURCE, batch_id),
        session_counts=Counts(
            raw=lines_read,
            stage=lines_read - quarantined - duplicated["lines"],
            quarantined=quarantined,
            deduplicated=duplicated["lines"],
        ),
        hit_counts=Counts(
            raw=raw_hits,
            stage=raw_hits - rejected_hits - duplicate_hits,
            quarantined=rejected_hits,
            deduplicated=duplicate_hits,
        ),
        partitions={row["_source_file"]: tuple(row["dates"]) for row in per_file if row["dates"]},
        cached=(checked, duplicates),
    )


# --- runs: full or incremental ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Zones:
    """Where one run reads and writes."""

    raw_root: str
    source_root: str
    stage_root: str
    logs_root: str

    @classmethod
    def of(cls, raw_uri: str, stage_uri: str, logs_uri: str) -> Zones:
        raw_root = raw_uri.rstrip("/")
        return cls(raw_root, f"{raw_root}/{SOURCE}", stage_uri.rstrip("/"), logs_uri.rstrip("/"))

    @property
    def sessions(self) -> str:
        return f"{self.stage_root}/{SOURCE}"

    @property
    def hits(self) -> str:
        return f"{self.stage_root}/{HITS}"

    @property
    def quarantine(self) -> str:
        return f"{self.stage_root}/_quarantine/{SOURCE}"

    @property
    def bookmark(self) -> str:
        return f"{self.logs_root}/bookmarks/{SOURCE}.json"

    def staging(self, table: str, batch_id: str) -> str:
        return f"{self.stage_root}/_staging/{table}/{batch_id}"

    def key(self, uri: str) -> str:
        """A raw file's bookmark key: its path below the source folder."""
        return uri[len(self.source_root) :].lstrip("/")


def quarantine_key(key: str) -> str:
    """The quarantine partition value of a raw file: its relative path with every character that a partition
    folder name would escape replaced by ``_`` (``ingest_date=2024-12-31/ga_sessions_20241231.json`` ->
    ``ingest_date_2024-12-31_ga_sessions_20241231.json``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


@dataclass(frozen=True)
class Batch:
    """The files of one run, transformed: the outcome, the quarantine keyed by raw file, the audit records."""

    id: str
    files: list[FileVersion]
    outcome: GaOutcome
    quarantine: DataFrame
    records: list[AuditRecord]


def _stage_batch(spark: SparkSession, zones: Zones, files: list[FileVersion]) -> Batch:
    """Read and transform ``files``."""
    remote = [RemoteFile(f.uri, f.size) for f in files]
    batch_id = batch_id_for(SOURCE, remote, zones.raw_root)
    outcome = transform(read_lines(spark, remote), batch_id)
    keys = spark.createDataFrame(
        [(f.uri, quarantine_key(zones.key(f.uri))) for f in files],
        f"_source_file string, {QUARANTINE_PARTITION} string",
    )

    def record(source: str, counts: Counts, target: str) -> AuditRecord:
        return AuditRecord(
            source=source,
            batch_id=batch_id.replace(SOURCE, source, 1),
            raw_rows=counts.raw,
            stage_rows=counts.stage,
            quarantined_rows=counts.quarantined,
            deduplicated_rows=counts.deduplicated,
            files=[f.uri for f in files],
            stage_uri=target,
            quarantine_uri=zones.quarantine,
        )

    return Batch(
        id=batch_id,
        files=files,
        outcome=outcome,
        quarantine=outcome.quarantine.join(F.broadcast(keys), "_source_file"),
        records=[
            record(SOURCE, outcome.session_counts, zones.sessions),
            record(HITS, outcome.hit_counts, zones.hits),
        ],
    )


def _check(fs: HadoopFS, zones: Zones, records: list[AuditRecord]) -> None:
    """Fail loudly, before anything is published, when a batch does not reconcile (its audit says why)."""
    for record in records:
        if not record.balanced:
            write_audit(fs, zones.logs_root, record)
            reconcile(record)


def _replace(
    fs: HadoopFS,
    frame: DataFrame,
    target: str,
    staging: str,
    partition_by: str,
    sort_by: tuple[str, ...],
    values: set[str] | None,
) -> None:
    """Replace the partitions ``values`` of ``target`` (None: the whole table, atomically) by ``frame``."""
    if values is None:
        # Hash-partitioned by the partition column: one file per partition, written by several tasks at once.
        tasks = int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions"))
        publish(fs, frame, target, staging, (partition_by, *sort_by), partition_by, tasks)
    else:
        publish_partitions(fs, frame, target, staging, partition_by, values, sort_by)


def months_of(dates: set[str]) -> set[str]:
    """The ``session_month`` partitions that hold the session ``dates`` (``YYYY-MM-DD`` -> ``YYYY-MM``)."""
    return {day[:7] for day in dates}


def kept_rows(
    spark: SparkSession, fs: HadoopFS, table: str, schema: T.StructType, dates: set[str]
) -> DataFrame | None:
    """The rows of the stage ``table`` that a run rebuilding the session ``dates`` keeps as they are: the other
    days of the months it rewrites (None when none of those months is staged yet)."""
    folders = [f"{table}/{PARTITION}={month}" for month in sorted(months_of(dates))]
    folders = [folder for folder in folders if fs.exists(folder)]
    if not folders:
        return None
    staged = spark.read.schema(schema).option("basePath", table).parquet(*folders)
    return staged.where(~F.col(DAY).cast("string").isin(sorted(dates)))


def _publish(fs: HadoopFS, zones: Zones, batch: Batch, dates: set[str] | None, keys: set[str] | None) -> None:
    """Write the batch's sessions and hits over the session ``dates`` it rebuilds (their months, whose other days
    are read back from the table and kept), and its quarantine over the raw files ``keys`` it read (None: the
    whole table)."""
    outcome = batch.outcome
    tables = (
        (outcome.sessions, zones.sessions, SOURCE, SESSION_SCHEMA, ("session_id",)),
        (outcome.hits, zones.hits, HITS, HIT_SCHEMA, ("session_id", "hit_number")),
    )
    for frame, table, name, schema, key in tables:
        months = None
        if dates is not None:
            months = months_of(dates)
            kept = kept_rows(frame.sparkSession, fs, table, schema, dates)
            frame = frame if kept is None else frame.unionByName(kept)
        _replace(fs, frame, table, zones.staging(name, batch.id), PARTITION, (DAY, *key), months)
    if outcome.session_counts.quarantined:
        staging = zones.staging("_quarantine", batch.id)
        _replace(fs, batch.quarantine, zones.quarantine, staging, QUARANTINE_PARTITION, QUARANTINE_SORT, keys)
    elif keys is None:  # nothing quarantined: no Spark job, only clear what earlier runs left
        fs.delete(zones.quarantine)
    else:
        for key in keys:
            fs.delete(f"{zones.quarantine}/{QUARANTINE_PARTITION}={key}")


def _full_refresh(
    spark: SparkSession, fs: HadoopFS, zones: Zones, files: list[FileVersion]
) -> list[AuditRecord]:
    """Stage every file and replace both tables and the quarantine whole."""
    batch = _stage_batch(spark, zones, files)
    _check(fs, zones, batch.records)
    _publish(fs, zones, batch, None, None)
    bookmark = FileBookmark(SOURCE, inputs={"code": stage_code_fingerprint(SOURCE)})
    _remember(bookmark, zones, batch)
    _finish(fs, zones, batch, bookmark)
    return batch.records


def _incremental(
    spark: SparkSession, fs: HadoopFS, zones: Zones, files: list[FileVersion], bookmark: FileBookmark
) -> list[AuditRecord] | None:
    """Stage the new and changed files (None when there are none) and replace only the partitions they touch."""
    current = {zones.key(f.uri): f for f in files}
    changed = {key for key, f in current.items() if not bookmark.is_current(key, f)}
    removed = set(bookmark.files) - set(current)
    if not changed and not removed:
        return None
    read = changed
    batch = _stage_batch(spark, zones, [current[k] for k in sorted(read)])
    dates = batch.outcome.session_dates | bookmark.partitions_of(read | removed)
    extra, dates = bookmark.contributors(dates, exclude=read | removed)
    if extra:  # unchanged files that share a session date with the changed ones: deduplicate with them too
        batch.outcome.unpersist()
        read = read | extra
        batch = _stage_batch(spark, zones, [current[k] for k in sorted(read)])
        dates |= batch.outcome.session_dates
    _check(fs, zones, batch.records)
    _publish(fs, zones, batch, dates, {quarantine_key(key) for key in read | removed})
    for key in removed:
        del bookmark.files[key]
    _remember(bookmark, zones, batch)
    _finish(fs, zones, batch, bookmark)
    return batch.records


def _remember(bookmark: FileBookmark, zones: Zones, batch: Batch) -> None:
    for f in batch.files:
        bookmark.files[zones.key(f.uri)] = StagedFile(
            size=f.size,
            modified_ms=f.modified_ms,
            partitions=batch.outcome.partitions.get(f.uri, ()),
            batch_id=batch.id,
        )


def _finish(fs: HadoopFS, zones: Zones, batch: Batch, bookmark: FileBookmark) -> None:
    """The batch is published: write its audit records, then the bookmark (the last step of a run)."""
    for record in batch.records:
        write_audit(fs, zones.logs_root, record)
    bookmark.save(fs, zones.bookmark)
    batch.outcome.unpersist()


def run(
    spark: SparkSession, raw_uri: str, stage_uri: str, logs_uri: str, full_refresh: bool = False
) -> AuditRecord:
    """Stage the GA files under ``raw_uri`` that are new or changed since the last run (all of them with
    ``full_refresh``, or when there is no bookmark or no stage table yet). Returns the ``ga_sessions`` audit
    record of the batch; a run with nothing to stage writes nothing and returns an empty, balanced record."""
    fs = HadoopFS(spark)
    zones = Zones.of(raw_uri, stage_uri, logs_uri)
    files = list_versions(spark, zones.source_root, SUFFIXES)
    bookmark = None
    if not full_refresh and fs.exists(zones.sessions) and fs.exists(zones.hits):
        bookmark = FileBookmark.load(fs, zones.bookmark, SOURCE)
    if bookmark is None or bookmark.inputs.get("code") != stage_code_fingerprint(SOURCE):
        return _full_refresh(spark, fs, zones, files)[0]
    records = _incremental(spark, fs, zones, files, bookmark)
    if records is None:
        return AuditRecord(
            SOURCE, batch_id_for(SOURCE, [], zones.raw_root), 0, 0, 0, 0, stage_uri=zones.sessions
        )
    return records[0]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_job_args(argv if argv is not None else sys.argv[1:], required=[], optional=FULL_REFRESH_ARG)
    raw, stage, logs = lake_uris(args)
    spark = get_session(f"c360-stage-{SOURCE}")
    print(run(spark, raw, stage, logs, is_true(args["full_refresh"])).to_json())


if __name__ == "__main__":
    main()
