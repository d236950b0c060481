"""Every step run twice on the same input gives the same content.

- generate: byte-identical raw files;
- stage: the same rows in every stage and quarantine table, every column and every bit, the lineage columns
  ``_source_file``, ``_ingested_at`` and ``_batch_id`` included (they derive from the raw files, not from the run);
- build: the same marts, DOUBLE columns equal to 1e-9 relative, not to the bit: dbt-duckdb sums DOUBLE amounts in
  parallel threads, so the last bits of a sum depend on the order the threads finish in (found by this suite:
  ``test_a_rebuild_is_not_bit_identical`` records it until the marts sum DECIMAL amounts);
- export: the same DynamoDB items, numbers to 1e-9 relative; exported twice from one build, the same folder.
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
    rerun(lake, "build")
    assert_same_marts(marts, mart_rows(lake))
    rerun(lake, "export")
    (latest,) = (set(export_folders(lake)) - {export}) or {export}
    assert_same_items(items, export_items(lake, latest))
    exported = file_bytes(lake / "analytics" / "exports")
    rerun(lake, "export")
    assert file_bytes(lake / "analytics" / "exports") == exported, "one build exported twice: the same bytes"


@pytest.mark.xfail(
    strict=True,
    reason="known: DOUBLE sums in the marts (customer_360, customer_segments, dim_accounts) differ in their last "
    "bits from one build to the next, so a rebuild also gets a new export run id; fix: sum DECIMAL amounts",
)
def test_a_rebuild_is_not_bit_identical(built_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(built_lake, tmp_path / "lake")
    marts = mart_hashes(lake)
    rerun(lake, "build")
    assert mart_hashes(lake) == marts
