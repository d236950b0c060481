"""A model fails mid-build: the marts of the previous build stay readable and unchanged, the failure is recorded,
and the export refuses to publish it. The fault is real: a stage table's Parquet file replaced by garbage, on a
copy of a built lake, after a valid change to another stage table that dbt rebuilds before the failure."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from tests.reliability.lakes import copy_lake, export_folders, export_items, mart_hashes

pytestmark = pytest.mark.spark


def run_results(lake: Path) -> dict[str, str]:
    results = json.loads((lake / "logs" / "dbt" / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"]: r["status"] for r in results}


def break_the_stage(lake: Path) -> tuple[Path, bytes]:
    """Drop the retail orders of 2021-2022 (a valid change: fct_retail_orders depends on nothing else), then
    corrupt one file of ga_hits (stg_web__hits fails; customer_360 and the web marts are skipped)."""
    for month in (lake / "stage" / "retail_orders").glob("order_month=202[12]-*"):
        shutil.rmtree(month)
    corrupt = sorted((lake / "stage" / "ga_hits").rglob("*.parquet"))[0]
    original = corrupt.read_bytes()
    corrupt.write_bytes(b"this is not a Parquet file" * 200)
    return corrupt, original


def test_a_failing_model_keeps_the_previous_marts_and_the_export_refuses_it(
    built_lake: Path, tmp_path: Path
) -> None:
    lake = copy_lake(built_lake, tmp_path / "lake")
    marts = mart_hashes(lake)
    (published,) = export_folders(lake)
    published_items = export_items(lake, published)
    corrupt, original = break_the_stage(lake)
    runner = CliRunner()

    build = runner.invoke(app, ["build", "--lake", str(lake)])
    assert build.exit_code == 1
    assert "Building with dbt failed" in build.output and "stg_web__hits" in build.output
    assert "Traceback" not in build.output
    results = run_results(lake)
    assert results["model.c360.stg_web__hits"] == "error"
    assert results["model.c360.fct_retail_orders"] == "success", "dbt rewrote a mart before the failure"
    assert results["model.c360.customer_360"] == "skipped"
    # Every mart, fct_retail_orders included, reads back with DuckDB as the previous build left it.
    assert mart_hashes(lake) == marts
    assert not (lake / "analytics" / "_previous_build").exists()
    record = json.loads((lake / "logs" / "build" / "latest.json").read_text())
    assert record["status"] == "failed" and "stg_web__hits" in record["error"]

    export = runner.invoke(app, ["export", "--lake", str(lake)])
    assert export.exit_code == 1
    assert "the latest build failed" in export.output and "refusing to export it" in export.output
    assert export_folders(lake) == [published]
    assert export_items(lake, published) == published_items

    # Repaired, the same lake builds and exports again, from the changed stage.
    corrupt.write_bytes(original)
    assert runner.invoke(app, ["build", "--lake", str(lake)]).exit_code == 0
    rebuilt = mart_hashes(lake)
    assert rebuilt["fct_retail_orders"] != marts["fct_retail_orders"]
    assert rebuilt["dim_customers"] == marts["dim_customers"]
    export = runner.invoke(app, ["export", "--lake", str(lake)])
    assert export.exit_code == 0, export.output
    assert len(export_folders(lake)) == 2


KILLED_BUILD = """
import sys
from pathlib import Path
from c360.build_state import preserved_marts, recorded_build
from c360.storage import Lake
store = Lake(sys.argv[1])
with recorded_build(store), preserved_marts(store):
    mart = Path(sys.argv[1]) / "analytics" / "customer_360"
    for part in mart.glob("*.parquet"):  # what DuckDB's COPY ... (OVERWRITE) does first
        part.unlink()
    (mart / "data_0.parquet").write_bytes(b"PAR1 half of a file")
    print("writing", flush=True)
    sys.stdin.read()
"""


def test_a_killed_build_is_not_exported_and_the_next_build_starts_from_the_previous_marts(
    built_lake: Path, tmp_path: Path
) -> None:
    """A build killed (SIGKILL) while writing customer_360 leaves its record ``running``, a half-written mart and
    the snapshot of the previous marts: the export refuses, and the next build, even a failing one, leaves the
    previous marts in place."""
    lake = copy_lake(built_lake, tmp_path / "lake")
    marts = mart_hashes(lake)
    build = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(lake)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert build.stdout is not None and build.stdout.readline().strip() == "writing"
    build.send_signal(signal.SIGKILL)
    build.wait(timeout=30)
    assert json.loads((lake / "logs" / "build" / "latest.json").read_text())["status"] == "running"

    runner = CliRunner()
    export = runner.invoke(app, ["export", "--lake", str(lake)])
    assert export.exit_code == 1 and "has not finished (or was killed)" in export.output
    assert export_folders(lake) == export_folders(built_lake)

    break_the_stage(lake)
    assert runner.invoke(app, ["build", "--lake", str(lake)]).exit_code == 1
    assert mart_hashes(lake) == marts
