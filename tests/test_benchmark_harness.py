"""The benchmark harness at a tiny scale, so that it cannot rot. No timing is asserted: only that every section
of the report is there and carries numbers. The awswrangler peer runs from .venv-bench, which `make test` builds
(awswrangler pins a pyarrow older than ours)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from c360.services.postgres import PRIVATE_PREFIX

REPO = Path(__file__).resolve().parent.parent
SECTIONS = (
    "### Machine",
    "### Generation",
    "### Stage (Spark, one session)",
    "### dbt build vs the floor",
    "### Incremental: one new day after the full build",
    "### Export",
    "### Whole pipeline (`c360 run`)",
    "### Peak memory (RSS)",
    "### Athena cost proxy",
)
NUMBER = re.compile(r"\|\s*[\d,]+(\.\d+)?(x)?\s*\|")


@pytest.mark.spark
@pytest.mark.postgres
@pytest.mark.timeout(2400)
def test_harness_writes_every_section_with_numbers(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    private = Path(tempfile.gettempdir()).glob(
        f"{PRIVATE_PREFIX}*"
    )  # clusters' data kept outside their lakes
    clusters_before = set(private)
    subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.run", "--scale", "0.01", "--repeat", "1"),
            *("--out", str(out), "--workdir", str(tmp_path / "work")),
        ],
        cwd=REPO,
        env=env,
        check=True,
    )
    left = set(Path(tempfile.gettempdir()).glob(f"{PRIVATE_PREFIX}*")) - clusters_before
    assert not left, f"the runs' PostgreSQL clusters outlived their lakes: {sorted(left)}"
    assert not list((tmp_path / "work").glob("**/cluster.json"))
    report = out.read_text()
    assert "## Scale 0.01" in report
    body = report.split("## Scale 0.01", 1)[1]
    for title in SECTIONS:
        assert title in body, title
        section = body.split(title, 1)[1].split("\n### ", 1)[0]
        assert NUMBER.search(section), f"no numbers under {title}"
    assert "n/a" not in body.split("### Export", 1)[0], "a measurement before the export is missing"
    for line in (
        "| transactions |",
        "**JVM start-up + SparkSession**",
        "**floor** query",
        "incremental `dbt",
        "| `c360 run` |",
        "| model | ",  # where the dbt build's time goes
        "| test | ",
        "| slowest nodes of the full build |",
        "| stage with nothing new (JVM start-up",  # the fixed costs of every incremental run
        "| `dbt build --empty` (",
        "| both: the least an incremental day's stage + build can cost |",
    ):
        assert line in body, line
    import json

    raw = json.loads((tmp_path / "BENCHMARKS.0.01.json").read_text())
    # the raw numbers say as many completed repeats as the report (they said one fewer)
    assert raw["meta"]["completed"] == 1 and "repeats requested: 1, completed: 1;" in body
    results = raw["results"]
    (export,) = results["export"]
    assert "peer_skipped" not in export, export.get("peer_skipped")
    assert export["peer_items"] == export["items"] > 0
    (pipeline,) = results["pipeline"]
    assert pipeline["seconds"] > 0 and pipeline["customers"] == results["floor"][0]["rows"] > 0
    # `c360 run` ends quietly (a stop of its Spark session on the wrong thread printed a traceback)
    assert pipeline["stderr_tracebacks"] == 0
    assert results["floor"][0]["mismatches"] == {}  # the floor computes the build's customer_360
    assert "its output equals the build's customer_360" in body
    # dbt's own cost was measured over the very nodes the build runs, none left out
    (fixed,) = results["fixed"]
    assert fixed["empty_build_nodes"] == results["build"][0]["nodes"] > 100, fixed
    assert 0 < fixed["stage_jvm_seconds"] < fixed["stage_seconds"]
    # the stages start their JVM as `c360 stage` does: both compilers for the history, C1 alone after it
    stage_compilers = (results["stage"][0]["compilers"], results["incremental"][0]["stage_compilers"])
    assert (*stage_compilers, fixed["stage_compilers"]) == ("C1+C2", "C1", "C1")
    # its scratch lake is gone
    assert not (tmp_path / "work" / "scale-0.01-run-0" / "fixed-costs-lake").exists()
    (build,) = results["build"]  # the threads the build's own results show: the profile's (default 2)
    assert build["breakdown"]["threads"] == int(os.environ.get("C360_DBT_THREADS") or 2), build["breakdown"]
    assert f"summed over dbt's {build['breakdown']['threads']} threads" in body
    makefile = (REPO / "Makefile").read_text()  # the venv `make` builds is the one the harness names
    assert f"AWSWRANGLER_VERSION := {export['peer_version']}" in makefile
    assert f"awswrangler=={export['peer_version']}" in (REPO / "benchmarks" / "run.py").read_text()


def test_floor_mismatches_names_every_column_the_floor_computes_otherwise(tmp_path: Path) -> None:
    import duckdb

    from benchmarks.run import floor_mismatches

    con = duckdb.connect()

    def parquet(name: str, rows: str, columns: str = "client_id, balance, tier, score, kept") -> str:
        path = tmp_path / f"{name}.parquet"
        typed = "client_id::int as client_id, balance::double as balance, tier, score::int as score"
        extra = ", kept" if "kept" in columns else ""
        con.execute(
            f"copy (select {typed}{extra} from (values {rows}) as t({columns})) to '{path}' (format parquet)"
        )
        return str(path)

    built = parquet("built", "(1, 10, 'a', null, 5), (2, 20, 'b', 3, 6), (3, 1e12, 'c', 4, 7)")
    # the same values in another row order, and a double off by a relative 1e-15: equal
    same = parquet("same", "(3, 1e12 + 1e-3, 'c', 4, 7), (1, 10, 'a', null, 5), (2, 20, 'b', 3, 6)")
    assert floor_mismatches(con, built, same) == {}
    # client 3 missing and client 4 extra (counted in every column), client 1's score not null where the build's
    # is, client 2's balance off, and no column `kept` at all (every client)
    other = parquet(
        "other", "(1, 10, 'a', 9), (2, 20.5, 'b', 3), (4, 1, 'd', 1)", "client_id, balance, tier, score"
    )
    assert floor_mismatches(con, built, other) == {
        "client_id": 2,
        "balance": 3,
        "tier": 2,
        "score": 3,
        "kept": 3,
    }
    # every client right, one of them twice
    twice = parquet(
        "twice", "(1, 10, 'a', null, 5), (2, 20, 'b', 3, 6), (3, 1e12, 'c', 4, 7), (3, 1e12, 'c', 4, 7)"
    )
    assert floor_mismatches(con, built, twice) == {"client_id": 1}
