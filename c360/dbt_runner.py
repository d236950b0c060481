"""Run dbt in-process (one parse per call, no extra Python start-up) against the lake of the settings."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from c360.errors import BuildError
from c360.settings import Settings

# The pipeline's builds (``c360 build`` and ``c360 run`` here, the CodeBuild runner on AWS) leave unit tests out,
# as dbt recommends for production: their inputs are fixed rows, so they prove the SQL, not the data, and the SQL
# does not change between two runs of the pipeline. They run where the SQL changes: an analyst's ``dbt build`` or
# ``dbt test``, and the test suite. Data tests still run on every build.
PIPELINE_BUILD_ARGS = ("--exclude-resource-type", "unit_test")


@dataclass(frozen=True)
class BuildResult:
    command: str
    nodes: int
    failures: list[str]


def _dbt_env(settings: Settings) -> dict[str, str]:
    """The environment variables the project and profile read (``env_var()``), from the settings."""
    return {
        "C360_LAKE": settings.lake,
        "C360_DBT_TARGET": settings.dbt_target,
        "C360_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
    }


@contextmanager
def _dbt_environment(settings: Settings):
    values = _dbt_env(settings)
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the life of the process; close it so that other processes (an
    analyst's ``dbt`` or ``duckdb``) can open the file after our build."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - only with another adapter
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def target_path(settings: Settings) -> str:
    """Where our dbt runs keep their artifacts (manifest, run results, the docs site): in the lake's log zone."""
    return f"{settings.lake}/logs/dbt/target"


def _dbt_args(settings: Settings, command: str, extra: Sequence[str] = ()) -> list[str]:
    project = str(settings.project_dir)
    return [
        *command.split(),
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--quiet",
        "--log-path",
        f"{settings.lake}/logs/dbt",
        "--target-path",
        target_path(settings),
        *extra,
    ]


PARSE_WAIT_SECONDS = 300
"""How long the end of :func:`parsed_ahead` waits for its parse (a few seconds normally) before stopping it."""


@contextmanager
def parsed_ahead(settings: Settings) -> Iterator[None]:
    """Parse the project in a child process while the block runs (``c360 run``: during the stage), so that the
    build after the block finds the parse saved (dbt's partial parsing: "nothing changed") instead of parsing
    first: 3-5 s on every new lake, whose path is in the profile, so no earlier parse counts for it.

    The parse reads neither the lake's data nor its database, only the project, so it cannot see the block's
    half-done work. Its outcome does not matter: a build after a parse that failed or did not finish parses
    again and reports the errors itself. The end of the block waits for the parse (its files half-written would
    only cost the build a full parse), and a block that fails stops it."""
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *_dbt_args(settings, "parse")],
        env={**os.environ, **_dbt_env(settings)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
        with suppress(subprocess.TimeoutExpired):
            child.wait(timeout=PARSE_WAIT_SECONDS)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


ADAPTER_MODULES = {"local": "dbt.adapters.duckdb", "athena": "dbt.adapters.athena"}
"""The adapter each target of ``profiles.yml`` loads."""


@contextmanager
def imported_ahead(settings: Settings) -> Iterator[None]:
    """Import dbt and the target's adapter on a thread while the block runs, so that a build after it finds them
    loaded (about 1.5 s of Python): ``c360 run``'s stage, when its own Python waits on Spark (the run's other
    imports and dbt's share no module: traced in a run). The end of the block waits for the import; an import that
    fails is left for the build to report."""

    def load() -> None:
        with suppress(Exception):
            importlib.import_module("dbt.cli.main")
            if adapter := ADAPTER_MODULES.get(settings.dbt_target):
                importlib.import_module(adapter)

    thread = threading.Thread(target=load, name="c360-dbt-import", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def run_dbt(settings: Settings, command: str = "build", extra: Sequence[str] = ()) -> BuildResult:
    """Run ``dbt <command>`` (e.g. ``build`` or ``docs generate``) for the project; raise :class:`BuildError`
    naming every failed node."""
    from dbt.cli.main import dbtRunner  # imported lazily: dbt is slow to import

    args = _dbt_args(settings, command, extra)
    with _dbt_environment(settings):
        try:
            result = dbtRunner().invoke(args)
        finally:
            _release_duckdb()
    if result.exception is not None:
        raise BuildError(f"dbt {command} could not run: {result.exception}") from result.exception
    failures: list[str] = []
    nodes = 0
    for node_result in getattr(result.result, "results", None) or []:
        nodes += 1
        status = str(getattr(node_result, "status", "")).lower()
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{node_result.node.unique_id}: {node_result.message}")
    if failures or not result.success:
        detail = "\n  ".join(failures) or f"see the dbt log in {settings.lake}/logs/dbt/dbt.log"
        raise BuildError(f"dbt {command} failed:\n  {detail}")
    return BuildResult(command=command, nodes=nodes, failures=failures)
