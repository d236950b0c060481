"""Orphan foreign keys are flagged, not quarantined: a row whose key is missing from the parent stage table of the
same run is kept, with ``is_orphan = true``. The parents are read from the stage zone, so the jobs run in order
(districts, accounts, dispositions, then cards, loans, standing orders and transactions; see
``c360.pipeline.STAGE_JOBS``)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.hadoopfs import HadoopFS


@dataclass(frozen=True)
class ForeignKey:
    column: str
    """The column of the child table."""
    parent_table: str
    """The stage table that must hold the key, e.g. ``accounts``."""
    parent_key: str


class MissingParentError(RuntimeError):
    """A stage job ran before the stage table its foreign keys point to."""


def require_parents(fs: HadoopFS, table: str, foreign_keys: tuple[ForeignKey, ...], stage_root: str) -> None:
    """Fail before doing any work when a parent stage table does not exist yet."""
    for fk in foreign_keys:
        parent = f"{stage_root.rstrip('/')}/{fk.parent_table}"
        if not fs.exists(parent):
            raise MissingParentError(
                f"{table}.{fk.column} is checked against {parent}, which does not exist: stage "
                f"{fk.parent_table} first (c360 stage runs the jobs in the order of c360.pipeline.STAGE_JOBS)"
            )


def flag_orphans(frame: DataFrame, foreign_keys: tuple[ForeignKey, ...], stage_root: str) -> DataFrame:
    """``frame`` with ``is_orphan``: true when any foreign key (not null) is missing from its parent table. Parent
    keys are made distinct before the join, so the row count never changes."""
    spark = frame.sparkSession
    result = frame
    orphan = F.lit(False)
    for i, fk in enumerate(foreign_keys):
        key, found = f"_fk{i}_key", f"_fk{i}_found"
        parent = (
            spark.read.parquet(f"{stage_root.rstrip('/')}/{fk.parent_table}")
            .select(F.col(fk.parent_key).cast(frame.schema[fk.column].dataType).alias(key))
            .where(F.col(key).isNotNull())
            .distinct()
            .withColumn(found, F.lit(True))
        )
        # Parents are dimension-sized (accounts, dispositions, clients): broadcast their keys, never shuffle the
        # child rows (transactions) for the lookup.
        result = result.join(F.broadcast(parent), result[fk.column] == parent[key], "left").drop(key)
        orphan = orphan | (F.col(fk.column).isNotNull() & F.col(found).isNull())
    drops = [f"_fk{i}_found" for i in range(len(foreign_keys))]
    return result.withColumn("is_orphan", orphan).drop(*drops)
