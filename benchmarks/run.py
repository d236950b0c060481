"""The benchmark harness: every measurement N times at one scale, medians into ``BENCHMARKS.md``.

    python -m benchmarks.run --scale 1 --repeat 3 --out BENCHMARKS.md      (or: make bench SCALE=1 REPEAT=3)

Each repeat builds a fresh lake under ``--workdir`` and runs, each in its own worker subprocess (``--worker``):
generate (per source; transactions into the lake's PostgreSQL), the DuckDB TPC-H ``dbgen`` peer, stage (JVM
start-up timed apart, then every Spark job), ``dbt build``, ``dbt parse`` (cold), the hand-written DuckDB floor
(``benchmarks/floor_customer_360.sql``), the incremental day (generate one day, stage, build), the fixed costs
every incremental day pays whatever its data (a stage with nothing new, ``dbt build --empty``) and the export
(DynamoDB JSON, our BatchWriteItem loader and awswrangler's ``put_df`` to the same local endpoint). Peak RSS per
step is the larger of ``os.wait4``'s ``ru_maxrss`` for the worker (with its reaped children) and a /proc sample
of the worker's whole process tree (the Spark JVM included). The Athena cost proxy is read from the Parquet
metadata of the first repeat's lake. The report's section for the scale is replaced (other scales are kept);
raw results are kept beside it as JSON. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH_RESULT "
FLOOR_SQL = Path(__file__).with_name("floor_customer_360.sql")
BENCH_VENV = REPO / ".venv-bench"
AWSWRANGLER_PIN = "awswrangler==3.17.1"
ATHENA_USD_PER_TB = 5.0
ATHENA_MIN_BYTES = 10 * 1024 * 1024
"""Athena bills at least 10 MB per query."""
STEPS = (
    "generate",
    "dbgen",
    "stage",
    "build",
    "parse",
    "floor",
    "incremental",
    "fixed",
    "export",
    "pipeline",
)
PIPELINE_TARGET_SECONDS = {1.0: 120.0, 10.0: 900.0}
"""The issue's targets for the whole pipeline (`c360 run`, set-up excluded) by scale."""


# --- peak RSS of a process tree (no psutil: /proc) --------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        pid = int(stat.split("/")[2])
        ppid = int(text[text.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(pid)
    return children


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    children = _children_map()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo += children.get(pid, [])
    return total


class PeakSampler:
    """Samples the RSS of this process and all its descendants every ``interval`` seconds; ``peak_kb``."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval, self.peak_kb = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(os.getpid()))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        if Path("/proc/self/status").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


# --- workers (one per step, in a subprocess) --------------------------------------------------------------------
def _settings(lake: str, scale: float, seed: int):
    from c360.settings import Settings

    return Settings().with_overrides(lake=lake, scale=scale, seed=seed)


def _timed(action):
    start = time.perf_counter()
    value = action()
    return value, time.perf_counter() - start


def work_generate(settings, lake, sources_filter: tuple[str, ...] = ()) -> dict[str, Any]:
    """Generate every source (or only ``sources_filter``: file sources by name, ``transactions`` for the DB)."""
    import importlib

    from c360.pipeline import FILE_SOURCES
    from c360.services.source_db import source_database
    from ingestion import transactions

    lake.ensure_zones()
    sources: dict[str, Any] = {}
    start = time.perf_counter()
    for name in FILE_SOURCES:
        if sources_filter and name not in sources_filter:
            continue
        module = importlib.import_module(f"ingestion.{name}")
        written, seconds = _timed(lambda m=module: m.generate(settings, lake))
        sources[name] = {"rows": sum(n for _, n in written), "seconds": seconds}
    files_seconds = time.perf_counter() - start
    if sources_filter and "transactions" not in sources_filter:
        return {"seconds": files_seconds, "files_seconds": files_seconds, "sources": sources}
    db_ctx = source_database(settings.lake)
    db, db_start = _timed(db_ctx.__enter__)
    try:
        # Timed in two parts: NumPy -> Arrow in memory (dbgen's like-for-like: it generates into in-memory DuckDB
        # tables), then COPY into PostgreSQL with its indexes.
        history = transactions.timed_load_history(settings, db.dsn)
    finally:
        db_ctx.__exit__(None, None, None)
    generated, loaded = history.generate_seconds, history.load_seconds
    sources["transactions"] = {
        "rows": history.rows,
        "seconds": generated + loaded,
        "generate_seconds": generated,
        "load_seconds": loaded,
    }
    return {
        "seconds": files_seconds + generated + loaded,
        "files_seconds": files_seconds,
        "postgres_start_seconds": db_start,
        "sources": sources,
    }


def work_dbgen(scale: float) -> dict[str, Any]:
    import duckdb
    import duckdb_extensions

    sf = round(max(0.01, 0.1 * scale), 3)
    con = duckdb.connect()
    duckdb_extensions.import_extension("tpch", con=con)
    _, seconds = _timed(lambda: con.sql(f"CALL dbgen(sf={sf})"))
    rows = con.sql("select (select count(*) from lineitem) + (select count(*) from orders)").fetchone()[0]
    return {"sf": sf, "rows": rows, "seconds": seconds}


def work_stage(settings, lake) -> dict[str, Any]:
    from c360 import pipeline
    from c360.spark import local_session

    small = pipeline.stage_input_is_small(lake)  # as `c360 stage` starts its JVM (C1 alone for a small input)
    spark, jvm_seconds = _timed(lambda: local_session(settings, small_input=small))
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    audits = pipeline.stage(
        settings, lake, progress=lambda name: marks.append((name, time.perf_counter())), small_input=small
    )
    end = time.perf_counter()
    spark.stop()
    raw = {a.source: a.raw_rows for a in audits}
    jobs = {}
    for i, (name, t0) in enumerate(marks):
        t1 = marks[i + 1][1] if i + 1 < len(marks) else end
        source = name.removeprefix("stage_")
        jobs[source] = {"seconds": t1 - t0, "rows": raw.get(source, 0)}
    if "ga_sessions" in jobs:
        jobs["ga_sessions"]["hits"] = raw.get("ga_hits", 0)
    return {
        "jvm_seconds": jvm_seconds,
        "jobs_seconds": end - start,
        "seconds": jvm_seconds + end - start,
        "rows": sum(j["rows"] for j in jobs.values()),
        "jobs": jobs,
        "driver_memory": settings.spark_driver_memory,
        "compilers": "C1" if small else "C1+C2",
    }


def dbt_breakdown(settings) -> dict[str, Any]:
    """Where the last dbt run's time went, from its run_results.json: per resource type (model, test, seed...)
    the node count and the node-seconds (summed over dbt's threads), the five slowest nodes and the threads."""
    from c360.dbt_runner import target_path

    results = json.loads((Path(target_path(settings)) / "run_results.json").read_text())["results"]
    kinds: dict[str, dict[str, float]] = {}
    for result in results:
        kind = kinds.setdefault(result["unique_id"].split(".")[0], {"nodes": 0, "seconds": 0.0})
        kind["nodes"] += 1
        kind["seconds"] += result["execution_time"]
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:5]
    return {
        "kinds": kinds,
        "slowest": {r["unique_id"].split(".", 2)[-1]: r["execution_time"] for r in slowest},
        # the worker threads the run used (on-run-start/end hooks run on dbt's main thread, before and after them)
        "threads": len({r["thread_id"] for r in results if not r["unique_id"].startswith("operation.")}),
    }


def work_build(settings, lake) -> dict[str, Any]:
    from c360 import pipeline

    result, seconds = _timed(lambda: pipeline.build(settings, lake))
    return {
        "seconds": seconds,
        "nodes": result.nodes,
        "memory_limit": settings.duckdb_memory_limit,
        "breakdown": dbt_breakdown(settings),
    }


def work_parse(settings, lake) -> dict[str, Any]:
    from c360.dbt_runner import run_dbt

    _, seconds = _timed(lambda: run_dbt(settings, "parse", extra=["--no-partial-parse"]))
    return {"seconds": seconds}


def floor_query(stage_uri: str) -> str:
    return FLOOR_SQL.read_text().replace("{stage}", stage_uri)


def floor_mismatches(con, customer_360: str, floor: str) -> dict[str, int]:
    """Per column of ``customer_360`` (a Parquet glob), the clients whose value ``floor`` (a Parquet file) gives
    otherwise: a column the floor lacks counts every client, a client either side lacks counts in every column,
    doubles may differ by a relative 1e-9 (the order of a sum), nulls equal nulls; a client the floor repeats
    counts once more under ``client_id`` per extra row. Empty when the floor computes customer_360 exactly, which
    is what makes it the floor of ``dbt build``."""
    con.execute(f"create or replace temp view bench_c360 as select * from read_parquet('{customer_360}')")
    con.execute(f"create or replace temp view bench_floor as select * from read_parquet('{floor}')")
    floor_columns = set(con.sql("select * from bench_floor limit 0").columns)
    rows = con.sql("select count(*) from bench_c360").fetchone()[0]
    found: dict[str, int] = {}
    unmatched = "c.client_id is null or f.client_id is null"  # a client only one side has
    counts = []  # per column the count of differing clients, all in one full join
    for column, data_type, *_ in con.sql("describe bench_c360").fetchall():
        if column not in floor_columns:
            found[column] = rows
            continue
        a, b = f"c.{column}", f"f.{column}"
        differs = f"{a} is distinct from {b}"
        if data_type in ("DOUBLE", "FLOAT"):
            differs = (
                f"{differs} and ({a} is null or {b} is null or abs({a} - {b}) > 1e-9 * greatest(1, abs({a})))"
            )
        counts.append((column, f"count(*) filter (where {unmatched} or ({differs}))"))
    if counts:
        values = con.sql(
            f"select {', '.join(expression for _, expression in counts)} "
            "from bench_c360 as c full join bench_floor as f on c.client_id = f.client_id"
        ).fetchone()
        found.update(zip((column for column, _ in counts), values, strict=True))
    if "client_id" in floor_columns:
        found["client_id"] = (
            found.get("client_id", 0)
            + con.sql("select count(*) - count(distinct client_id) from bench_floor").fetchone()[0]
        )
    return {column: count for column, count in found.items() if count}


def work_floor(settings, lake) -> dict[str, Any]:
    import duckdb

    out = Path(tempfile.mkdtemp()) / "floor_customer_360.parquet"
    con = duckdb.connect(config={"memory_limit": settings.duckdb_memory_limit})
    query = floor_query(lake.uri("stage"))
    _, seconds = _timed(lambda: con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)"))
    rows = con.sql(f"select count(*) from read_parquet('{out}')").fetchone()[0]
    columns = len(con.sql(f"select * from read_parquet('{out}') limit 0").columns)
    mismatches = floor_mismatches(con, lake.uri("analytics", "customer_360") + "/**/*.parquet", str(out))
    shutil.rmtree(out.parent, ignore_errors=True)
    return {"seconds": seconds, "rows": rows, "columns": columns, "mismatches": mismatches}


def work_incremental(settings, lake) -> dict[str, Any]:
    from c360 import pipeline
    from c360.services.source_db import source_database

    day = settings.end_date + timedelta(days=1)
    with source_database(settings.lake) as db:
        files, gen_seconds = _timed(lambda: pipeline.generate(settings, lake, day, db.dsn))
    staged = work_stage(settings, lake)
    _built, build_seconds = _timed(lambda: pipeline.build(settings, lake))
    return {
        "day": day.isoformat(),
        "rows": sum(f.records for f in files),
        "generate_seconds": gen_seconds,
        "stage_seconds": staged["seconds"],
        "stage_jobs": {name: job["seconds"] for name, job in staged["jobs"].items()},
        "stage_compilers": staged["compilers"],
        "build_seconds": build_seconds,
        "build_breakdown": dbt_breakdown(settings),
        "seconds": gen_seconds + staged["seconds"] + build_seconds,
    }


def work_fixed(settings, lake) -> dict[str, Any]:
    """What any incremental run costs whatever its data, on the lake after its new day (so with nothing new):

    - the stage step again, in a new JVM as every run's stage is: the session's start and every job's bookmark
      check, with no file to read;
    - ``dbt build --empty``, as the pipeline builds (no unit tests), in a new process as every run's build is:
      every node of the project run on zero rows (dbt limits every ref and source to none), so dbt's start-up
      and its own work per node (rendering, its cache, hooks, one query or more each) and DuckDB's per-statement
      cost, without the data. Like a run's build, it finds the project parsed (dbt's partial parsing). It runs
      in a scratch lake whose stage is the lake's (a symbolic link), so that the lake's own database and marts
      are left as they are; the scratch lake is removed after."""
    from c360.dbt_runner import PIPELINE_BUILD_ARGS, parsed_ahead, run_dbt

    scratch = Path(settings.lake).parent / "fixed-costs-lake"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "analytics").mkdir(parents=True)
    (scratch / "stage").symlink_to(Path(settings.lake) / "stage", target_is_directory=True)
    try:
        empty_settings = settings.with_overrides(lake=str(scratch))
        with parsed_ahead(empty_settings):  # a run's build finds the parse saved (its lake's earlier builds,
            pass  # or `c360 run`'s parse beside the stage); parsed in a child process, as the run's is
        built, empty_seconds = _timed(
            lambda: run_dbt(empty_settings, "build", extra=[*PIPELINE_BUILD_ARGS, "--empty"])
        )
        breakdown = dbt_breakdown(empty_settings)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    staged = work_stage(settings, lake)
    return {
        "stage_seconds": staged["seconds"],
        "stage_jvm_seconds": staged["jvm_seconds"],
        "stage_compilers": staged["compilers"],
        "empty_build_seconds": empty_seconds,
        "empty_build_nodes": built.nodes,
        "empty_build_breakdown": breakdown,
        "seconds": staged["seconds"] + empty_seconds,
    }


PEER_PUT_DF = r"""
import json, sys, time
from decimal import Decimal
import boto3, pandas as pd, awswrangler as wr
endpoint, table, parquet = sys.argv[1:4]
wr.config.dynamodb_endpoint_url = endpoint
session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
df = pd.read_parquet(parquet)
for column in df.columns:  # DynamoDB has no float: Decimal, like our loader; dates as ISO strings
    if df[column].dtype.kind == "f":
        df[column] = [None if v != v else Decimal(str(v)) for v in df[column]]
    elif df[column].dtype.kind in "OM":
        df[column] = [None if v is None or v != v else (v.isoformat() if hasattr(v, "isoformat") else v)
                      for v in df[column]]
df = df.astype(object).where(df.notna(), None)
start = time.perf_counter()
wr.dynamodb.put_df(df=df, table_name=table, boto3_session=session, use_threads=4)
seconds = time.perf_counter() - start
print(json.dumps({"items": len(df), "seconds": seconds, "version": wr.__version__}))
"""


def ensure_bench_venv() -> tuple[Path | None, str]:
    """awswrangler pins pyarrow<26 (ours is 26): it lives in .venv-bench, which `make bench` and `make test` build
    (`make .venv-bench`); nothing is installed here, at run time."""
    python = BENCH_VENV / "bin" / "python"
    probe = [str(python), "-c", "import awswrangler"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python, ""
    return None, f"{BENCH_VENV.name} with {AWSWRANGLER_PIN} is missing: run `make .venv-bench`"


def work_export(settings, lake) -> dict[str, Any]:
    from c360.export.dynamodb import export_items
    from c360.export.dynamodb_loader import dynamodb_client, ensure_table, load_profiles, local_endpoint

    exported, export_seconds = _timed(lambda: export_items(lake))
    result: dict[str, Any] = {"items": exported.items, "export_seconds": export_seconds}
    with local_endpoint() as endpoint:
        loaded, load_seconds = _timed(lambda: load_profiles(lake, "bench-c360", endpoint))
        result.update(load_items=loaded.items, load_seconds=load_seconds)
        python, reason = ensure_bench_venv()
        if python is None:
            result["peer_skipped"] = reason
            return result
        ensure_table(dynamodb_client(endpoint), "bench-wrangler")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        env.pop("AWS_ENDPOINT_URL", None)
        parquet = lake.uri("analytics", "customer_360")
        peer = subprocess.run(
            [str(python), "-c", PEER_PUT_DF, endpoint, "bench-wrangler", parquet],
            capture_output=True,
            text=True,
            env=env,
        )
        if peer.returncode != 0:
            result["peer_skipped"] = "awswrangler put_df failed: " + peer.stderr.strip().splitlines()[-1]
        else:
            data = json.loads(peer.stdout.strip().splitlines()[-1])
            result.update(
                peer_items=data["items"], peer_seconds=data["seconds"], peer_version=data["version"]
            )
    return result


def work_pipeline(settings, lake) -> dict[str, Any]:
    """``c360 run`` end to end, as a user runs it (its own lake beside the step-by-step one): start the local
    services, generate, stage, build, export into the local DynamoDB endpoint."""
    pipeline_lake = str(Path(settings.lake).parent / "pipeline-lake")
    c360 = Path(sys.executable).with_name("c360")
    command = [str(c360), "run", "--lake", pipeline_lake, "--scale", str(settings.scale)]
    command += ["--seed", str(settings.seed)]
    done, seconds = _timed(lambda: subprocess.run(command, cwd=REPO, capture_output=True, text=True))
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"c360 run failed (exit {done.returncode}): {' | '.join(tail)}")
    import pyarrow.parquet as pq

    marts = _parquet_files(f"{pipeline_lake}/analytics/customer_360")
    return {
        "seconds": seconds,
        "customers": sum(pq.ParquetFile(f).metadata.num_rows for f in marts),
        # a run that passed but printed a traceback (one a thread caught) is what a user would report
        "stderr_tracebacks": done.stderr.count("Traceback (most recent call last)"),
    }


def worker_main(step: str, lake_root: str, scale: float, seed: int, sources: tuple[str, ...] = ()) -> None:
    from c360.storage import Lake

    settings = _settings(lake_root, scale, seed)
    lake = Lake(settings.lake)
    with PeakSampler() as sampler:
        if step == "dbgen":
            data = work_dbgen(scale)
        elif step == "generate":
            data = work_generate(settings, lake, sources)
        else:
            data = globals()[f"work_{step}"](settings, lake)
    data["tree_peak_kb"] = sampler.peak_kb
    print(RESULT_PREFIX + json.dumps(data), flush=True)


# --- parent: run workers, aggregate, report ---------------------------------------------------------------------
def run_worker(
    step: str, lake: str, scale: float, seed: int, log: Path, sources: tuple[str, ...] = ()
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--worker", step, "--lake", lake]
    cmd += ["--scale", str(scale), "--seed", str(seed)]
    if sources:
        cmd += ["--sources", ",".join(sources)]
    env = {**os.environ, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with open(log, "a") as err, tempfile.TemporaryFile("w+") as out:
        err.write(f"\n=== {step} {lake} {datetime.now(UTC).isoformat()}\n")
        err.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    lines = [line for line in text.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark step {step} failed (exit {proc.returncode}); see {log}")
    data = json.loads(lines[-1][len(RESULT_PREFIX) :])
    data["wall_seconds"] = wall
    data["peak_rss_mb"] = max(usage.ru_maxrss, data.pop("tree_peak_kb", 0)) / 1024
    return data


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    from c360.settings import Settings

    settings = Settings()
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"MemTotal:\s+(\d+)", meminfo)
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()) if meminfo else None
    java = Path(settings.java_home) / "bin" / "java"
    try:
        java_out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
        java_version = java_out.splitlines()[0] if java_out else "unknown"
    except OSError:
        java_version = "not found"
    wrangler = BENCH_VENV / "bin" / "python"
    wr_version = "not installed"
    if wrangler.exists():
        probe = subprocess.run(
            [str(wrangler), "-c", "import awswrangler; print(awswrangler.__version__)"],
            capture_output=True,
            text=True,
        )
        wr_version = probe.stdout.strip() or wr_version
    return {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gb": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": _version("duckdb"),
        "pyspark": _version("pyspark"),
        "dbt-core": _version("dbt-core"),
        "dbt-duckdb": _version("dbt-duckdb"),
        "java": java_version,
        "awswrangler (.venv-bench)": wr_version,
        "duckdb_memory_limit": settings.duckdb_memory_limit,
        "spark_driver_memory": settings.spark_driver_memory,
        "spark_master": settings.spark_master,
    }


# --- Athena cost proxy (Parquet metadata) -----------------------------------------------------------------------
def _parquet_files(root: str) -> list[str]:
    return sorted(p for p in glob.glob(f"{root}/**/*.parquet", recursive=True) if "/." not in p)


def scanned_bytes(files: list[str], columns: list[str] | None, lookup: tuple[str, int] | None = None) -> int:
    """Bytes Athena would read: each file's footer, plus the compressed column chunks of the selected columns
    (all with ``columns=None``) in the row groups that min/max statistics cannot rule out for ``lookup``."""
    import pyarrow.parquet as pq

    total = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        total += meta.serialized_size + 8
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            chunks = {names[i]: group.column(i) for i in range(group.num_columns)}
            if lookup is not None:
                key, value = lookup
                chunk = chunks.get(key)
                stats = chunk.statistics if chunk is not None else None
                if stats is not None and stats.has_min_max and not (stats.min <= value <= stats.max):
                    total += chunk.total_compressed_size  # the predicate column is read to rule it out
                    continue
            wanted = chunks if columns is None else {c: chunks[c] for c in columns if c in chunks}
            total += sum(c.total_compressed_size for c in wanted.values())
    return total


def athena_proxy(lake_root: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    c360 = _parquet_files(f"{lake_root}/analytics/customer_360")
    txns_root = f"{lake_root}/stage/transactions"
    txns = _parquet_files(txns_root)
    months = sorted({m for p in txns for m in re.findall(r"trans_month=([^/]+)", p)})
    client = None
    if c360:
        ids = pq.read_table(c360[0], columns=["client_id"]).column("client_id").to_pylist()
        client = ids[len(ids) // 2] if ids else None
    mart_cols = ["value_tier", "rfm_segment", "current_balance", "retail_sales"]
    rows = [
        {
            "query": "customer_360, full scan (`SELECT *`)",
            "bytes": scanned_bytes(c360, None),
        },
        {
            "query": "typical mart query: `SELECT value_tier, rfm_segment, count(*), avg(current_balance), "
            "sum(retail_sales) FROM customer_360 GROUP BY 1, 2` (column pruning)",
            "bytes": scanned_bytes(c360, mart_cols),
        },
        {
            "query": f"single-customer lookup: `SELECT * FROM customer_360 WHERE client_id = {client}` "
            "(row-group min/max pruning)",
            "bytes": scanned_bytes(c360, None, ("client_id", client) if client is not None else None),
        },
        {
            "query": "stage transactions, full scan (`SELECT *`)",
            "bytes": scanned_bytes(txns, None),
        },
    ]
    if months:
        last = [p for p in txns if f"trans_month={months[-1]}" in p]
        rows.append(
            {
                "query": f"last month's debits: `SELECT account_id, amount FROM transactions WHERE "
                f"trans_month = '{months[-1]}' AND trans_type = 'debit'` (partition + column pruning)",
                "bytes": scanned_bytes(last, ["account_id", "amount", "trans_type"]),
            }
        )
    for row in rows:
        row["billed_bytes"] = max(row["bytes"], ATHENA_MIN_BYTES)
        row["usd"] = row["billed_bytes"] / 1e12 * ATHENA_USD_PER_TB
    return rows


# --- aggregation and the report ---------------------------------------------------------------------------------
def _breakdown_lines(builds: list[dict[str, Any]], incrementals: list[dict[str, Any]]) -> list[str]:
    """Where a build's time goes: node-seconds per resource type, full and incremental, and the slowest nodes."""
    full = [b["breakdown"] for b in builds if b.get("breakdown")]
    inc = [i["build_breakdown"] for i in incrementals if i.get("build_breakdown")]
    if not full:
        return []
    kinds = sorted(
        {k for b in full + inc for k in b["kinds"]}, key=lambda k: -(median(full, "kinds", k, "seconds") or 0)
    )
    lines = [
        f"Where the build's time goes (medians; node-seconds are summed over dbt's {full[0]['threads']} threads, so "
        "the wall clock minus node-seconds / threads is roughly dbt's own start-up and bookkeeping):",
        "",
        "| resource type | nodes | node-seconds, full build | node-seconds, incremental build |",
        "|---|---:|---:|---:|",
    ]
    for kind in kinds:
        lines.append(
            f"| {kind} | {_f(median(full, 'kinds', kind, 'nodes'), 0)} | "
            f"{_f(median(full, 'kinds', kind, 'seconds'))} | "
            f"{_f(median(inc, 'kinds', kind, 'seconds') or (0.0 if inc else None))} |"
        )
    lines += ["", "| slowest nodes of the full build | seconds |", "|---|---:|"]
    lines += [f"| {name} | {_f(median(full, 'slowest', name))} |" for name in full[0]["slowest"]]
    return [*lines, ""]


def median(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return statistics.median(values) if values else None


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _rate(rows: float | None, seconds: float | None) -> float | None:
    return rows / seconds if rows is not None and seconds else None


def _floor_check(runs: list[dict[str, Any]]) -> str:
    """What comparing the floor's output with the build's customer_360 found, in words."""
    checked = [r for r in runs if "mismatches" in r]
    if not checked:
        return "It was not compared with customer_360."
    differing = sorted({column for r in checked for column in r["mismatches"]})
    if not differing:
        return (
            f"In {'each of the' if len(checked) > 1 else 'the'} {len(checked)} run(s) its output equals the "
            "build's customer_360, every column of every client (`floor_mismatches`)."
        )
    return (
        f"**Its output differs from the build's customer_360** in {len(differing)} column(s) "
        f"({', '.join(differing)}; `floor_mismatches`), so it is not yet the floor."
    )


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def render_section(scale: float, meta: dict[str, Any], results: dict[str, list[dict[str, Any]]]) -> str:
    n = {step: len(runs) for step, runs in results.items()}
    m = meta["machine"]
    lines = [
        f"<!-- bench:scale={scale}:start -->",
        f"## Scale {scale}",
        "",
        f"Run {meta['started']} → {meta.get('finished', '')}; repeats requested: {meta['repeat']}, completed: "
        f"{meta['completed']}; seed {meta['seed']}. Values are medians of the completed repeats; times in "
        "seconds, wall clock. Load average (1/5/15 min) before: "
        f"{meta['load_before']}, after: {meta.get('load_after', '')}. Steps measured: "
        f"{', '.join(meta.get('steps', STEPS))}; sources generated: "
        f"{', '.join(meta['sources']) if isinstance(meta.get('sources'), list) else 'all'}.",
        "",
        "### Machine",
        "",
        "| item | value |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in m.items()],
        "",
    ]
    g = results.get("generate", [])
    d = results.get("dbgen", [])
    t_rows, t_s = (
        median(g, "sources", "transactions", "rows"),
        median(g, "sources", "transactions", "seconds"),
    )
    d_rows, d_s = median(d, "rows"), median(d, "seconds")
    lines += [
        "### Generation",
        "",
        f"Runs: {n.get('generate', 0)} (dbgen: {n.get('dbgen', 0)}). Transactions are generated with NumPy and "
        "loaded into the lake's PostgreSQL with COPY; dbgen is DuckDB's in-process TPC-H generator "
        "(lineitem + orders rows).",
        "",
        "| measurement | rows | seconds | rows/s | vs dbgen |",
        "|---|---:|---:|---:|---:|",
    ]
    peer_rate = _rate(d_rows, d_s)
    for source in g[0]["sources"] if g else {}:
        rows, secs = median(g, "sources", source, "rows"), median(g, "sources", source, "seconds")
        rate = _rate(rows, secs)
        lines.append(
            f"| generate {source} | {_f(rows, 0)} | {_f(secs)} | {_f(rate, 0)} | "
            f"{_ratio(rate, peer_rate) if source == 'transactions' else ''} |"
        )
        if source == "transactions" and "generate_seconds" in g[0]["sources"][source]:
            for part, label in (
                ("generate_seconds", "↳ NumPy → Arrow, in memory"),
                ("load_seconds", "↳ COPY into PostgreSQL + indexes"),
            ):
                part_s = median(g, "sources", source, part)
                part_rate = _rate(rows, part_s)
                lines.append(
                    f"| {label} | {_f(rows, 0)} | {_f(part_s)} | {_f(part_rate, 0)} | "
                    f"{_ratio(part_rate, peer_rate)} |"
                )
    lines += [
        f"| generate, all sources | | {_f(median(g, 'seconds'))} | | |",
        f"| (PostgreSQL cluster start) | | {_f(median(g, 'postgres_start_seconds'))} | | |",
        f"| **peer** DuckDB TPC-H dbgen sf={d[0]['sf'] if d else '?'} | {_f(d_rows, 0)} | {_f(d_s)} | "
        f"{_f(peer_rate, 0)} | 1.00x |",
        "",
        f"Transactions rows/s ÷ dbgen rows/s: **{_ratio(_rate(t_rows, t_s), peer_rate)}** generated and loaded "
        "into PostgreSQL; "
        f"**{_ratio(_rate(t_rows, median(g, 'sources', 'transactions', 'generate_seconds')), peer_rate)}** "
        "generated in memory, dbgen's own terms.",
        "",
    ]
    s = results.get("stage", [])
    lines += [
        "### Stage (Spark, one session)",
        "",
        f"Runs: {n.get('stage', 0)}. Rows are raw records read per job (GA: sessions; its hits are written "
        "too). `stage_transactions` includes starting the lake's PostgreSQL for the JDBC read.",
        "",
        "| job | raw rows | seconds | rows/s | share of stage |",
        "|---|---:|---:|---:|---:|",
    ]
    total = median(s, "seconds")
    for job in s[0]["jobs"] if s else {}:
        rows, secs = median(s, "jobs", job, "rows"), median(s, "jobs", job, "seconds")
        share = f"{100 * secs / total:.0f}%" if secs and total else "n/a"
        lines.append(f"| {job} | {_f(rows, 0)} | {_f(secs)} | {_f(_rate(rows, secs), 0)} | {share} |")
    jvm = median(s, "jvm_seconds")
    lines += [
        f"| **JVM start-up + SparkSession** | | {_f(jvm)} | | "
        f"{f'{100 * jvm / total:.0f}%' if jvm and total else 'n/a'} |",
        f"| **whole stage step** | {_f(median(s, 'rows'), 0)} | {_f(total)} | "
        f"{_f(_rate(median(s, 'rows'), total), 0)} | 100% |",
        "",
    ]
    b, p, fl = results.get("build", []), results.get("parse", []), results.get("floor", [])
    build_s, floor_s = median(b, "seconds"), median(fl, "seconds")
    lines += [
        "### dbt build vs the floor",
        "",
        f"Runs: build {n.get('build', 0)}, parse {n.get('parse', 0)}, floor {n.get('floor', 0)}. The floor is "
        f"`benchmarks/floor_customer_360.sql`: customer_360's {fl[0]['columns'] if fl else '?'} columns straight "
        f"from stage Parquet, one DuckDB query written to Parquet. {_floor_check(fl)}",
        "",
        "| measurement | seconds | vs floor |",
        "|---|---:|---:|",
        f"| `dbt build` ({_f(median(b, 'nodes'), 0)} nodes: seeds, models, snapshots, data tests) | {_f(build_s)} | "
        f"{_ratio(build_s, floor_s)} |",
        f"| `dbt parse --no-partial-parse` (inside build's time too) | {_f(median(p, 'seconds'))} | "
        f"{_ratio(median(p, 'seconds'), floor_s)} |",
        f"| **floor** query ({_f(median(fl, 'rows'), 0)} rows) | {_f(floor_s)} | 1.00x |",
        "",
        f"build / floor: **{_ratio(build_s, floor_s)}**.",
        "",
    ]
    inc = results.get("incremental", [])
    inc_build = median(inc, "build_seconds")
    lines += _breakdown_lines(b, inc)
    lines += [
        "### Incremental: one new day after the full build",
        "",
        f"Runs: {n.get('incremental', 0)}. Day {inc[0]['day'] if inc else '?'} generated for every source, "
        "staged (every job reads only the files new since the full stage, plus the visitor map's current "
        "snapshot), then `dbt build` again (incremental: the staging copies of transactions, GA hits and GA "
        "sessions, and fct_transactions, which read only the partitions the day changed; the rest "
        "rebuilds).",
        "",
        "| measurement | seconds | vs full |",
        "|---|---:|---:|",
        f"| generate one day ({_f(median(inc, 'rows'), 0)} records) | {_f(median(inc, 'generate_seconds'))} | "
        f"{_ratio(median(inc, 'generate_seconds'), median(g, 'seconds'))} |",
        f"| stage after the new day | {_f(median(inc, 'stage_seconds'))} | "
        f"{_ratio(median(inc, 'stage_seconds'), total)} |",
        f"| incremental `dbt build` | {_f(inc_build)} | {_ratio(inc_build, build_s)} |",
        f"| full `dbt build` | {_f(build_s)} | 1.00x |",
        "",
    ]
    fx = results.get("fixed", [])
    fixed_stage, fixed_build = median(fx, "stage_seconds"), median(fx, "empty_build_seconds")
    fixed_day = median(fx, "seconds")
    lines += [
        f"What every incremental run pays whatever its data (runs: {n.get('fixed', 0)}), on the lake after its "
        "new day, each in a new process as a run's steps are: the stage again with nothing new (the Spark "
        "session's start and every job's bookmark check), and `dbt build --empty` (every node of the build run "
        "on zero rows: dbt's own work per node and DuckDB's per statement, without the data; in a scratch lake "
        "that reads the same stage).",
        "",
        "| fixed cost | seconds | vs full |",
        "|---|---:|---:|",
        f"| stage with nothing new (JVM start-up {_f(median(fx, 'stage_jvm_seconds'))} s of it) | "
        f"{_f(fixed_stage)} | {_ratio(fixed_stage, total)} |",
        f"| `dbt build --empty` ({_f(median(fx, 'empty_build_nodes'), 0)} nodes, zero rows) | {_f(fixed_build)} | "
        f"{_ratio(fixed_build, build_s)} |",
        f"| both: the least an incremental day's stage + build can cost | {_f(fixed_day)} | "
        f"{_ratio(fixed_day, total + build_s if total and build_s else None)} |",
        "",
    ]
    day_jobs = sorted({name for run in inc for name in run.get("stage_jobs", {})})
    if day_jobs:
        lines += [
            "Stage jobs after the new day (seconds; the first job includes warming up the JVM): "
            + ", ".join(f"{name} {_f(median(inc, 'stage_jobs', name))}" for name in day_jobs)
            + ".",
            "",
        ]
    e = results.get("export", [])
    items = median(e, "items")
    ours = _rate(median(e, "load_items"), median(e, "load_seconds"))
    peer = _rate(median(e, "peer_items"), median(e, "peer_seconds"))
    skipped = next((r["peer_skipped"] for r in e if r.get("peer_skipped")), None)
    lines += [
        "### Export",
        "",
        f"Runs: {n.get('export', 0)}. Both loaders write the same customer_360 rows to the same local "
        "DynamoDB endpoint (moto, `local_endpoint()`), each into its own table of the same schema.",
        "",
        "| measurement | items | seconds | items/s | vs awswrangler |",
        "|---|---:|---:|---:|---:|",
        f"| DynamoDB JSON export (gzip) | {_f(items, 0)} | {_f(median(e, 'export_seconds'))} | "
        f"{_f(_rate(items, median(e, 'export_seconds')), 0)} | |",
        f"| our loader `load_profiles` (BatchWriteItem, 4 threads) | {_f(median(e, 'load_items'), 0)} | "
        f"{_f(median(e, 'load_seconds'))} | {_f(ours, 0)} | {_ratio(ours, peer)} |",
        f"| **peer** awswrangler `dynamodb.put_df` (.venv-bench) | {_f(median(e, 'peer_items'), 0)} | "
        f"{_f(median(e, 'peer_seconds'))} | {_f(peer, 0)} | 1.00x |",
        "",
    ]
    if skipped:
        lines += [f"awswrangler comparison skipped: {skipped}", ""]
    p = results.get("pipeline", [])
    target = PIPELINE_TARGET_SECONDS.get(float(scale))
    lines += [
        "### Whole pipeline (`c360 run`)",
        "",
        f"Runs: {n.get('pipeline', 0)}. `c360 run --scale {scale}` on a fresh lake, as a user runs it: starts the "
        "lake's PostgreSQL and the local DynamoDB endpoint, then generate, stage, build, export (set-up, i.e. "
        "`make`'s installs, excluded).",
        "",
        "| measurement | seconds | vs target |",
        "|---|---:|---:|",
        f"| `c360 run` | {_f(median(p, 'seconds'))} | "
        f"{_ratio(median(p, 'seconds'), target) + f' of {target:.0f} s' if target else 'no target'} |",
        "",
    ]
    lines += [
        "### Peak memory (RSS)",
        "",
        "Per worker process tree (the Spark JVM included; the PostgreSQL server is a daemon and is not "
        f"counted). Bounds: DuckDB `memory_limit` = {m['duckdb_memory_limit']}, Spark driver memory = "
        f"{m['spark_driver_memory']} ({m['spark_master']}).",
        "",
        "| step | peak RSS (MB) | wall seconds (process) |",
        "|---|---:|---:|",
    ]
    for step in STEPS:
        runs = results.get(step, [])
        lines.append(
            f"| {step} | {_f(median(runs, 'peak_rss_mb'), 0)} | {_f(median(runs, 'wall_seconds'))} |"
        )
    lines += [
        "",
        "### Athena cost proxy",
        "",
        f"Bytes Athena would scan, from the Parquet metadata (footers + compressed column chunks) of the first "
        f"repeat's lake; $ at ${ATHENA_USD_PER_TB:.0f}/TB with Athena's 10 MB minimum per query.",
        "",
        "| query | bytes scanned | billed bytes | $ per query | $ per 1M queries |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in meta.get("athena", []):
        lines.append(
            f"| {row['query']} | {row['bytes']:,} | {row['billed_bytes']:,} | {row['usd']:.8f} | "
            f"{row['usd'] * 1e6:,.2f} |"
        )
    if meta.get("errors"):
        lines += ["", "Failed steps (see the harness log):", "", *[f"- {e}" for e in meta["errors"]]]
    lines += ["", f"<!-- bench:scale={scale}:end -->", ""]
    return "\n".join(lines)


HEADER = """# Benchmarks

Measured by `make bench SCALE=<s> REPEAT=<n>` (`python -m benchmarks.run --scale S --repeat N --out
BENCHMARKS.md`): every step at least N times on a fresh lake, medians, peers side by side. One section per scale;
re-running a scale replaces its section only. The raw numbers are in `BENCHMARKS.<scale>.json` beside it.

<!-- bench:notes:start -->
<!-- bench:notes:end -->

"""


def write_report(out: Path, scale: float, section: str) -> None:
    text = out.read_text() if out.exists() else HEADER
    pattern = re.compile(
        rf"<!-- bench:scale={re.escape(str(scale))}:start -->.*?<!-- bench:scale={re.escape(str(scale))}:end -->\n?",
        re.S,
    )
    text = (
        pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    )
    out.write_text(text)


def _remove_lake(lake: str) -> None:
    """Delete a run's folder: its lake and the `c360 run` lake beside it, their local PostgreSQL clusters first
    (a cluster's data may live outside its lake)."""
    from c360.services.postgres import destroy_clusters_under

    run = Path(lake).parent
    destroy_clusters_under(run)
    shutil.rmtree(run, ignore_errors=True)


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    parser.add_argument("--workdir", default=None, help="Where the lakes go (default: a temporary folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the lakes.")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="Comma-separated steps to measure (default: all). Later steps need the earlier ones' lake.",
    )
    parser.add_argument(
        "--sources",
        default="",
        help="Generate only these sources (comma-separated, e.g. 'transactions'); default: every source.",
    )
    parser.add_argument("--worker", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sources = tuple(s for s in args.sources.split(",") if s)
    if args.worker:
        worker_main(args.worker, args.lake, args.scale, args.seed, sources)
        return 0
    steps = tuple(s for s in args.steps.split(",") if s)
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")

    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="c360-bench-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # the lake's PostgreSQL may run as another user
    log = workdir / "bench.log"
    raw_json = out.with_name(f"{out.stem}.{args.scale}.json")
    meta: dict[str, Any] = {
        "scale": args.scale,
        "repeat": args.repeat,
        "seed": args.seed,
        "steps": list(steps),
        "sources": list(sources) or "all",
        "completed": 0,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": _load(),
        "machine": machine_info(),
    }
    results: dict[str, list[dict[str, Any]]] = {step: [] for step in STEPS}

    def save() -> None:
        """The raw numbers and the report, as far as they go (a run cut short keeps what it measured)."""
        raw_json.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
        write_report(out, args.scale, render_section(args.scale, meta, results))

    failures = 0
    print(f"benchmarks: scale {args.scale}, {args.repeat} repeat(s); lakes and log in {workdir}", flush=True)
    for r in range(args.repeat):
        lake = str(workdir / f"scale-{args.scale}-run-{r}" / "lake")
        for step in (s for s in STEPS if s in steps):
            if step == "incremental" and r == 0:
                meta["athena"] = athena_proxy(lake)  # the full build's lake, before the new day
            try:
                data = run_worker(
                    step, lake, args.scale, args.seed, log, sources if step == "generate" else ()
                )
            except RuntimeError as exc:  # recorded; the report shows n/a and the error
                meta.setdefault("errors", []).append(f"run {r + 1}: {exc}")
                failures += 1
                print(f"  run {r + 1}/{args.repeat} {step}: FAILED ({exc})", flush=True)
            else:
                results[step].append(data)
                print(f"  run {r + 1}/{args.repeat} {step}: {data['wall_seconds']:.1f}s", flush=True)
            meta["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            meta["load_after"] = _load()
            save()
        meta["completed"] = r + 1
        save()
        if not args.keep:
            _remove_lake(lake)
    print(f"report: {out} (raw: {raw_json})", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
