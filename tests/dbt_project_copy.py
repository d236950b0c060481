"""A copy of the dbt project that a test may edit, as an analyst edits a model in their clone, and real dbt run on
it against a lake (for the tests of the project's macros)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DBT = str(Path(sys.executable).parent / "dbt")


def copy_project(folder: Path) -> Path:
    """The project's files (not its lake, target or logs) copied into ``folder``."""
    folder.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, folder / name)
    for name in ("models", "macros", "seeds", "snapshots", "data_tests", "analyses"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, folder / name)
    return folder


def run_dbt_on(project: Path, lake: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``dbt <args>`` in the project against the lake's DuckDB file; dbt's target and logs go to ``out``."""
    env = {
        **os.environ,
        "C360_DBT_TARGET": "local",
        "C360_LAKE": str(lake),
        "DBT_TARGET_PATH": str(out / "target"),
        "DBT_LOG_PATH": str(out / "logs"),
    }
    return subprocess.run(
        [DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
