"""The dbt runner's work ahead of a build: ``c360 run`` parses the project in a child process and imports dbt in
its own while Spark stages, and its build reuses both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from c360 import dbt_runner
from c360.dbt_runner import parsed_ahead, run_dbt, target_path
from c360.settings import Settings
from c360.storage import Lake


def last_invocation_log(settings: Settings) -> str:
    """The dbt log lines of the latest dbt invocation against the lake."""
    log = (Path(settings.lake) / "logs" / "dbt" / "dbt.log").read_text()
    return log.rsplit("Running with dbt=", 1)[-1]


def record_children(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen]:
    """The child processes started from now on, in order."""
    started: list[subprocess.Popen] = []
    popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    return started


def test_a_parse_ahead_is_the_parse_the_next_dbt_command_reuses(
    settings: Settings, lake: Lake, tmp_path: Path
) -> None:
    with parsed_ahead(settings):
        pass  # (the stage of `c360 run`)
    assert (Path(target_path(settings)) / "partial_parse.msgpack").exists()
    run_dbt(settings, "parse")
    reused = last_invocation_log(settings)
    assert "Nothing changed, skipping partial parsing" in reused
    assert "Unable to do partial parsing" not in reused

    # without it, a new lake's first dbt command parses everything (its path is in the profile)
    other = Settings().with_overrides(lake=str(tmp_path / "other-lake"))
    Lake(other.lake).ensure_zones()
    run_dbt(other, "parse")
    assert "Unable to do partial parsing" in last_invocation_log(other)


def test_a_block_that_fails_stops_its_parse(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    started = record_children(monkeypatch)
    with (
        pytest.raises(RuntimeError, match="the stage failed"),
        parsed_ahead(settings),
    ):
        raise RuntimeError("the stage failed")
    (child,) = started
    assert child.returncode == -signal.SIGKILL  # stopped, not waited for (a parse takes seconds to start)


def test_a_parse_that_does_not_finish_in_time_is_stopped(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = record_children(monkeypatch)
    monkeypatch.setattr(dbt_runner, "PARSE_WAIT_SECONDS", 0.01)
    with parsed_ahead(settings):
        pass
    (child,) = started
    assert child.returncode == -signal.SIGKILL


IMPORT_AHEAD = """
import sys
from c360.dbt_runner import imported_ahead
from c360.settings import Settings
wanted = ("dbt.cli.main", "dbt.adapters.duckdb")
assert not any(name in sys.modules for name in wanted), "imported before"
with imported_ahead(Settings()):
    pass
missing = [name for name in wanted if name not in sys.modules]
assert not missing, missing
"""


def test_dbt_and_the_targets_adapter_are_imported_ahead_of_the_build(tmp_path: Path) -> None:
    """In a new interpreter, as ``c360 run`` starts: nothing of dbt loaded before, dbt and DuckDB's adapter after."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AHEAD],
        capture_output=True,
        text=True,
        env={**os.environ, "C360_LAKE": str(tmp_path / "lake"), "C360_DBT_TARGET": "local"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
