"""Reading raw text with line numbers, quarantining bad records, and reconciling every batch.

A raw record ends in exactly one place: the stage table, the quarantine (with its reason, file and line), or the
count of records merged by deduplication. ``reconcile`` checks that raw = stage + quarantined + deduplicated and
fails the job loudly when it does not hold.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.hadoopfs import HadoopFS, RemoteFile

RAW_LINE_SCHEMA = T.StructType(
    [
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_line_number", T.LongType(), False),
        T.StructField("raw_record", T.StringType(), True),
        T.StructField("_decode_error", T.StringType(), True),
    ]
)

QUARANTINE_COLUMNS = ["source", "_batch_id", "_source_file", "_line_number", "raw_record", "reason"]

# A file is read whole by one task, and Spark packs small files into splits of up to 128 MB, so the lines of a
# source start in few partitions: GA's 730 day files at scale 1 (55 MB of gzip) came out as one, and its parse ran
# as one task (on a cluster: a few tasks, whatever the cores). Past SPREAD_BYTES, files are grouped for the read (about one group per SPLIT_BYTES, at least one per
# core), and a file larger than SPLIT_BYTES has its lines spread after the read (a million-line extract would
# otherwise run every later step on one core).
SPREAD_BYTES = 4 * 1024 * 1024
SPLIT_BYTES = 32 * 1024 * 1024


class ReconciliationError(RuntimeError):
    """raw rows != stage rows + quarantined rows + deduplicated rows."""


@dataclass
class AuditRecord:
    source: str
    batch_id: str
    raw_rows: int
    stage_rows: int
    quarantined_rows: int
    deduplicated_rows: int
    files: list[str] = field(default_factory=list)
    stage_uri: str = ""
    quarantine_uri: str = ""
    finished_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def balanced(self) -> bool:
        return self.raw_rows == self.stage_rows + self.quarantined_rows + self.deduplicated_rows

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "balanced": self.balanced}, indent=2, sort_keys=True) + "\n"


def batch_id_for(source: str, files: list[RemoteFile], root: str) -> str:
    """A deterministic batch id from the input files (relative path and size): rerunning the same input gives the
    same id, so reruns replace exactly what they wrote."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.uri[len(root) :]}\0{f.size}\n".encode())
    return f"{source}-{digest.hexdigest()[:16]}"


def split_lines(
    uri: str, data: bytes, encoding: str = "utf-8"
) -> list[tuple[str, int, str | None, str | None]]:
    """Split one file's bytes into ``(file, line number, text, decode error)`` rows.

    Lines end with LF (CRLF and a UTF-8 byte-order mark are removed); a final line without a newline still counts.
    A line that does not decode in ``encoding`` keeps its text with replacement characters and a decode error, so
    it can be quarantined with the reason instead of being lost.
    """
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig") and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    newline = "\n".encode(encoding)
    chunks = data.split(newline)
    if chunks and chunks[-1] == b"":
        chunks.pop()
    carriage_return = "\r".encode(encoding)
    rows: list[tuple[str, int, str | None, str | None]] = []
    for number, chunk in enumerate(chunks, start=1):
        if chunk.endswith(carriage_return):
            chunk = chunk[: -len(carriage_return)]
        try:
            rows.append((uri, number, chunk.decode(encoding), None))
        except UnicodeDecodeError as exc:
            rows.append(
                (
                    uri,
                    number,
                    chunk.decode(encoding, errors="replace"),
                    f"invalid {encoding} bytes: {exc.reason}",
                )
            )
    return rows


def gunzip(data: bytes) -> tuple[bytes, str | None]:
    """The bytes of a gzip file (every member of a concatenated one) and, when the file is damaged, why.

    A stream that ends early (an upload cut off) gives what was decompressed up to the cut; a stream that is not
    gzip, or is corrupt, gives what came before the damage. The caller quarantines the last line with the reason:
    the cut may have fallen inside it.
    """
    out: list[bytes] = []
    rest = data
    try:
        while rest:
            stream = zlib.decompressobj(wbits=31)
            out.append(stream.decompress(rest))
            if not stream.eof:
                return b"".join(out), "gzip stream ends early (truncated file): its last line may be cut"
            rest = stream.unused_data
    except zlib.error as exc:
        return b"".join(out), f"not a readable gzip stream ({exc}): the file's last line may be cut"
    return b"".join(out), None


def split_gzip_lines(
    uri: str, data: bytes, encoding: str = "utf-8"
) -> list[tuple[str, int, str | None, str | None]]:
    """:func:`split_lines` of a gzip file's content. A damaged file keeps the lines before the damage; its last
    line (or, when none could be read, one empty line) carries the reason, so the damage is quarantined and
    counted instead of lost."""
    text, damage = gunzip(data)
    rows = split_lines(uri, text, encoding)
    if damage is not None:
        if rows:
            last_uri, number, line, error = rows[-1]
            rows[-1] = (last_uri, number, line, "; ".join(e for e in (error, damage) if e))
        else:
            rows.append((uri, 1, "", damage))
    return rows


def split_fixed(
    uri: str, data: bytes, encoding: str, record_length: int
) -> list[tuple[str, int, str | None, str | None]]:
    """Split a file of fixed-length records without separators (a ``RECFM=FB`` data set transferred in binary,
    e.g. EBCDIC cp037) into ``(file, record number, text, error)`` rows; a short last record is kept with an error."""
    rows: list[tuple[str, int, str | None, str | None]] = []
    for number, start in enumerate(range(0, len(data), record_length), start=1):
        chunk = data[start : start + record_length]
        text = chunk.decode(encoding, errors="replace")
        error = None
        if len(chunk) != record_length:
            error = f"truncated record: {len(chunk)} bytes, expected {record_length}"
        rows.append((uri, number, text, error))
    return rows


def read_lines(
    spark: SparkSession, files: list[RemoteFile], encoding: str = "utf-8", record_length: int | None = None
) -> DataFrame:
    """One row per line of every file: the file's URI, the 1-based line number, the text and any decode error.

    Files are read whole (``binaryFiles``), so line numbers are exact and any encoding (UTF-8, EBCDIC cp037) works;
    source extracts are batch files of modest size. With ``record_length`` the files hold fixed-length records
    without line separators, and "line" numbers are record numbers. A file whose name ends in ``.gz`` is gzip
    (one or more members) and is decompressed here, in the worker that read it. Many files are read in groups
    (:func:`file_groups`) and a file larger than ``SPLIT_BYTES`` has its lines repartitioned
    (:func:`line_partitions`), so that the read and the steps after it use every core.
    """
    if not files:
        return spark.createDataFrame([], RAW_LINE_SCHEMA)
    sc = spark.sparkContext
    by_uri = {_hadoop_uri(f.uri): f.uri for f in files}

    def explode(pair: tuple[str, bytes]) -> list[tuple[str, int, str | None, str | None]]:
        path, data = pair
        uri = by_uri.get(path, _plain(path))
        if record_length:
            return split_fixed(uri, bytes(data), encoding, record_length)
        if uri.endswith(".gz"):
            return split_gzip_lines(uri, bytes(data), encoding)
        return split_lines(uri, bytes(data), encoding)

    parallelism = sc.defaultParallelism
    reads = [
        sc.binaryFiles(",".join(_hadoop_uri(f.uri) for f in group))
        for group in file_groups(files, parallelism)
    ]
    lines = spark.createDataFrame(sc.union(reads).flatMap(explode), RAW_LINE_SCHEMA)
    partitions = line_partitions(files, parallelism)
    return lines.repartition(partitions) if partitions else lines


def file_groups(files: list[RemoteFile], parallelism: int) -> list[list[RemoteFile]]:
    """``files`` in groups of about equal size, each read by its own task(s): one group up to ``SPREAD_BYTES`` (a
    task reads them faster than more could be scheduled), else about one group per ``SPLIT_BYTES`` and at least
    one per core, but never more groups than files. The largest files are placed first, each in the lightest
    group so far."""
    total = sum(f.size for f in files)
    count = min(len(files), max(parallelism, -(-total // SPLIT_BYTES))) if total > SPREAD_BYTES else 1
    groups: list[list[RemoteFile]] = [[] for _ in range(count)]
    sizes = [0] * count
    for f in sorted(files, key=lambda f: (-f.size, f.uri)):
        lightest = sizes.index(min(sizes))
        groups[lightest].append(f)
        sizes[lightest] += f.size
    return [group for group in groups if group]


def line_partitions(files: list[RemoteFile], parallelism: int) -> int:
    """How many partitions the lines of ``files`` should be spread over after the read, or 0 to keep the read's.

    0 while no file is larger than ``SPLIT_BYTES`` (:func:`file_groups` already spreads smaller files over the
    read's tasks, and a shuffle would cost more than it spreads). Otherwise one partition per ``SPLIT_BYTES`` read,
    and at least one per core."""
    if not any(f.size > SPLIT_BYTES for f in files):
        return 0
    total = sum(f.size for f in files)
    return max(parallelism, -(-total // SPLIT_BYTES))


def _hadoop_uri(uri: str) -> str:
    return uri if "://" in uri else "file:" + uri


def _plain(uri: str) -> str:
    return uri[len("file:") :] if uri.startswith("file:") else uri


def first_failure(checks: list[tuple[Column, str]]) -> Column:
    """All failed checks' messages joined by '; ' (null when every check passes). A check is (failed?, why)."""
    return F.concat_ws("; ", *[F.when(failed, F.lit(why)) for failed, why in checks]).alias("reason")


def quarantine_frame(bad: DataFrame, source: str, batch_id: str) -> DataFrame:
    return bad.select(
        F.lit(source).alias("source"),
        F.lit(batch_id).alias("_batch_id"),
        "_source_file",
        "_line_number",
        "raw_record",
        "reason",
    )


def write_audit(fs: HadoopFS, logs_root: str, record: AuditRecord) -> str:
    """Write the batch's audit record, and point ``latest.json`` at it."""
    base = f"{logs_root.rstrip('/')}/audit/{record.source}"
    uri = f"{base}/{record.batch_id}.json"
    fs.write_text(uri, record.to_json())
    fs.write_text(f"{base}/latest.json", record.to_json())
    return uri


def reconcile(record: AuditRecord) -> None:
    if not record.balanced:
        raise ReconciliationError(
            f"{record.source} batch {record.batch_id} does not reconcile: raw {record.raw_rows} != stage "
            f"{record.stage_rows} + quarantined {record.quarantined_rows} + deduplicated {record.deduplicated_rows}"
        )
