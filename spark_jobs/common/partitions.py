"""Rewriting some partitions of a partitioned stage table, crash-safe.

An incremental batch rewrites only the partitions it touches: the new content is written to a staging folder,
then each partition folder is swapped in on its own (:func:`spark_jobs.common.runner.replace_partition`). The old
folder is parked in a trash folder that survives a crash (unlike the staging folder): if a job dies between the two
renames of a swap, the partition is absent from the table but intact in the trash, and :func:`restore_replaced`
puts it back at the start of the next run, before anything reads the table.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import DataFrame

from spark_jobs.common.hadoopfs import HadoopFS
from spark_jobs.common.runner import replace_partition


def restore_replaced(fs: HadoopFS, trash: str, target: str) -> list[str]:
    """Move back every partition folder of ``trash`` whose partition is missing from ``target`` (a swap that was
    interrupted), drop the rest (swaps that finished), and return the restored partition folder names."""
    names = sorted({f.uri[len(trash.rstrip("/")) + 1 :].split("/", 1)[0] for f in fs.list_files(trash)})
    restored = []
    for name in names:
        if not fs.exists(f"{target}/{name}"):
            fs.rename(f"{trash}/{name}", f"{target}/{name}")
            restored.append(name)
    fs.delete(trash)
    return restored


def swap_partitions(
    fs: HadoopFS,
    frame: DataFrame,
    target: str,
    staging: str,
    trash: str,
    partition_by: str,
    values: Iterable[str],
    sort_by: tuple[str, ...] = (),
) -> None:
    """Replace the partitions ``<partition_by>=<value>`` of ``target`` for the given values, and only those, with
    the rows of ``frame`` (one file per partition). A value without rows removes its partition."""
    fs.delete(staging)
    ordered = frame.repartition(partition_by).sortWithinPartitions(partition_by, *sort_by)
    ordered.write.mode("overwrite").partitionBy(partition_by).parquet(staging)
    for value in sorted(set(values)):
        name = f"{partition_by}={value}"
        replace_partition(fs, f"{staging}/{name}", f"{target}/{name}", f"{trash}/{name}")
    fs.delete(staging)
