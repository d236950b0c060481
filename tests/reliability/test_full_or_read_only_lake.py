"""A full disk or a read-only lake: every step stops with a clear message (no traceback) and leaves the lake as it
was. The faults are real file systems, not mocks: a small tmpfs mounted over a zone of a copy of a built lake
fills up mid-write; a read-only bind mount refuses every write, root's included (the tests run as root, which
``chmod`` would not stop)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from tests.reliability.lakes import (
    assert_same_items,
    assert_same_marts,
    copy_lake,
    export_folders,
    export_items,
    file_bytes,
    grow_tmpfs,
    mart_hashes,
    mart_rows,
    read_only,
    tmpfs_in_place,
    zone_hashes,
)

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("mounts")]
PAGE = 4096


def disk_usage(folder: Path) -> int:
    """Bytes a copy of ``folder`` takes on a tmpfs (whole pages per file)."""
    return sum(-(-p.stat().st_size // PAGE) * PAGE for p in folder.rglob("*") if p.is_file())


def assert_clear_error(output: str, *expected: str) -> None:
    """One ``error:`` line naming the problem; no Python traceback, no Java stack frames."""
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for text in expected:
        assert text in errors[0], output
    assert "Traceback" not in output and "\tat " not in output and "Py4J" not in output, output


def no_temporary_files(zone: Path) -> bool:
    return not [p for p in zone.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def lake(built_lake: Path, tmp_path: Path) -> Path:
    return copy_lake(built_lake, tmp_path / "lake")


COMMANDS = {
    "generate": ["generate", "--scale", "0.05", "--seed", "5"],
    "stage": ["stage"],
    "build": ["build"],
    "export": ["export"],
    "import saas-sales": ["import", "saas-sales", "orders.csv"],
}


def test_a_read_only_lake_is_refused_by_every_command_and_left_unchanged(lake: Path) -> None:
    before = file_bytes(lake)
    runner = CliRunner()
    with read_only(lake):
        for name, args in COMMANDS.items():
            result = runner.invoke(app, [*args, "--lake", str(lake)])
            assert result.exit_code == 1, f"c360 {name}: {result.output}"
            assert_clear_error(result.output, "cannot lock the lake", "read-only file system")
    assert file_bytes(lake) == before


def test_a_read_only_analytics_zone_stops_the_export_and_the_build(lake: Path) -> None:
    marts, exports = mart_hashes(lake), export_folders(lake)
    analytics_files = file_bytes(lake / "analytics")
    runner = CliRunner()
    with read_only(lake / "analytics"):
        export = runner.invoke(app, ["export", "--lake", str(lake)])
        assert export.exit_code == 1
        assert_clear_error(export.output, "Exporting profiles failed", "Read-only file system")
        build = runner.invoke(app, ["build", "--lake", str(lake)])
        assert build.exit_code == 1
        assert_clear_error(build.output, "cannot keep the previous marts", "Read-only file system")
    assert file_bytes(lake / "analytics") == analytics_files
    assert mart_hashes(lake) == marts and export_folders(lake) == exports
    assert json.loads((lake / "logs" / "build" / "latest.json").read_text())["status"] == "failed"


def test_a_full_disk_while_generating_keeps_the_previous_raw_files(lake: Path) -> None:
    raw = lake / "raw"
    before = file_bytes(raw)
    largest = max(p.stat().st_size for p in raw.rglob("*") if p.is_file())
    with tmpfs_in_place(raw, disk_usage(raw) + largest // 2):
        result = CliRunner().invoke(app, [*COMMANDS["generate"], "--lake", str(lake)])
        assert result.exit_code == 1
        assert_clear_error(result.output, "Generating sources failed", "No space left on device")
        assert no_temporary_files(raw)
    assert file_bytes(raw) == before


def test_a_full_disk_while_staging_keeps_the_previous_stage_tables(lake: Path) -> None:
    """The jobs that finish before the disk fills replace their tables whole; the one that hits the full disk
    leaves its table as it was. The copy lives at another path, so ``_source_file`` (the raw file's absolute URI)
    legitimately differs in the tables replaced: the hashes leave it out."""
    stage = lake / "stage"
    lineage_path = ("_source_file",)
    before = zone_hashes(stage, exclude=lineage_path)
    with tmpfs_in_place(stage, disk_usage(stage) + 64 * 1024):
        result = CliRunner().invoke(app, ["stage", "--lake", str(lake), "--full-refresh"])
        assert result.exit_code == 1
        assert_clear_error(result.output, "Staging with Spark failed", "the lake's disk is full")
        assert zone_hashes(stage, exclude=lineage_path) == before


def test_a_full_disk_mid_build_keeps_the_previous_marts_and_recovers_once_space_is_freed(lake: Path) -> None:
    analytics = lake / "analytics"
    marts, rows, exports = mart_hashes(lake), mart_rows(lake), export_folders(lake)
    runner = CliRunner()
    with tmpfs_in_place(analytics, disk_usage(analytics) + 192 * 1024):
        build = runner.invoke(app, ["build", "--lake", str(lake)])
        assert build.exit_code == 1, build.output
        assert "No space left on device" in build.output or "Out of Space" in build.output, build.output
        assert "Traceback" not in build.output
        assert mart_hashes(lake) == marts
        assert json.loads((lake / "logs" / "build" / "latest.json").read_text())["status"] == "failed"
        export = runner.invoke(app, ["export", "--lake", str(lake)])
        assert export.exit_code == 1 and "the latest build failed" in export.output
        assert export_folders(lake) == exports

        grow_tmpfs(analytics)
        build = runner.invoke(app, ["build", "--lake", str(lake)])
        assert build.exit_code == 0, build.output
        assert_same_marts(rows, mart_rows(lake))
        export = runner.invoke(app, ["export", "--lake", str(lake)])
        assert export.exit_code == 0, export.output
        (latest,) = (set(export_folders(lake)) - set(exports)) or exports
        assert_same_items(export_items(lake, exports[0]), export_items(lake, latest))


def test_a_full_disk_while_exporting_leaves_no_partial_export(lake: Path) -> None:
    exports = lake / "analytics" / "exports"
    before = file_bytes(exports)
    (lake / "analytics" / "exports" / "dynamodb").rename(lake / "analytics" / "previous-exports")
    with tmpfs_in_place(exports, 8 * 1024):
        result = CliRunner().invoke(app, ["export", "--lake", str(lake)])
        assert result.exit_code == 1
        assert_clear_error(result.output, "Exporting profiles failed", "No space left on device")
        assert export_folders(lake) == [], "a half-written export folder was left"
        assert no_temporary_files(exports)
    (lake / "analytics" / "previous-exports").rename(exports / "dynamodb")
    assert file_bytes(exports) == before
