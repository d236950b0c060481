"""Every step run twice on the same input gives the same content.

- generate: byte-identical raw files;
- stage: the same rows in every stage and quarantine table, every column and every bit, the lineage columns
  ``_source_file``, ``_ingested_at`` and ``_batch_id`` included (they derive from the raw files, not from the run);
- build: the same marts, every column and every bit. (This suite found that they were not: DuckDB summed DOUBLE
  amounts in parallel threads, so the last bits of a sum depended on the order the threads finished in, and every
  rebuild got a new export run id. Money is now DECIMAL from staging on, summed exactly, cast to DOUBLE at the
  marts.)
- export: the same DynamoDB items in the same export folder (its run id is a hash of the content).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from tests.reliability.conftest import SCALE, SEED
from tests.reliability.lakes import (
    assert_same_items,
    assert_same_marts,
    copy_lake,
    export_folders,
    export_items,
    file_bytes,
    mart_hashes,
    mart_rows,
    zone_hashes,
)

pytestmark = pytest.mark.spark


def rerun(lake: Path, *args: str) -> None:
    result = CliRunner().invoke(app, [*args, "--lake", str(lake)])
    assert result.exit_code == 0, f"c360 {args[0]}: {result.output}"


def test_every_step_run_twice_gives_the_same_content(built_lake: Path) -> None:
    lake = built_lake
    raw = file_bytes(lake / "raw")
    stage, quarantine = zone_hashes(lake / "stage"), zone_hashes(lake / "stage" / "_quarantine")
    marts = mart_rows(lake)
    (export,) = export_folders(lake)
    items = export_items(lake, export)
    assert len(raw) > 10 and len(stage) >= 12 and "customer_360" in marts and len(items) == 250

    rerun(lake, "generate", "--scale", SCALE, "--seed", SEED)
    assert file_bytes(lake / "raw") == raw
    rerun(lake, "stage")
    assert zone_hashes(lake / "stage") == stage
    assert zone_hashes(lake / "stage" / "_quarantine") == quarantine
    hashes = mart_hashes(lake)
    rerun(lake, "build")
    assert_same_marts(marts, mart_rows(lake))
    assert mart_hashes(lake) == hashes, "a rebuild of the same input changed a mart's bits"
    rerun(lake, "export")
    assert export_folders(lake) == [export], "the same build content must give the same export run id"
    assert_same_items(items, export_items(lake, export))
    exported = file_bytes(lake / "analytics" / "exports")
    rerun(lake, "export")
    assert file_bytes(lake / "analytics" / "exports") == exported, "one build exported twice: the same bytes"


def test_a_rebuild_in_another_lake_is_bit_identical(built_lake: Path, tmp_path: Path) -> None:
    """A copy of the lake rebuilt from scratch (a new DuckDB file, a full refresh of the incremental fact) gives
    the marts of the original bit for bit."""
    lake = copy_lake(built_lake, tmp_path / "lake")
    marts = mart_hashes(lake)
    (lake / "analytics" / "c360.duckdb").unlink()
    rerun(lake, "build")
    assert mart_hashes(lake) == marts
