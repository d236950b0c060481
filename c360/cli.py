"""The ``c360`` command line: every step of the pipeline, each runnable alone, each idempotent."""

from __future__ import annotations

import functools
import json
import os
import posixpath
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from c360 import pipeline
from c360.audit import FIELDS, latest_audits
from c360.errors import C360Error
from c360.lock import lake_lock
from c360.settings import Settings
from c360.storage import Lake, LakeError

app = typer.Typer(
    help="Customer 360 for a bank with a retail arm: generate sources, stage them with Spark, build with dbt, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)

LakeOption = Annotated[
    str | None,
    typer.Option(
        "--lake", help="Lake root: a local folder or an s3:// URI. Default: $C360_LAKE, else ./lake."
    ),
]
ScaleOption = Annotated[float | None, typer.Option("--scale", help="Data volume; 1 is about 5,000 clients.")]
SeedOption = Annotated[
    int | None, typer.Option("--seed", help="Random seed; same seed and scale, same files.")
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


def _settings(lake: str | None, **overrides: object) -> tuple[Settings, Lake]:
    try:
        settings = Settings().with_overrides(lake=lake, **overrides)
        return settings, Lake(settings.lake)
    except (ValueError, LakeError) as exc:
        _fail(str(exc))
        raise  # unreachable


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=1)


def _step(title: str, action: Callable[[], T]) -> T:
    """Run one step with a spinner; turn the errors a user can act on into a message and exit code 1."""
    try:
        with console.status(f"[bold]{title}[/]..."):
            return action()
    except (C360Error, LakeError) as exc:
        _fail(f"{title} failed: {exc}")
    except Exception as exc:
        if os.environ.get("C360_DEBUG"):
            raise
        if problem := _storage_problem(exc):
            _fail(f"{title} failed: {problem}")
        _fail(f"{title} failed: {type(exc).__name__}: {exc} (set C360_DEBUG=1 for the traceback)")
    raise AssertionError("unreachable")


STORAGE_PROBLEMS = {
    "No space left on device": "the lake's disk is full",
    "Read-only file system": "the lake is on a read-only file system",
}


def _storage_problem(exc: Exception) -> str | None:
    """A full or read-only disk, in one line, wherever it surfaced (e.g. deep inside a Java stack trace)."""
    text = str(exc)
    for marker, what in STORAGE_PROBLEMS.items():
        if marker in text:
            return (
                f"{what} ({marker}); free space or make the lake writable, then rerun the step "
                "(the tables it had not replaced yet are unchanged; set C360_DEBUG=1 for the traceback)"
            )
    return None


def _locked(command: str) -> Callable[[F], F]:
    """Run the decorated command under the lake's run lock (re-entrant: ``run`` holds it across its steps)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def locked(*args: object, **kwargs: object) -> object:
            _, store = _settings(kwargs.get("lake"))  # type: ignore[arg-type]
            try:
                with lake_lock(store, f"c360 {command}", notify=lambda note: console.print(f"note: {note}")):
                    return func(*args, **kwargs)
            except C360Error as exc:
                _fail(str(exc))
            raise AssertionError("unreachable")

        return locked  # type: ignore[return-value]

    return decorate


DayOption = Annotated[
    str | None,
    typer.Option(
        "--day", help="Write one day's batch (YYYY-MM-DD) instead of the history up to the end date."
    ),
]


def _parse_day(day: str | None) -> date | None:
    if day is None:
        return None
    try:
        return date.fromisoformat(day)
    except ValueError:
        _fail(f"--day must be a date as YYYY-MM-DD, got {day!r}")
        raise


@app.command()
@_locked("generate")
def generate(
    lake: LakeOption = None, scale: ScaleOption = None, seed: SeedOption = None, day: DayOption = None
) -> None:
    """Simulate the source systems into the raw zone (the history, or one day with --day). A day takes the scale
    and seed of the lake's history unless they are given (then they must be the history's)."""
    from c360.services.source_db import source_database

    settings, store = _settings(lake, scale=scale, seed=seed)
    batch_day = _parse_day(day)
    if batch_day is not None:
        settings = _history_settings(
            settings, store, scale_given=scale is not None, seed_given=seed is not None
        )
    try:
        with source_database(settings.lake) as db:
            files = _step("Generating sources", lambda: pipeline.generate(settings, store, batch_day, db.dsn))
    except C360Error as exc:
        _fail(f"the transactions source database is not available: {exc}")
    _print_generated(files)


def _history_settings(settings: Settings, store: Lake, *, scale_given: bool, seed_given: bool) -> Settings:
    """The settings of a day's batch: the history's scale and seed where neither an option nor the environment
    (``C360_SCALE``, ``C360_SEED``) gives one; an error when a given one differs from the history's."""
    try:
        history = pipeline.generated_history(store)
        if history is not None:
            scale, seed = history
            settings = settings.with_overrides(
                scale=None if scale_given or os.environ.get("C360_SCALE") else scale,
                seed=None if seed_given or os.environ.get("C360_SEED") else seed,
            )
        pipeline.check_day_matches_history(settings, history)
    except C360Error as exc:
        _fail(str(exc))
    return settings


def _print_generated(files: list[pipeline.GeneratedFile]) -> None:
    """One line per source: how many files and records, and where."""
    by_source: dict[str, list[pipeline.GeneratedFile]] = {}
    for f in files:
        by_source.setdefault(f.source, []).append(f)
    for source, written in by_source.items():
        records = sum(f.records for f in written)
        where = written[0].uri if len(written) == 1 else posixpath.commonpath([f.uri for f in written]) + "/"
        out.print(f"{source:>14}  {len(written):>4} file(s)  {records:>10,} records  {where}")


@app.command()
@_locked("stage")
def stage(
    lake: LakeOption = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Stage every raw file and every source database row again, not only what is new since the "
            "last run.",
        ),
    ] = False,
) -> None:
    """Stage the raw sources with the Spark jobs (typed, validated, deduplicated Parquet): the files new since
    the last run, merged into the stage tables."""
    settings, store = _settings(lake)
    audits = _step("Staging with Spark", lambda: pipeline.stage(settings, store, full_refresh=full_refresh))
    _print_audits(audits)
    unbalanced = [a.source for a in audits if not a.balanced]
    if unbalanced:
        _fail(f"reconciliation failed for {', '.join(unbalanced)}")


@app.command()
@_locked("build")
def build(lake: LakeOption = None) -> None:
    """Build the analytics layer with dbt (seeds, models, snapshots and data tests; unit tests run in CI)."""
    settings, store = _settings(lake)
    result = _step("Building with dbt", lambda: pipeline.build(settings, store))
    out.print(f"dbt build passed: {result.nodes} nodes; marts in {store.uri('analytics')}")


EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--dynamodb-endpoint",
        envvar="C360_DYNAMODB_ENDPOINT",
        help="DynamoDB endpoint URL (omit on AWS; a local moto server, DynamoDB Local...).",
    ),
]
TableOption = Annotated[
    str | None,
    typer.Option("--dynamodb-table", envvar="C360_DYNAMODB_TABLE", help="The DynamoDB profile table."),
]
DEFAULT_PROFILE_TABLE = "c360-customer-profiles"


@app.command()
@_locked("export")
def export(
    lake: LakeOption = None,
    dynamodb_endpoint: EndpointOption = None,
    dynamodb_table: TableOption = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh", help="Load a new table (ImportTable on AWS), then switch readers to it."
        ),
    ] = False,
) -> None:
    """Export customer_360 profiles as DynamoDB JSON; with a DynamoDB table or endpoint, load them too."""
    from c360.export import dynamodb_loader

    settings, store = _settings(lake)
    result = _step("Exporting profiles", lambda: pipeline.export(settings, store))
    out.print(f"exported {result.items:,} profiles to {result.uri}")
    dashboard = _step("Building the dashboard", lambda: pipeline.dashboard(store))
    out.print(f"dashboard: {dashboard}")
    if not (dynamodb_table or dynamodb_endpoint):
        return
    table = dynamodb_table or DEFAULT_PROFILE_TABLE
    if full_refresh:
        refreshed = _step(
            "Loading a new DynamoDB table",
            lambda: dynamodb_loader.full_refresh(store, table, endpoint_url=dynamodb_endpoint),
        )
        out.print(
            f"loaded {refreshed.items:,} profiles into {refreshed.table} ({refreshed.method}); readers switched"
        )
    else:
        loaded = _step(
            "Loading DynamoDB",
            lambda: dynamodb_loader.load_profiles(
                store, table, endpoint_url=dynamodb_endpoint, export=result
            ),
        )
        out.print(
            f"loaded {loaded.items:,} profiles into DynamoDB table {loaded.table} ({loaded.batches} batches)"
        )


@app.command()
def serve(
    lake: LakeOption = None,
    port: Annotated[int, typer.Option("--port", help="Local port of the lookup API.")] = 8000,
    dynamodb_endpoint: EndpointOption = None,
    dynamodb_table: TableOption = None,
) -> None:
    """Serve the profile lookup API (GET /customers/{id}, GET /branches/{id}/customers) from DynamoDB.

    Without --dynamodb-endpoint on a local lake, a local DynamoDB-compatible endpoint is started and loaded from
    the lake's customer_360 first.
    """
    from contextlib import nullcontext

    from c360 import api
    from c360.export import dynamodb_loader

    _, store = _settings(lake)
    table = dynamodb_table or DEFAULT_PROFILE_TABLE
    local = dynamodb_endpoint is None and store.is_local
    endpoint_context = dynamodb_loader.local_endpoint() if local else nullcontext(dynamodb_endpoint)
    with endpoint_context as endpoint:
        if local:
            loaded = _step(
                "Loading a local DynamoDB", lambda: dynamodb_loader.load_profiles(store, table, endpoint)
            )
            out.print(f"local DynamoDB at {endpoint}: {loaded.items:,} profiles in {table}")

        def ready(server: object) -> None:
            out.print(f"lookup API: http://127.0.0.1:{port}/customers/<client_id>  (Ctrl-C to stop)")

        try:
            api.serve(port, endpoint, table, on_ready=ready)
        except C360Error as exc:
            _fail(str(exc))


@app.command()
def clean(
    lake: LakeOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a local lake: stop and delete its PostgreSQL cluster (whose data may live outside the lake), then the
    lake's folder. Refuses a folder that holds anything but a lake's zones, and a lake in use by another command."""
    import shutil
    from pathlib import Path

    from c360.services.postgres import SERVICES_FOLDER, destroy_clusters_under
    from c360.storage import ZONES

    _, store = _settings(lake)
    if not store.is_local:
        _fail(
            f"{store.root} is on S3: c360 clean deletes local lakes only (empty the bucket prefix with AWS tools)"
        )
    root = Path(store.root)
    if not root.exists():
        out.print(f"no lake at {root}: nothing to delete")
        return
    if not root.is_dir():
        _fail(f"{root} is a file, not a lake: not deleting it")
    foreign = sorted(p.name for p in root.iterdir() if p.name not in {*ZONES, SERVICES_FOLDER})
    if foreign:
        _fail(f"{root} is not only a lake (it also holds {', '.join(foreign)}): not deleting it")
    if not yes and not typer.confirm(f"Remove the lake {root} and its local PostgreSQL data?"):
        raise typer.Exit(code=1)
    try:
        with lake_lock(store, "c360 clean", notify=lambda note: console.print(f"note: {note}")):
            clusters = destroy_clusters_under(root)
            shutil.rmtree(root)
    except C360Error as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not delete {root}: {exc}")
    out.print(f"deleted the lake {root}" + (" and its PostgreSQL cluster" if clusters else ""))


@app.command()
def audit(
    lake: LakeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show, per source, raw = stage + quarantined + deduplicated for the latest batch."""
    _, store = _settings(lake)
    audits = _step("Reading audit records", lambda: latest_audits(store))
    if as_json:
        out.print_json(json.dumps([a.as_dict() for a in audits]))
    else:
        _print_audits(audits)
    if not audits:
        _fail(f"no audit records under {store.uri('logs', 'audit')}; run `c360 stage` first")
    if any(not a.balanced for a in audits):
        raise typer.Exit(code=1)


@app.command()
@_locked("run")
def run(lake: LakeOption = None, scale: ScaleOption = None, seed: SeedOption = None) -> None:
    """The whole pipeline: start local services, generate, stage, build, export; print where results are."""
    from c360.dbt_runner import imported_ahead, parsed_ahead
    from c360.export.dynamodb_loader import local_endpoint
    from c360.services.source_db import source_database
    from c360.spark import session_running, start_in_background, stop_local_session

    settings, store = _settings(lake, scale=scale, seed=seed)
    with ExitStack() as services:
        try:
            db = services.enter_context(source_database(settings.lake))
        except C360Error as exc:
            _fail(f"the transactions source database is not available: {exc}")
        out.print(f"source database (sourcemf): {db.display}")
        own_session = not session_running()
        spark_start = start_in_background(settings)  # the JVM starts while the sources are generated
        generate(lake=settings.lake, scale=settings.scale, seed=settings.seed, day=None)
        spark_start.join()
        # dbt parses the project (a child process) and this process imports dbt while Spark stages
        with parsed_ahead(settings), imported_ahead(settings):
            stage(lake=settings.lake)
        if own_session:  # its JVM and heap go while dbt builds (a session the caller had stays)
            stopping = threading.Thread(target=stop_local_session, name="c360-spark-stop")
            stopping.start()
            services.callback(stopping.join)
        build(lake=settings.lake)
        endpoint = services.enter_context(local_endpoint()) if store.is_local else None
        if endpoint:
            out.print(f"local DynamoDB endpoint (moto): {endpoint}")
        export(lake=settings.lake, dynamodb_endpoint=endpoint, dynamodb_table=DEFAULT_PROFILE_TABLE)
    out.print()
    out.print("[bold green]Done.[/] Results:")
    out.print(f"  customer_360 (Parquet): {store.uri('analytics', 'customer_360')}")
    out.print(f"  DuckDB database:        {store.uri('analytics', 'c360.duckdb')}")
    out.print(f"  DynamoDB export:        {store.uri('analytics', 'exports', 'dynamodb')}")
    out.print(f"  Dashboard:              {store.uri('analytics', 'dashboard', 'index.html')}")
    out.print("  Lookup API:             c360 serve --port 8000  (then GET /customers/<client_id>)")
    out.print(f"  Quarantine:             {store.uri('stage', '_quarantine')}")
    out.print(f"  Audit records:          {store.uri('logs', 'audit')}")


@app.command()
def docs(
    lake: LakeOption = None,
    port: Annotated[int, typer.Option("--port", help="Local port for the docs site.")] = 8080,
    generate_site: Annotated[
        bool, typer.Option("--generate/--no-generate", help="Run dbt docs generate first.")
    ] = True,
) -> None:
    """Generate the dbt docs site and serve it on http://127.0.0.1:PORT until interrupted."""
    import time
    from pathlib import Path

    from c360 import docs as docs_site
    from c360.dbt_runner import target_path

    settings, _ = _settings(lake)
    site = _step("Generating the dbt docs", lambda: docs_site.generate(settings)) if generate_site else None
    site = site or Path(target_path(settings))
    if not (site / "index.html").exists():
        _fail(f"no docs site under {site}; run `c360 docs` without --no-generate")
    with docs_site.serve_directory(site, port) as url:
        out.print(f"dbt docs: {url}  (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


import_app = typer.Typer(
    help="Import the real public datasets into the lake's raw layout.", no_args_is_help=True
)
app.add_typer(import_app, name="import")


def _print_imports(audits: list[dict[str, object]]) -> None:
    for audit in audits:
        out.print(
            f"{audit['source']:>22}  {audit['raw_rows']:>9,} records: {audit['stage_rows']:,} landed, "
            f"{audit['quarantined_rows']:,} quarantined"
        )


@import_app.command("ga")
@_locked("import ga")
def import_ga(
    folder: Annotated[Path, typer.Argument(help="Folder of BigQuery ga_sessions_YYYYMMDD NDJSON exports.")],
    visitor_map: Annotated[
        Path | None,
        typer.Option("--visitor-map", help="fullVisitorId,client_id CSV (with or without header)."),
    ] = None,
    lake: LakeOption = None,
) -> None:
    """Google Analytics sessions (BigQuery export) and, optionally, the web visitor map."""
    from ingestion.importers import ga

    settings, store = _settings(lake)
    _require(folder, directory=True)
    if visitor_map is not None:
        _require(visitor_map, directory=False)
    audits = _step("Importing GA sessions", lambda: ga.run(store, folder, visitor_map, settings.end_date))
    _print_imports(audits)


@import_app.command("berka")
@_locked("import berka")
def import_berka(
    folder: Annotated[Path, typer.Argument(help="Folder holding the PKDD'99 .asc files.")],
    lake: LakeOption = None,
) -> None:
    """The PKDD'99 (Berka) bank: clients into the CRM layout, accounts/cards/... as mainframe extracts,
    transactions into the source database."""
    from c360.services.source_db import source_database
    from ingestion.importers import berka

    settings, store = _settings(lake)
    _require(folder, directory=True)
    try:
        with source_database(settings.lake) as db:
            audits = _step("Importing PKDD'99", lambda: berka.run(store, folder, db.dsn))
    except C360Error as exc:
        _fail(f"the transactions source database is not available: {exc}")
    _print_imports(audits)


@import_app.command("saas-sales")
@_locked("import saas-sales")
def import_saas_sales(
    file: Annotated[Path, typer.Argument(help="The SaaS Sales orders CSV.")],
    lake: LakeOption = None,
) -> None:
    """Retail orders from the SaaS Sales CSV (BOM, CRLF, M/D/YYYY)."""
    from ingestion.importers import saas_sales

    _, store = _settings(lake)
    _require(file, directory=False)
    audits = _step("Importing SaaS Sales", lambda: saas_sales.run(store, file))
    _print_imports(audits)


def _require(path: Path, directory: bool) -> None:
    if directory and not path.is_dir():
        _fail(f"{path} is not a folder")
    if not directory and not path.is_file():
        _fail(f"{path} is not a file")


def _print_audits(audits: list) -> None:
    table = Table(title="Batch reconciliation (raw = stage + quarantined + deduplicated)")
    for name in FIELDS:
        table.add_column(name, justify="right" if name.endswith("rows") else "left")
    for a in audits:
        row = a.as_dict()
        table.add_row(
            *[
                ("[green]yes[/]" if row[k] else "[red]NO[/]") if k == "balanced" else f"{row[k]}"
                for k in FIELDS
            ]
        )
    out.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
