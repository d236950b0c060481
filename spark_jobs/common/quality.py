"""Reading raw text with line numbers, quarantining bad records, and reconciling every batch.

A raw record ends in exactly one place: the stage table, the quarantine (with its reason, file and line), or the
count of records merged by deduplication. ``reconcile`` checks that raw = stage + quarantined + deduplicated and
fails the job loudly when it does not hold.
"""

from __future__ import annotations

import hashlib
import json
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
    ]
)

QUARANTINE_COLUMNS = ["source", "_batch_id", "_source_file", "_line_number", "raw_record", "reason"]


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


def read_lines(spark: SparkSession, files: list[RemoteFile]) -> DataFrame:
    """One row per physical line of every file, with the file's URI and the 1-based line number.

    Line numbers come from ``zipWithIndex`` on each file's own RDD, whose partitions follow file offsets, so
    they are exact whatever the split size.
    """
    sc = spark.sparkContext
    rdds = []
    for f in files:
        uri = f.uri

        def with_file(pair: tuple[str, int], uri: str = uri) -> tuple[str, int, str]:
            return (uri, pair[1] + 1, pair[0])

        rdds.append(sc.textFile(uri if "://" in uri else "file://" + uri).zipWithIndex().map(with_file))
    if not rdds:
        return spark.createDataFrame([], RAW_LINE_SCHEMA)
    return spark.createDataFrame(sc.union(rdds), RAW_LINE_SCHEMA)


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
