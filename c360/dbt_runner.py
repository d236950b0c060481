"""Run dbt in-process (one parse per call, no extra Python start-up) against the lake of the settings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
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


@contextmanager
def _dbt_environment(settings: Settings):
    saved = {key: os.environ.get(key) for key in ("C360_LAKE", "C360_DBT_TARGET", "C360_DUCKDB_MEMORY_LIMIT")}
    os.environ["C360_LAKE"] = settings.lake
    os.environ["C360_DBT_TARGET"] = settings.dbt_target
    os.environ["C360_DUCKDB_MEMORY_LIMIT"] = settings.duckdb_memory_limit
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


def run_dbt(settings: Settings, command: str = "build", extra: Sequence[str] = ()) -> BuildResult:
    """Run ``dbt <command>`` (e.g. ``build`` or ``docs generate``) for the project; raise :class:`BuildError`
    naming every failed node."""
    from dbt.cli.main import dbtRunner  # imported lazily: dbt is slow to import

    project = str(settings.project_dir)
    args = [
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
