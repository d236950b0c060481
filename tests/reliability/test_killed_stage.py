"""A stage run (``--full-refresh``, so that every table is written) killed (SIGKILL) in the middle of writing a
table, then run again: the result is the one an uninterrupted run gives, with no partial, duplicated or leftover
files, and every table reconciles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from tests.reliability.lakes import zone_hashes

pytestmark = pytest.mark.spark
C360 = str(Path(sys.executable).parent / "c360")
KILL_WHEN_WRITING = "accounts"
"""Killed while Spark writes this table: the tables staged before it are new, the ones after it still old."""


def stage(lake: Path) -> None:
    result = CliRunner().invoke(app, ["stage", "--lake", str(lake)])
    assert result.exit_code == 0, result.output


def writing(lake: Path, table: str) -> bool:
    """Whether Spark is writing ``table``: anything under its staging folder, from the write job's ``_temporary``
    folder (made before any task opens a file) through the tasks' files to the written Parquet, until the table is
    swapped in. Files alone leave the poll a shorter window, which a small table's write on a busy machine could
    fall between two polls of. A folder that the running stage deletes while this walks it (it clears the folder
    before each write) is not being written yet."""
    staging = lake / "stage" / "_staging" / table
    try:
        return any(True for _ in staging.rglob("*"))
    except FileNotFoundError:
        return False


def test_a_stage_run_killed_mid_write_is_completed_by_the_rerun(built_lake: Path) -> None:
    """On the session's lake itself (a copy has no source database: the transactions live in the lake's own
    PostgreSQL cluster); the rerun must leave it exactly as it was, which the later tests rely on too."""
    lake = built_lake
    expected = zone_hashes(lake / "stage")
    expected_quarantine = zone_hashes(lake / "stage" / "_quarantine")
    audits_before = {p.parent.name: p.read_text() for p in (lake / "logs" / "audit").glob("*/latest.json")}

    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    process = subprocess.Popen(
        [C360, "stage", "--lake", str(lake), "--full-refresh"],  # every table is written again
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # its Spark JVM too: the whole group is killed
    )
    try:
        deadline = time.monotonic() + 600
        while not writing(lake, KILL_WHEN_WRITING):
            assert process.poll() is None, "the stage run ended before it wrote the table to be killed in"
            assert time.monotonic() < deadline, "the stage run never started to write the table"
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert writing(lake, KILL_WHEN_WRITING), "killed mid-write: the half-written staging folder is there"
    # Readers never see a half-written table: every stage table is still whole (its old or its new version).
    assert zone_hashes(lake / "stage") == expected

    stage(lake)  # the rerun (it also clears the killed run's lock)
    assert zone_hashes(lake / "stage") == expected
    assert zone_hashes(lake / "stage" / "_quarantine") == expected_quarantine
    leftovers = [p for p in (lake / "stage" / "_staging").rglob("*") if p.is_file()]
    assert leftovers == [], f"files left in staging: {leftovers[:5]}"
    for table in (lake / "stage").iterdir():
        if table.name.startswith(("_", ".")):
            continue
        assert not (table.parent / f"{table.name}.old").exists(), table.name
        for folder in [table, *(p for p in table.rglob("*") if p.is_dir())]:
            files = list(folder.glob("*.parquet"))  # one file per table or per partition: none twice
            assert len(files) <= 1, (table.name, folder.name, [p.name for p in files])
    audits = {
        p.parent.name: json.loads(p.read_text()) for p in (lake / "logs" / "audit").glob("*/latest.json")
    }
    assert set(audits) == set(audits_before)
    for name, audit in audits.items():
        assert audit["raw_rows"] == (
            audit["stage_rows"] + audit["quarantined_rows"] + audit.get("deduplicated_rows", 0)
        ), name
