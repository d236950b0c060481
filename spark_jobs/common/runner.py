"""The shape every line-based stage job shares: list the raw files, read their lines, parse and validate, keep the
latest record per business key, write the stage table atomically, quarantine the rest, reconcile, audit.

A job supplies a :class:`LineSource` (its parse and dedup transformations and its stage schema) and calls
:func:`stage_line_source`. Raw rows = stage rows + quarantined rows + deduplicated rows, or the job fails.

Incremental sources (``LineSource.incremental``: files that add or update records by business key, such as the
mainframe's nightly increments) stage only the files that are new since the last run and merge their rows into the
stage table with the same ``dedupe`` as a full run: the bookmark ``<logs>/bookmarks/<source>.json`` remembers each
staged file (size and modification time) and what else the rows were computed from (the stage code, the encoding,
the parent tables of the orphan flags). A full run replaces it all when a staged file changed or disappeared, the
code or encoding changed, the stage table is missing or of other columns, or ``full_refresh`` is asked for.
A changed parent alone checks the orphan flags again, and merges (rewrites the table) only when one of them changes.
A partitioned source with a business key (``LineSource.key``: retail orders by month) merges and rewrites only
the partitions its new rows fall in or replace a row of.
Snapshot sources (``LineSource.snapshots``: every file is the whole state, such as the visitor map) read the new
files and the one snapshot the stage table was taken from, instead of every snapshot ever delivered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.code_version import stage_code_fingerprint
from spark_jobs.common.file_bookmarks import FileBookmark, FileVersion, StagedFile, list_versions
from spark_jobs.common.hadoopfs import HadoopFS, RemoteFile
from spark_jobs.common.quality import (
    AuditRecord,
    batch_id_for,
    quarantine_frame,
    read_lines,
    reconcile,
    write_audit,
)
from spark_jobs.common.session import sized_for

Parse = Callable[[DataFrame, str], tuple[DataFrame, DataFrame]]
"""(raw lines, batch id) -> (typed good rows, bad rows with a ``reason`` column)."""
Prepare = Callable[[DataFrame], DataFrame]
"""Raw lines -> raw lines, before :func:`transform` (e.g. drop valid header lines, mark the files' status)."""


@dataclass(frozen=True)
class LineSource:
    name: str
    """The stage table (and audit source) name, e.g. ``crm_customers``."""
    raw_prefix: str
    """The folder under the raw zone that holds this source's files."""
    suffixes: tuple[str, ...]
    parse: Parse
    schema: T.StructType
    """The stage table's columns, in order."""
    dedupe: Callable[[DataFrame], DataFrame] | None = None
    """Good rows -> one row per business key (None: no duplicates are possible)."""
    partition_by: str | None = None
    encoding: str = "utf-8"
    record_length: int | None = None
    """Set for files of fixed-length records without separators (EBCDIC ``RECFM=FB``)."""
    header_lines: int = 0
    """Lines at the top of every file that are a header, not records (not counted as raw rows)."""
    sort_by: tuple[str, ...] = ()
    incremental: bool = False
    """Stage only new files and merge their rows into the stage table by ``dedupe`` (which must then give, for
    the stage rows plus the new rows, what it gives for all the files' rows)."""
    snapshots: bool = False
    """With ``incremental``: every file is a whole snapshot and ``dedupe`` keeps the rows of the latest one, so
    an incremental run reads the new files and the one the stage table was taken from, and replaces the table
    from them (the earlier snapshots cannot win)."""
    parents: tuple[str, ...] = ()
    """The stage tables ``dedupe`` reads (the parents of its orphan flags): when one changed since the last run,
    an incremental run merges (and so flags again) even without new rows."""
    reflag: Callable[[DataFrame], DataFrame] | None = None
    """A stage table -> the same rows with ``is_orphan`` computed again against ``parents`` (other columns kept):
    when only a parent changed, an incremental run first checks whether any flag changes, and merges only then.
    (None: it merges whenever a parent changed.)"""
    key: tuple[str, ...] = ()
    """The business key ``dedupe`` keeps one row per (which must be all it compares rows by). With
    ``partition_by`` and no ``parents``, an incremental merge reads and rewrites only the partitions it touches:
    those of its new rows and those of the table's rows with the same keys (empty: the whole table)."""

    def __post_init__(self) -> None:
        if self.incremental and self.dedupe is None:
            raise ValueError(f"{self.name}: an incremental source needs a dedupe to merge new rows by key")
        if self.snapshots and not self.incremental:
            raise ValueError(f"{self.name}: snapshots is a kind of incremental source")


@dataclass(frozen=True)
class StageOutcome:
    stage: DataFrame
    quarantine: DataFrame
    raw_rows: int
    stage_rows: int
    quarantined_rows: int
    deduplicated_rows: int
    cached: tuple[DataFrame, ...] = ()
    """Frames cached for the counts and the writes: :meth:`unpersist` once the outcome is published."""
    partitions: tuple[str, ...] | None = None
    """The values of ``partition_by`` whose partitions ``stage`` replaces, and only those (None: the whole table)."""

    def unpersist(self) -> None:
        for frame in self.cached:
            frame.unpersist()


def count_rows(*frames: DataFrame) -> list[int]:
    """The row count of each of ``frames``, in one Spark action (one aggregation over their union) rather than
    one action per frame."""
    tagged = [frame.select(F.lit(i).alias("_frame")) for i, frame in enumerate(frames)]
    union = reduce(DataFrame.unionAll, tagged)
    row = union.agg(*[F.count(F.when(F.col("_frame") == i, 1)) for i in range(len(frames))]).first()
    return [int(count) for count in row]


def transform(
    spec: LineSource, lines: DataFrame, batch_id: str, existing: DataFrame | None = None
) -> StageOutcome:
    """Everything but I/O: raw lines in; stage rows, quarantine rows and the counts out.

    The lines, the good rows and the stage rows are cached, and counted together in one action: the parse, the
    deduplication and the foreign-key lookups then run once, and the stage table is written from the cache.

    With ``existing`` (the current stage table, for an incremental run), the stage rows are ``dedupe`` of the
    existing rows and the new good rows together, and the batch counts what it changed: ``stage_rows`` the rows
    it added to the table, ``deduplicated_rows`` its good rows that did not add one (they replaced a row of the
    table, lost to one, or repeated one another). For a source with a ``key`` and partitions, the existing rows are
    those of the partitions the batch touches (:func:`touched_partitions`), and the stage rows replace those
    partitions only."""
    records = lines.where(F.col("_line_number") > spec.header_lines) if spec.header_lines else lines
    records = records.cache()
    undecodable = records.where(F.col("_decode_error").isNotNull()).withColumn(
        "reason", F.col("_decode_error")
    )
    blank = records.where(F.col("_decode_error").isNull() & (F.trim(F.col("raw_record")) == "")).withColumn(
        "reason", F.lit("empty line")
    )
    readable = records.where(F.col("_decode_error").isNull() & (F.trim(F.col("raw_record")) != ""))
    good, bad = spec.parse(readable.drop("_decode_error"), batch_id)
    stage_columns = [field.name for field in spec.schema.fields]
    partitions: tuple[str, ...] | None = None
    if existing is not None and spec.dedupe:
        good = good.cache()
        partitions = touched_partitions(spec, good, existing)
        if partitions is not None:
            existing = existing.where(F.col(str(spec.partition_by)).isin(list(partitions)))
        stage = (
            spec.dedupe(good.unionByName(as_good_rows(existing, good.schema))).select(stage_columns).cache()
        )
        raw_rows, good_rows, rows_after, rows_before = count_rows(records, good, stage, existing)
        stage_rows = rows_after - rows_before
        cached = (stage, good, records)
    elif spec.dedupe:
        good = good.cache()
        stage = spec.dedupe(good).select(stage_columns).cache()
        raw_rows, good_rows, stage_rows = count_rows(records, good, stage)
        cached = (stage, good, records)
    else:
        stage = good.select(stage_columns).cache()
        raw_rows, stage_rows = count_rows(records, stage)
        good_rows = stage_rows
        cached = (stage, records)
    columns = ["_source_file", "_line_number", "raw_record", "reason"]
    quarantined = (
        undecodable.select(columns).unionByName(blank.select(columns)).unionByName(bad.select(columns))
    )
    quarantined_rows = raw_rows - good_rows
    quarantine = quarantine_frame(quarantined, spec.name, batch_id)
    return StageOutcome(
        stage=stage,
        quarantine=quarantine,
        raw_rows=raw_rows,
        stage_rows=stage_rows,
        quarantined_rows=quarantined_rows,
        deduplicated_rows=good_rows - stage_rows,
        cached=cached,
        partitions=partitions,
    )


def touched_partitions(spec: LineSource, good: DataFrame, existing: DataFrame) -> tuple[str, ...] | None:
    """The partitions a merge of the new rows ``good`` into ``existing`` can change: those the new rows fall in,
    and those holding a row of the table with one of their keys (which a new row may replace from another
    partition). A row whose key no new row has stays as it is, so the other partitions need not be read or
    written. None (merge the whole table) for a source without ``key`` or partitions, with ``parents`` (their
    change may flag any row), or when a partition value is null."""
    if not (spec.key and spec.partition_by) or spec.parents:
        return None
    keys = list(spec.key)
    column = spec.partition_by
    replaced = existing.join(good.select(keys).distinct(), keys, "left_semi").select(column)
    values = [row[0] for row in good.select(column).union(replaced).distinct().collect()]
    if any(value is None for value in values):
        return None
    return tuple(sorted(str(value) for value in values))


def as_good_rows(stage: DataFrame, schema: T.StructType) -> DataFrame:
    """Stage rows in the shape of a parse's good rows (``schema``), so that ``dedupe`` can rank them with new
    rows: a column the stage table does not keep (the line number, which only orders the lines of one file) is
    null, and columns ``dedupe`` adds (the orphan flag) are dropped, to be computed again."""
    columns = set(stage.columns)
    return stage.select(
        [
            (F.col(f.name) if f.name in columns else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in schema.fields
        ]
    )


def publish(
    fs: HadoopFS,
    frame: DataFrame,
    target: str,
    staging: str,
    sort_by: tuple[str, ...] = (),
    partition_by: str | None = None,
    files: int = 1,
) -> None:
    """Write ``frame`` to a staging folder, then swap it in for ``target``: readers see the old table or the new
    one, never a half-written one. Output is coalesced to ``files`` files (per partition) to avoid tiny files."""
    fs.delete(staging)
    writer_frame = frame.coalesce(files) if not partition_by else frame.repartition(files, partition_by)
    if sort_by:
        writer_frame = writer_frame.sortWithinPartitions(*sort_by)
    writer = writer_frame.write.mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(partition_by)
    writer.parquet(staging)
    fs.replace_dir(staging, target)


def stage_line_source(
    spark: SparkSession,
    spec: LineSource,
    raw_uri: str,
    stage_uri: str,
    logs_uri: str,
    prepare: Prepare | None = None,
    full_refresh: bool = False,
) -> AuditRecord:
    """Stage the files of ``spec`` under ``raw_uri``: replace the stage table, quarantine, reconcile, audit. An
    incremental source stages only its new files, unless ``full_refresh`` (see the module's docstring).

    ``prepare`` (optional) runs between reading the lines and :func:`transform`: raw rows are the lines it
    returns, so lines it drops, such as valid headers, are not records."""
    fs = HadoopFS(spark)
    raw_root = raw_uri.rstrip("/")
    stage_root = stage_uri.rstrip("/")
    source_root = f"{raw_root}/{spec.raw_prefix}"
    target = f"{stage_root}/{spec.name}"
    bookmark_uri = f"{logs_uri.rstrip('/')}/bookmarks/{spec.name}.json"
    # What a killed run left half-written: its batch (so its staging folder) may not be this run's.
    fs.delete(f"{stage_root}/_staging/{spec.name}")
    fs.delete(f"{stage_root}/_staging/_quarantine/{spec.name}")
    files = list_versions(spark, source_root, spec.suffixes)
    inputs = stage_inputs(spark, spec, stage_root)
    bookmark = None
    if spec.incremental and not full_refresh:
        bookmark = current_bookmark(spark, fs, spec, bookmark_uri, target, files, source_root, inputs)
    existing: DataFrame | None = None
    if bookmark is None:
        read, stage_any = files, True
        bookmark = FileBookmark(spec.name)
    else:
        read = [f for f in files if _key(source_root, f.uri) not in bookmark.files]
        parents_changed = bookmark.inputs != inputs  # (other code or encoding stage every file: no bookmark)
        # Only empty new files (or none), and parents that changed no orphan flag: the table stays as it is.
        stage_any = any(f.size for f in read) or (parents_changed and flags_change(spark, spec, target))
        if not read and not stage_any and not parents_changed:
            return AuditRecord(spec.name, batch_id_for(spec.name, [], raw_root), 0, 0, 0, 0, stage_uri=target)
        if stage_any and spec.snapshots:
            read = snapshot_reads(spark, target, files, read)
        elif stage_any:
            existing = spark.read.parquet(target)
    remote = [RemoteFile(f.uri, f.size) for f in read]
    # A batch of no files (the orphan flags checked again against changed parents) is named by those parents'
    # versions, so that each check keeps its own audit record.
    batch_id = batch_id_for(spec.name, remote, raw_root) if remote else recheck_batch_id(spec.name, inputs)
    quarantine = f"{stage_root}/_quarantine/{spec.name}/batch_id={batch_id}"
    if stage_any:
        merged = (
            sum(f.size for f in list_versions(spark, target, (".parquet",))) if existing is not None else 0
        )
        with sized_for(spark, sum(f.size for f in read) + merged):
            record = _stage_files(
                spark, fs, spec, remote, batch_id, stage_root, quarantine, prepare, existing
            )
    else:  # only empty new files or flags checked: no merge, an audit of zero rows
        record = AuditRecord(spec.name, batch_id, 0, 0, 0, 0, [f.uri for f in read], target)
    write_audit(fs, logs_uri, record)
    reconcile(record)
    if spec.incremental:
        for f in read:
            bookmark.files[_key(source_root, f.uri)] = StagedFile(f.size, f.modified_ms, (), batch_id)
        bookmark.inputs = inputs
        bookmark.save(fs, bookmark_uri)
    return record


def _stage_files(
    spark: SparkSession,
    fs: HadoopFS,
    spec: LineSource,
    files: list[RemoteFile],
    batch_id: str,
    stage_root: str,
    quarantine: str,
    prepare: Prepare | None,
    existing: DataFrame | None,
) -> AuditRecord:
    """Read, transform and publish ``files`` (merged into ``existing``, when given): the batch's audit record.
    A batch that does not reconcile publishes nothing."""
    target = f"{stage_root}/{spec.name}"
    lines = read_lines(spark, files, spec.encoding, spec.record_length)
    if prepare is not None:
        lines = lines.cache()
    outcome = transform(spec, prepare(lines) if prepare is not None else lines, batch_id, existing)
    record = AuditRecord(
        source=spec.name,
        batch_id=batch_id,
        raw_rows=outcome.raw_rows,
        stage_rows=outcome.stage_rows,
        quarantined_rows=outcome.quarantined_rows,
        deduplicated_rows=outcome.deduplicated_rows,
        files=[f.uri for f in files],
        stage_uri=target,
        quarantine_uri=quarantine if files else "",
    )
    if not record.balanced:  # fail before anything is published (the audit says why)
        return record
    staging = f"{stage_root}/_staging/{spec.name}/{batch_id}"
    if outcome.partitions is None:
        publish(fs, outcome.stage, target, staging, spec.sort_by, spec.partition_by)
    else:
        assert spec.partition_by is not None  # (partitions are only computed for a partitioned source)
        publish_partitions(
            fs, outcome.stage, target, staging, spec.partition_by, outcome.partitions, spec.sort_by
        )
    # A rerun of the batch replaces its quarantine; a batch without bad records leaves none (no empty file per
    # source and daily batch for readers to list), as does a batch without files (orphan flags checked again).
    if record.quarantined_rows:
        publish(
            fs,
            outcome.quarantine.drop("_batch_id"),
            quarantine,
            f"{stage_root}/_staging/_quarantine/{spec.name}/{batch_id}",
            ("_source_file", "_line_number"),
        )
    elif files:
        fs.delete(quarantine)
    outcome.unpersist()
    if prepare is not None:
        lines.unpersist()
    return record


def flags_change(spark: SparkSession, spec: LineSource, target: str) -> bool:
    """Whether the orphan flags of the stage table ``target`` come out otherwise against its parents now (one
    Spark job, a broadcast lookup of the parents' keys; True when ``spec`` cannot tell, without ``reflag``). When
    none changes, the table is not rewritten, so the tables whose flags are checked against it stay idle too."""
    if spec.reflag is None:
        return True
    was = "_was_orphan"
    again = spec.reflag(spark.read.parquet(target).withColumnRenamed("is_orphan", was))
    return not again.where(~F.col("is_orphan").eqNullSafe(F.col(was))).isEmpty()


def recheck_batch_id(source: str, inputs: Mapping[str, str]) -> str:
    """The batch id of a batch that reads no file: a digest of what it was computed from (the stage code and the
    parent tables' versions), deterministic like :func:`~spark_jobs.common.quality.batch_id_for`."""
    text = "".join(f"{name}\0{value}\n" for name, value in sorted(inputs.items()))
    return f"{source}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def snapshot_reads(
    spark: SparkSession, target: str, files: list[FileVersion], new: list[FileVersion]
) -> list[FileVersion]:
    """What an incremental run of a snapshot source reads: the ``new`` files and the file the stage table was
    taken from (the latest snapshot so far: every earlier staged file lost to it, or had a wrong header). Every
    file when the table is empty, since it then does not tell which snapshot it was taken from."""
    taken_from = {row[0] for row in spark.read.parquet(target).select("_source_file").distinct().collect()}
    if not taken_from:
        return files
    return sorted({*new, *(f for f in files if f.uri in taken_from)}, key=lambda f: f.uri)


def _key(source_root: str, uri: str) -> str:
    """A raw file's bookmark key: its path below the source's folder."""
    return uri[len(source_root) :].lstrip("/")


def current_bookmark(
    spark: SparkSession,
    fs: HadoopFS,
    spec: LineSource,
    uri: str,
    target: str,
    files: list[FileVersion],
    source_root: str,
    inputs: Mapping[str, str],
) -> FileBookmark | None:
    """The bookmark an incremental run can go on from; None when the run must stage every file: no bookmark or
    stage table, a staged file changed or gone, other stage code or encoding, a stage table of other columns."""
    if not fs.exists(target):
        return None
    bookmark = FileBookmark.load(fs, uri, spec.name)
    if bookmark is None:
        return None
    same_settings = all(
        bookmark.inputs.get(name) == value for name, value in inputs.items() if name in SETTINGS
    )
    listed = {_key(source_root, f.uri): f for f in files}
    unchanged = all(key in listed and bookmark.is_current(key, listed[key]) for key in bookmark.files)
    if not (same_settings and unchanged):
        return None
    if [(f.name, f.dataType) for f in spark.read.parquet(target).schema.fields] != [
        (f.name, f.dataType) for f in spec.schema.fields
    ]:
        return None
    return bookmark


SETTINGS = ("code", "encoding")
"""The inputs whose change makes an incremental source stage every file again (a changed parent table only
re-flags the rows)."""


def stage_inputs(spark: SparkSession, spec: LineSource, stage_root: str) -> dict[str, str]:
    """What the stage rows of ``spec`` depend on besides its raw files: the stage code, the encoding and record
    length it reads with, and the version of every parent table (its files' names, sizes and times)."""
    inputs = {
        "code": stage_code_fingerprint(spec.name),
        "encoding": f"{spec.encoding}/{spec.record_length or ''}",
    }
    for parent in spec.parents:
        root = f"{stage_root}/{parent}"
        digest = hashlib.sha256()
        for f in list_versions(spark, root, (".parquet",)):
            digest.update(f"{_key(root, f.uri)}\0{f.size}\0{f.modified_ms}\n".encode())
        inputs[f"parent:{parent}"] = digest.hexdigest()[:16]
    return inputs


def lake_uris(args: dict[str, str]) -> tuple[str, str, str]:
    """(raw, stage, logs) from ``--lake`` or the three explicit ``--raw_uri/--stage_uri/--logs_uri``."""
    lake = args.get("lake", "").rstrip("/")
    raw = args.get("raw_uri") or (f"{lake}/raw" if lake else "")
    stage = args.get("stage_uri") or (f"{lake}/stage" if lake else "")
    logs = args.get("logs_uri") or (f"{lake}/logs" if lake else "")
    if not (raw and stage and logs):
        raise SystemExit("give --lake PATH, or all of --raw_uri, --stage_uri and --logs_uri")
    return raw, stage, logs


# --- files with a header line --------------------------------------------------------------------------------


def header_error(text: str | None, expected: Sequence[str], separator: str = ",") -> str | None:
    """Why ``text`` is not the header ``expected`` (None when it is). Names are compared trimmed and
    case-insensitively; a missing, extra or renamed column is an error."""
    names = [name.strip().lower() for name in text.split(separator)] if text is not None else []
    if names == [name.lower() for name in expected]:
        return None
    got = "no header (empty file)" if text is None else repr(text[:200])
    return f"unexpected header: expected {separator.join(expected)!r}, got {got}"


def file_headers(lines: DataFrame) -> dict[str, str]:
    """The first line of every file (a file without any line has no entry)."""
    first = lines.where(F.col("_line_number") == 1).select("_source_file", "raw_record")
    return {row["_source_file"]: row["raw_record"] for row in first.collect()}


def mark_headers(lines: DataFrame, errors: Mapping[str, str | None]) -> DataFrame:
    """Drop the header line of every file whose header is right, and add ``_header_error``: null for those
    files, the reason for the others, whose lines (line 1 included) a job's parse must then quarantine whole.
    ``errors`` maps each file to :func:`header_error` of its first line."""
    spark = lines.sparkSession
    schema = T.StructType(
        [T.StructField("_source_file", T.StringType(), False), T.StructField("_header_error", T.StringType())]
    )
    status = spark.createDataFrame(sorted(errors.items()), schema)
    marked = lines.join(F.broadcast(status), "_source_file", "left")
    return marked.where(~((F.col("_line_number") == 1) & F.col("_header_error").isNull()))


def stage_prepared_line_source(
    spark: SparkSession,
    spec: LineSource,
    raw_uri: str,
    stage_uri: str,
    logs_uri: str,
    prepare: Prepare,
    full_refresh: bool = False,
) -> AuditRecord:
    """:func:`stage_line_source` with a ``prepare`` step between reading the lines and :func:`transform`."""
    return stage_line_source(spark, spec, raw_uri, stage_uri, logs_uri, prepare, full_refresh)


# --- partition-wise publishing ------------------------------------------------------------------------------
def publish_partitions(
    fs: HadoopFS,
    frame: DataFrame,
    target: str,
    staging: str,
    partition_by: str,
    values: Iterable[str],
    sort_by: tuple[str, ...] = (),
) -> None:
    """Replace the partitions ``<partition_by>=<value>`` of ``target`` for every value in ``values``, and only
    those: ``frame`` (which must hold rows of those partitions only) is written to ``staging``, one file per
    partition, then each partition folder is swapped in on its own. A value without rows removes its partition.

    Readers never see a half-written partition: a partition is the old folder or the new one (or, for the
    instant between two renames, absent). Other partitions are not touched, files and modification times
    included. A job killed mid-way leaves finished partitions swapped and the rest old; rerunning the batch
    rewrites them all, so a caller records the batch as done (its bookmark) only after this returns."""
    fs.delete(staging)
    ordered = frame.repartition(partition_by).sortWithinPartitions(partition_by, *sort_by)
    ordered.write.mode("overwrite").partitionBy(partition_by).parquet(staging)
    for value in sorted(set(values)):
        name = f"{partition_by}={value}"
        replace_partition(fs, f"{staging}/{name}", f"{target}/{name}", f"{staging}/_replaced/{name}")
    fs.delete(staging)


def replace_partition(fs: HadoopFS, staged: str, target: str, trash: str) -> None:
    """Swap the finished folder ``staged`` in for the partition folder ``target`` (the old one goes to ``trash``,
    a hidden folder outside the table, then away); without ``staged``, remove ``target``."""
    if fs.exists(target):
        fs.rename(target, trash)
    if fs.exists(staged):
        fs.rename(staged, target)
    fs.delete(trash)
