"""Stage a mainframe extract with its COBOL copybook: the same ``.cpy`` that wrote the fixed-width records
(:mod:`ingestion.copybooks`) decodes them here, field by field, in Spark column expressions (no Python UDF).

A job describes its stage table with a :class:`CopybookSource`: the raw folder, the copybook, the business key,
one :class:`StageColumn` per stage column (which copybook field it comes from and how it is typed: a number, a
trimmed text, a YYYYMMDD or YYMMDD date, a code translated to its English value, a date and time) and the foreign
keys to flag. :func:`copybook_run` makes the job's ``run``, which runs the shared line-source flow of
:mod:`spark_jobs.common.runner` (read, parse, keep the latest record per key, publish atomically, quarantine,
reconcile, audit).

Quarantine reasons, per record:

* ``record length N, expected M`` (a truncated record, an extra or a missing field);
* ``<FIELD> is not numeric (PIC ...)``: a numeric field holding anything but its digits and sign;
* ``<column> missing``, ``<column> is not a valid date (YYYYMMDD or YYMMDD)``, ``unknown <column> code``,
  ``<column> is not positive``, ``<column>: <FIELD> is not a valid HHMMSS time``;
* ``record contains control characters (wrong encoding?)``; undecodable bytes are caught by the reader.

Records are files of lines in an ASCII-compatible encoding, or fixed-length records without separators when the
encoding is an EBCDIC code page (``cp037``), as the copybook module writes them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ingestion.copybooks import DEFAULT_ENCODING, Field, RecordLayout, is_ebcdic, load_layout
from spark_jobs.common.args import FULL_REFRESH_ARG, is_true, parse_job_args
from spark_jobs.common.foreign_keys import ForeignKey, flag_orphans, require_parents
from spark_jobs.common.hadoopfs import HadoopFS
from spark_jobs.common.lineage import ingested_at
from spark_jobs.common.pkdd_codes import translate
from spark_jobs.common.quality import AuditRecord
from spark_jobs.common.runner import LineSource, Parse, lake_uris, stage_line_source
from spark_jobs.common.session import get_session

Kind = Literal["number", "text", "date", "code", "timestamp"]

LINEAGE_FIELDS = [
    T.StructField("_source_file", T.StringType(), False),
    T.StructField("_ingested_at", T.TimestampType(), True),
    T.StructField("_batch_id", T.StringType(), False),
]
ORPHAN_FIELD = T.StructField("is_orphan", T.BooleanType(), False)
RAW_SUFFIXES = (".dat",)
StageRun = Callable[[SparkSession, str, str, str, str, bool], AuditRecord]
"""A job's ``run(spark, raw_uri, stage_uri, logs_uri, encoding, full_refresh)``."""

_POSITIVE_OVERPUNCH = "{ABCDEFGHI"
_NEGATIVE_OVERPUNCH = "}JKLMNOPQR"
YY_PIVOT = 68
"""Two-digit years 00-68 are 2000-2068, 69-99 are 1969-1999 (the POSIX ``%y`` rule)."""


@dataclass(frozen=True)
class StageColumn:
    """One column of a stage table and the copybook field it is decoded from."""

    name: str
    dtype: T.DataType
    field: str
    """The copybook column (``open_date`` for ``OPEN-DATE``) the value comes from."""
    kind: Kind
    required: bool = False
    """A blank field quarantines the record (``<name> missing``)."""
    positive: bool = False
    """A number that must be greater than zero."""
    codes: Mapping[str, str] | None = None
    """For ``code`` columns: code -> English value."""
    time_field: str | None = None
    """For ``timestamp`` columns: the HHMMSS field that goes with the date ``field``."""


def number(
    name: str, dtype: T.DataType, field: str | None = None, required: bool = False, positive: bool = False
) -> StageColumn:
    return StageColumn(name, dtype, field or name, "number", required=required, positive=positive)


def text(name: str, field: str | None = None, required: bool = False) -> StageColumn:
    return StageColumn(name, T.StringType(), field or name, "text", required=required)


def date(name: str, field: str | None = None, required: bool = False) -> StageColumn:
    return StageColumn(name, T.DateType(), field or name, "date", required=required)


def code(
    name: str, codes: Mapping[str, str], field: str | None = None, required: bool = False
) -> StageColumn:
    return StageColumn(name, T.StringType(), field or name, "code", required=required, codes=codes)


def timestamp(name: str, date_field: str, time_field: str) -> StageColumn:
    return StageColumn(name, T.TimestampType(), date_field, "timestamp", time_field=time_field)


@dataclass(frozen=True)
class CopybookSource:
    """A mainframe extract and the stage table it becomes."""

    name: str
    """The stage table, e.g. ``accounts``."""
    raw_prefix: str
    """The raw folder, e.g. ``account``."""
    copybook: str
    """``ingestion/copybooks/<copybook>.cpy``."""
    key: str
    """The business key: one stage row per value (the record of the latest extract)."""
    columns: tuple[StageColumn, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    """Checked against other stage tables of the run; a miss sets ``is_orphan`` (the record is kept)."""

    @property
    def layout(self) -> RecordLayout:
        return load_layout(self.copybook)

    @property
    def schema(self) -> T.StructType:
        fields = [T.StructField(c.name, c.dtype, c.name != self.key) for c in self.columns]
        if self.foreign_keys:
            fields.append(ORPHAN_FIELD)
        return T.StructType([*fields, *LINEAGE_FIELDS])


# --- decoding one field --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    """A field's text on the record, its value (null when blank or malformed) and whether it is malformed."""

    text: Column
    value: Column
    blank: Column
    malformed: Column


def picture(f: Field) -> str:
    """The field's PIC clause, for messages: ``9(8)``, ``S9(9)V99``, ``X(18)``."""
    if f.kind == "string":
        return f"X({f.length})"
    whole = f.digits - f.scale
    return ("S" if f.signed else "") + f"9({whole})" + (f"V9({f.scale})" if f.scale else "")


def decode_field(f: Field, record: Column) -> Decoded:
    """Decode one copybook field of ``record`` (a string column) with column expressions."""
    raw = F.substring(record, f.offset + 1, f.length)
    is_blank = F.trim(raw) == ""
    if f.kind == "string":
        value = F.when(~is_blank, F.trim(raw))
        return Decoded(raw, value, is_blank, F.lit(False))
    digits, sign, pattern = _digits_and_sign(f, raw)
    valid = raw.rlike(pattern)
    if f.kind == "integer":
        value = F.concat(sign, digits).cast(T.LongType())
    else:
        whole = f.digits - f.scale
        number_text = F.concat(
            sign,
            F.lit("0"),
            F.substring(digits, 1, whole),
            F.lit("."),
            F.substring(digits, whole + 1, f.scale),
        )
        value = number_text.cast(T.DecimalType(f.digits + 1, f.scale))
    return Decoded(raw, F.when(~is_blank & valid, value), is_blank, ~is_blank & ~valid)


def _digits_and_sign(f: Field, raw: Column) -> tuple[Column, Column, str]:
    """(the digits, '-' or '', the regex a well-formed field matches) for a numeric field."""
    n = f.digits
    if not f.signed:
        return raw, F.lit(""), f"^[0-9]{{{n}}}$"
    if f.sign_separate:
        if f.sign_leading:
            sign_char, digits, pattern = F.substring(raw, 1, 1), F.substring(raw, 2, n), f"^[+-][0-9]{{{n}}}$"
        else:
            sign_char, digits, pattern = (
                F.substring(raw, n + 1, 1),
                F.substring(raw, 1, n),
                f"^[0-9]{{{n}}}[+-]$",
            )
        return digits, F.when(sign_char == "-", F.lit("-")).otherwise(F.lit("")), pattern
    # Zoned overpunch: the sign is carried by the first or last digit ({A..I positive, }J..R negative).
    punches = "0-9{A-I}J-R"
    position = 1 if f.sign_leading else n
    punched = F.substring(raw, position, 1)
    digit = F.translate(punched, _POSITIVE_OVERPUNCH + _NEGATIVE_OVERPUNCH, "01234567890123456789")
    if f.sign_leading:
        digits = F.concat(digit, F.substring(raw, 2, n - 1))
        pattern = f"^[{punches}][0-9]{{{n - 1}}}$"
    else:
        digits = F.concat(F.substring(raw, 1, n - 1), digit)
        pattern = f"^[0-9]{{{n - 1}}}[{punches}]$"
    negative = punched.isin(*_NEGATIVE_OVERPUNCH)
    return digits, F.when(negative, F.lit("-")).otherwise(F.lit("")), pattern


def calendar_date(value: Column) -> Column:
    """A YYYYMMDD number (or YYMMDD, when it has six digits or fewer) as a date; null when it is no valid date
    between 1900 and 2099."""
    yy = F.floor(value / 10_000)
    century = F.when(yy <= YY_PIVOT, F.lit(2000)).otherwise(F.lit(1900))
    ymd = F.when(value < 1_000_000, (century + yy) * 10_000 + value % 10_000).otherwise(value)
    parsed = F.to_date(F.lpad(ymd.cast("string"), 8, "0"), "yyyyMMdd")
    return F.when((value >= 0) & F.year(parsed).between(1900, 2099), parsed)


def clock_time(day: Column, hhmmss: Column) -> Column:
    """A date and an HHMMSS number as a UTC timestamp; null when the time is not a valid time of day."""
    padded = F.lpad(hhmmss.cast("string"), 6, "0")
    valid = (hhmmss >= 0) & (hhmmss < 240_000) & padded.rlike("^[0-2][0-9][0-5][0-9][0-5][0-9]$")
    return F.when(
        valid, F.to_timestamp(F.concat(F.date_format(day, "yyyy-MM-dd"), padded), "yyyy-MM-ddHHmmss")
    )


# --- parsing records ----------------------------------------------------------------------------------------


def record_parser(source: CopybookSource) -> Parse:
    """The ``parse`` step of the line-source flow: raw records -> (typed rows, rows with a ``reason``)."""
    layout = source.layout

    def parse(lines: DataFrame, batch_id: str) -> tuple[DataFrame, DataFrame]:
        record = F.col("raw_record")
        fields = {f.column: decode_field(f, record) for f in layout.data_fields}
        length_ok = F.length(record) == layout.record_length
        values = {name: F.when(length_ok, d.value) for name, d in fields.items()}
        typed = {c.name: _typed(c, values) for c in source.columns}

        checks: list[tuple[Column, Column | str]] = [
            (
                ~length_ok,
                F.format_string(f"record length %d, expected {layout.record_length}", F.length(record)),
            ),
            (record.rlike(r"\p{Cc}"), "record contains control characters (wrong encoding?)"),
        ]
        for f in layout.data_fields:
            if f.kind != "string":
                checks.append(
                    (length_ok & fields[f.column].malformed, f"{f.name} is not numeric (PIC {picture(f)})")
                )
        for c in source.columns:
            checks += _column_checks(c, fields, values, typed[c.name], length_ok)

        reason = F.concat_ws(
            "; ", *[F.when(failed, why if isinstance(why, Column) else F.lit(why)) for failed, why in checks]
        )
        checked = lines.select(
            "*", *[expr.alias(f"_c_{name}") for name, expr in typed.items()], reason.alias("reason")
        ).withColumn("reason", F.when(F.col("reason") != "", F.col("reason")))
        good = checked.where(F.col("reason").isNull()).select(
            *[F.col(f"_c_{c.name}").cast(c.dtype).alias(c.name) for c in source.columns],
            "_source_file",
            ingested_at(F.col("_source_file")).alias("_ingested_at"),
            F.lit(batch_id).alias("_batch_id"),
            "_line_number",
        )
        bad = checked.where(F.col("reason").isNotNull()).select(
            "_source_file", "_line_number", "raw_record", "reason"
        )
        return good, bad

    return parse


def _typed(c: StageColumn, values: dict[str, Column]) -> Column:
    """The stage value of column ``c`` from the decoded field values (null when it does not convert)."""
    value = values[c.field]
    if c.kind == "date":
        return calendar_date(value)
    if c.kind == "timestamp":
        return clock_time(calendar_date(value), values[c.time_field or ""])
    if c.kind == "code":
        return translate(value, c.codes or {})
    return value


def _column_checks(
    c: StageColumn, fields: dict[str, Decoded], values: dict[str, Column], typed: Column, length_ok: Column
) -> list[tuple[Column, str]]:
    decoded = fields[c.field]
    present = length_ok & ~decoded.blank & ~decoded.malformed
    checks: list[tuple[Column, str]] = []
    if c.required:
        checks.append((length_ok & decoded.blank, f"{c.name} missing"))
    if c.kind == "date":
        checks.append((present & typed.isNull(), f"{c.name} is not a valid date (YYYYMMDD or YYMMDD)"))
    elif c.kind == "code":
        checks.append((present & typed.isNull(), f"unknown {c.name} code"))
    elif c.kind == "timestamp":
        clock = fields[c.time_field or ""]
        has_time = length_ok & ~clock.blank & ~clock.malformed
        checks.append(
            (
                present & has_time & calendar_date(values[c.field]).isNotNull() & typed.isNull(),
                f"{c.name}: {(c.time_field or '').upper().replace('_', '-')} is not a valid HHMMSS time",
            )
        )
    elif c.kind == "number" and c.positive:
        checks.append((present & (values[c.field] <= 0), f"{c.name} is not positive"))
    return checks


# --- deduplication and the job --------------------------------------------------------------------------------


def latest_per_key(good: DataFrame, key: str) -> DataFrame:
    """One row per business key: the record of the latest extract (file time stamp), then the later file name
    and line (so ties are broken the same way on every run)."""
    order = Window.partitionBy(key).orderBy(
        F.col("_ingested_at").desc_nulls_last(), F.col("_source_file").desc(), F.col("_line_number").desc()
    )
    return good.withColumn("_rank", F.row_number().over(order)).where(F.col("_rank") == 1).drop("_rank")


def line_source(source: CopybookSource, stage_root: str, encoding: str = DEFAULT_ENCODING) -> LineSource:
    """The runner's spec for ``source``: parse with the copybook, dedupe by key, flag orphan foreign keys."""
    layout = source.layout

    def dedupe(good: DataFrame) -> DataFrame:
        latest = latest_per_key(good, source.key)
        if source.foreign_keys:
            latest = flag_orphans(latest, source.foreign_keys, stage_root)
        return latest

    return LineSource(
        name=source.name,
        raw_prefix=source.raw_prefix,
        suffixes=RAW_SUFFIXES,
        parse=record_parser(source),
        schema=source.schema,
        dedupe=dedupe,
        encoding=encoding,
        record_length=layout.record_length if is_ebcdic(encoding) else None,
        sort_by=(source.key,),
        incremental=True,
        parents=tuple(fk.parent_table for fk in source.foreign_keys),
        reflag=(lambda table: flag_orphans(table, source.foreign_keys, stage_root))
        if source.foreign_keys
        else None,
    )


def copybook_run(source: CopybookSource) -> StageRun:
    """The ``run`` of a mainframe stage job: stage the extracts of ``source`` (the full unload and the nightly
    increments) into ``<stage>/<name>/``, the ones new since the last run merged by key into the table (every
    one with ``full_refresh``)."""

    def run(
        spark: SparkSession,
        raw_uri: str,
        stage_uri: str,
        logs_uri: str,
        encoding: str = DEFAULT_ENCODING,
        full_refresh: bool = False,
    ) -> AuditRecord:
        stage_root = stage_uri.rstrip("/")
        require_parents(HadoopFS(spark), source.name, source.foreign_keys, stage_root)
        spec = line_source(source, stage_root, encoding)
        return stage_line_source(spark, spec, raw_uri, stage_uri, logs_uri, full_refresh=full_refresh)

    run.__doc__ = (
        f"Stage the {source.raw_prefix} extracts under ``raw_uri`` that are new since the last run (every one "
        f"with ``full_refresh``) into ``<stage>/{source.name}/``: merge, quarantine, reconcile, audit."
    )
    return run


def copybook_main(source: CopybookSource, argv: Sequence[str] | None, run: StageRun) -> None:
    """The script entry point of a mainframe stage job: ``--lake`` (or the three URIs), ``--encoding`` and
    ``--full_refresh true`` (stage every extract again)."""
    args = parse_job_args(argv if argv is not None else sys.argv[1:], required=[], optional=FULL_REFRESH_ARG)
    raw, stage, logs = lake_uris(args)
    spark = get_session(f"c360-stage-{source.name}")
    encoding = args.get("encoding") or DEFAULT_ENCODING
    print(run(spark, raw, stage, logs, encoding, is_true(args["full_refresh"])).to_json())
