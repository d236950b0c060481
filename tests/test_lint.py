"""The code base lints clean with the project's ruff configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUFF = str(Path(sys.executable).parent / "ruff")


def test_ruff_check_is_clean() -> None:
    result = subprocess.run([RUFF, "check", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ruff_format_is_clean() -> None:
    result = subprocess.run([RUFF, "format", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_sqlfluff_lints_the_dbt_project_clean(tmp_path: Path) -> None:
    import os

    (tmp_path / "lake" / "analytics").mkdir(parents=True)  # where the DuckDB file of the local target lives
    env = {**os.environ, "C360_LAKE": str(tmp_path / "lake"), "DBT_TARGET_PATH": str(tmp_path / "target")}
    sqlfluff = str(Path(sys.executable).parent / "sqlfluff")
    result = subprocess.run(
        [sqlfluff, "lint", "models", "data_tests", "--disable-progress-bar"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
