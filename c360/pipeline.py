"""The pipeline's steps, in order. The same list drives ``c360 run`` locally and the Step Functions state machine
on AWS (infra/ is tested against it)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from c360.audit import SourceAudit, latest_audits
from c360.build_state import preserved_marts, recorded_build
from c360.dbt_runner import PIPELINE_BUILD_ARGS, BuildResult, run_dbt
from c360.errors import C360Error
from c360.export.dynamodb import ExportResult, export_items
from c360.settings import Settings
from c360.storage import FileInfo, Lake, LakeError

STEPS = ("generate", "stage", "build", "export")


@dataclass(frozen=True)
class GeneratedFile:
    source: str
    uri: str
    records: int


FILE_SOURCES = ("crm", "mainframe", "visitor_map", "ga_sessions", "retail_orders")
"""Generator modules of ``ingestion`` that write files into the raw zone; each has ``generate(settings, lake)``
(the history up to the end date) and ``generate_day(settings, lake, day)`` (one day's batch)."""


def generate(
    settings: Settings, lake: Lake, day: date | None = None, source_dsn: str | None = None
) -> list[GeneratedFile]:
    """Simulate every source system: files into the raw zone, transactions into the source database (when a DSN
    is given); the history up to the end date, or one day's batch. The transactions load runs in a thread beside
    the file sources, as the Lambdas run side by side on AWS: its COPY is PostgreSQL's work, in another process,
    so it takes the second core while Python writes the files on the first."""
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    if day is not None:
        check_day_matches_history(settings, generated_history(lake))
    lake.ensure_zones()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="c360-transactions") as pool:
        loading = (
            pool.submit(_load_transactions, settings, source_dsn, day) if source_dsn is not None else None
        )
        files = []
        for name in FILE_SOURCES:
            module = importlib.import_module(f"ingestion.{name}")
            written = (
                module.generate(settings, lake) if day is None else module.generate_day(settings, lake, day)
            )
            files += [GeneratedFile(name, uri, count) for uri, count in written]
        if loading is not None:
            files.append(loading.result())
    if day is None:
        lake.write_json(
            lake.uri(*HISTORY_RECORD),
            {"scale": settings.scale, "seed": settings.seed, "end_date": str(settings.end_date)},
        )
    return files


HISTORY_RECORD = ("logs", "generate", "history.json")
"""Where ``generate`` records the scale and seed of the history it wrote: a day's batch must use the same ones (the
same clients, accounts and visitors), so ``c360 generate --day`` takes them from here."""


def generated_history(lake: Lake) -> tuple[float, int] | None:
    """The (scale, seed) the lake's history was generated with; None when the lake has no generated history (an
    empty lake, or raw files imported from the public datasets)."""
    uri = lake.uri(*HISTORY_RECORD)
    if not lake.exists(uri):
        return None
    try:
        record = lake.read_json(uri)
        return float(record["scale"]), int(record["seed"])
    except (ValueError, TypeError, KeyError, OSError, LakeError) as exc:
        raise C360Error(
            f"{uri} is not a record of a generated history ({exc}); generate the history again"
        ) from exc


def check_day_matches_history(settings: Settings, history: tuple[float, int] | None) -> None:
    """Refuse a day whose scale or seed differs from the history's (:func:`generated_history`): its clients,
    accounts and visitor map would be another population's (a scale-1 day's map replaces a scale-10 lake's with a
    tenth of its links)."""
    if history is not None and history != (settings.scale, settings.seed):
        scale, seed = history
        raise C360Error(
            f"this lake's history was generated at scale {scale} with seed {seed}; a day at scale "
            f"{settings.scale} with seed {settings.seed} would not match its clients. Leave out --scale and --seed "
            f"(and C360_SCALE, C360_SEED): a day takes the history's, or pass --scale {scale} --seed {seed}"
        )


def _load_transactions(settings: Settings, source_dsn: str, day: date | None) -> GeneratedFile:
    from ingestion import transactions

    rows = (
        transactions.load_history(settings, source_dsn)
        if day is None
        else transactions.load_day(settings, source_dsn, day)
    )
    return GeneratedFile("transactions", transactions.TABLE, rows)


STAGE_JOBS = (
    "stage_crm_customers",
    "stage_visitor_map",
    "stage_ga_sessions",
    "stage_retail_orders",
    "stage_districts",
    "stage_accounts",
    "stage_dispositions",
    "stage_cards",
    "stage_loans",
    "stage_standing_orders",
    "stage_transactions",
)
"""The Spark stage jobs, in the order ``c360 stage`` runs them in one session. Order matters: a job flags the
orphan foreign keys of its table against the stage tables written before it (districts <- accounts <-
dispositions (and crm_customers) <- cards; accounts <- loans, standing orders, transactions)."""
JDBC_STAGE_JOBS = frozenset({"stage_transactions"})
"""Stage jobs that read the source database: ``run`` gets its connection as ``jdbc``."""


def unstaged_raw_bytes(lake: Lake) -> int | None:
    """The bytes of the raw files that no stage bookmark (``<logs>/bookmarks/``) holds in their current size: what
    an incremental stage will read of the files. None when a stage job has no bookmark yet (it will read all its
    input)."""
    pending = _unstaged_raw_files(lake)
    return None if pending is None else sum(f.size for f in pending)


def _unstaged_raw_files(lake: Lake) -> list[FileInfo] | None:
    """The raw files no bookmark holds; None when a job will stage its whole input anyway: it has no bookmark, an
    unreadable one, or one its stage code has changed since (the job's own rules, :mod:`spark_jobs.common`)."""
    from spark_jobs.common.code_version import stage_code_fingerprint

    folder = lake.uri("logs", "bookmarks")
    documents = {}
    for f in lake.list_files(folder, ".json"):
        if posixpath.dirname(f.uri) == folder:
            try:
                documents[posixpath.basename(f.uri).removesuffix(".json")] = lake.read_json(f.uri)
            except (ValueError, OSError, LakeError):
                return None
    for source in (job.removeprefix("stage_") for job in STAGE_JOBS):
        document = documents.get(source)
        if not isinstance(document, dict):
            return None
        # a file bookmark keeps the code among its inputs, the database's bookmark beside its high-water mark
        inputs = document.get("inputs")
        code = inputs.get("code") if isinstance(inputs, dict) else document.get("code")
        if code != stage_code_fingerprint(source):
            return None
    staged = {
        (key, entry.get("size"))
        for document in documents.values()
        if isinstance(document, dict) and isinstance(document.get("files"), dict)
        for key, entry in document["files"].items()
        if isinstance(entry, dict)
    }
    raw = lake.uri("raw")
    pending = []
    for f in lake.list_files(raw):
        parts = f.uri[len(raw) :].lstrip("/").split("/")
        # a bookmark's key is the path below its source's raw folder, which may be more than one level deep
        if not any(("/".join(parts[i:]), f.size) in staged for i in range(1, len(parts))):
            pending.append(f)
    return pending


def merging_line_sources() -> dict[str, str]:
    """Stage table -> raw folder of the jobs that merge a batch with their whole stage table (the CRM, retail,
    visitor map and mainframe jobs; GA and the transactions read back only the months a batch touches)."""
    import importlib

    from spark_jobs.common.copybook_frames import CopybookSource
    from spark_jobs.common.runner import LineSource

    found = {}
    for job in STAGE_JOBS:
        module = importlib.import_module(f"spark_jobs.{job}")
        spec = getattr(module, "SPEC", None) or getattr(module, "SOURCE", None)
        if isinstance(spec, LineSource | CopybookSource):
            found[spec.name] = spec.raw_prefix
    return found


def stage_input_is_small(lake: Lake, full_refresh: bool = False) -> bool:
    """Whether the stage ahead reads little, told from the lake before Spark starts: every stage job has run
    before, and the raw files new since (:func:`unstaged_raw_bytes`) plus the stage tables they are merged with
    whole (:func:`merging_line_sources`) come to less than ``SMALL_INPUT_BYTES``. An incremental day stays below
    it at scales 1 and 10 (2 and 11 MB), not at 100 (22 MB of new files, 120 MB of tables), nor does a small batch
    into a large lake or a run after the stage code changed. The local JVM then compiles with C1 alone
    (:data:`c360.spark.QUICK_JIT_OPTIONS`): a day 9-15% faster at scales 1 and 10, 20-30% slower at scale 100
    (BENCHMARKS.md). New rows of the source
    database are not counted (only its job asks the database): a large batch of them alone would run with C1,
    slower but the same. The choice changes how fast the JVM runs, never what it stages."""
    from spark_jobs.common.session import SMALL_INPUT_BYTES

    if full_refresh:
        return False
    pending = _unstaged_raw_files(lake)
    if pending is None:
        return False
    merged = 0
    for table, folder in merging_line_sources().items():
        if any(f.size and f.uri.startswith(lake.uri("raw", folder) + "/") for f in pending):
            merged += sum(f.size for f in lake.list_files(lake.uri("stage", table)))
    return sum(f.size for f in pending) + merged < SMALL_INPUT_BYTES


def stage(
    settings: Settings,
    lake: Lake,
    progress: Callable[[str], None] | None = None,
    full_refresh: bool = False,
    small_input: bool | None = None,
) -> list[SourceAudit]:
    """Run every stage job in one local SparkSession (one JVM start for all of them). The jobs that read the
    source database get its connection (``C360_PG_DSN``, or the lake's local cluster, started for them). The file
    sources stage the files new since their last run and the database the rows after its bookmark; with
    ``full_refresh``, every file and every row. ``small_input`` is how a JVM started here compiles
    (:func:`c360.spark.local_session`); None: :func:`stage_input_is_small` decides."""
    import importlib
    from contextlib import ExitStack

    from c360.services.source_db import SourceDatabase, source_database
    from c360.spark import local_session
    from spark_jobs.common.jdbc import JdbcSource

    lake.ensure_zones()
    if small_input is None:
        small_input = stage_input_is_small(lake, full_refresh)
    spark = local_session(settings, small_input=small_input)
    raw, stage_zone, logs = lake.uri("raw"), lake.uri("stage"), lake.uri("logs")
    with ExitStack() as services:
        database: SourceDatabase | None = None
        for name in STAGE_JOBS:
            if progress:
                progress(name)
            job = importlib.import_module(f"spark_jobs.{name}")
            if name in JDBC_STAGE_JOBS:
                database = database or services.enter_context(source_database(settings.lake))
                jdbc = JdbcSource(url=database.jdbc_url, user=database.user, password=database.password)
                job.run(spark, raw, stage_zone, logs, jdbc=jdbc, full_refresh=full_refresh)
            else:
                job.run(spark, raw, stage_zone, logs, full_refresh=full_refresh)
    return latest_audits(lake)


def build(settings: Settings, lake: Lake) -> BuildResult:
    """``dbt build`` (seeds, models, snapshots, data tests; no unit tests: see ``PIPELINE_BUILD_ARGS``) on the
    configured target. A failed build is recorded (the export refuses it) and leaves the previous marts in place
    (:mod:`c360.build_state`)."""
    lake.ensure_zones()
    with recorded_build(lake), preserved_marts(lake):
        return run_dbt(settings, "build", extra=PIPELINE_BUILD_ARGS)


def export(settings: Settings, lake: Lake) -> ExportResult:
    return export_items(lake)


def dashboard(lake: Lake) -> str:
    """The local dashboard (the QuickSight stand-in): ``analytics/dashboard/index.html``."""
    from c360.export.dashboard import build_dashboard

    return build_dashboard(lake)
