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
    ):
        assert line in body, line
    import json

    results = json.loads((tmp_path / "BENCHMARKS.0.01.json").read_text())["results"]
    (export,) = results["export"]
    assert "peer_skipped" not in export, export.get("peer_skipped")
    assert export["peer_items"] == export["items"] > 0
    (pipeline,) = results["pipeline"]
    assert pipeline["seconds"] > 0 and pipeline["customers"] == results["floor"][0]["rows"] > 0
    (build,) = results["build"]  # the threads the build's own results show: the profile's (default 2)
    assert build["breakdown"]["threads"] == int(os.environ.get("C360_DBT_THREADS") or 2), build["breakdown"]
    assert f"summed over dbt's {build['breakdown']['threads']} threads" in body
    makefile = (REPO / "Makefile").read_text()  # the venv `make` builds is the one the harness names
    assert f"AWSWRANGLER_VERSION := {export['peer_version']}" in makefile
    assert f"awswrangler=={export['peer_version']}" in (REPO / "benchmarks" / "run.py").read_text()
