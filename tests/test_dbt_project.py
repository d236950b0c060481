"""The dbt project compiles for Athena offline, and what it compiles is Trino SQL with no DuckDB-only syntax."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot

REPO = Path(__file__).resolve().parent.parent
DBT = str(Path(sys.executable).parent / "dbt")

# Constructs that DuckDB accepts and Athena (Trino) does not, or that break reproducibility.
DENYLIST = {
    r"::": "DuckDB cast shorthand",
    r"\bqualify\b": "QUALIFY",
    r"\bread_(parquet|csv|json)\b": "DuckDB table functions",
    r"\bilike\b": "ILIKE",
    r"\bexclude\s*\(": "SELECT * EXCLUDE",
    r"\bstruct_pack\b|\blist_value\b": "DuckDB nested constructors",
    r"\bstrftime\b|\bstrptime\b": "DuckDB date formatting",
    r"\bcurrent_date\b|\bnow\(\)|\bcurrent_timestamp\b": "the wall clock (use var('as_of_date'))",
}


def _run_dbt(args: list[str], env: dict[str, str]) -> None:
    """``dbt <args>`` in the project, in a process of its own with ``env``; it must succeed."""
    result = subprocess.run([DBT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def athena_compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("athena-target")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "C360_DBT_TARGET": "athena",
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(target / "logs"),
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        }
    )
    _run_dbt(["compile", "--target", "athena", "--no-populate-cache"], env)
    return target / "compiled" / "c360" / "models"


def test_every_model_compiles_for_athena_and_parses_as_trino(athena_compiled: Path) -> None:
    files = sorted(athena_compiled.rglob("*.sql"))
    assert any(f.name == "customer_360.sql" for f in files)
    for path in files:
        sql = path.read_text()
        parsed = sqlglot.parse(sql, read="athena")
        assert parsed and all(statement is not None for statement in parsed), path


def test_no_duckdb_only_constructs_in_athena_sql(athena_compiled: Path) -> None:
    problems = []
    for path in sorted(athena_compiled.rglob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text()).lower()
        problems += [f"{path.name}: {why}" for pattern, why in DENYLIST.items() if re.search(pattern, text)]
    assert problems == []


def test_denylist_catches_duckdb_syntax() -> None:
    sample = "select x::int from t qualify row_number() over () = 1"
    hits = [why for pattern, why in DENYLIST.items() if re.search(pattern, sample)]
    assert hits == ["DuckDB cast shorthand", "QUALIFY"]


def test_pii_columns_of_athena_tables_carry_lake_formation_tags(athena_compiled: Path) -> None:
    import json

    manifest = json.loads((athena_compiled.parents[2] / "manifest.json").read_text())
    checked = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"]["materialized"] in ("view", "ephemeral"):
            continue
        pii = {name for name, column in node["columns"].items() if column.get("meta", {}).get("pii")}
        if not pii:
            continue
        tags = (
            (node["config"].get("lf_tags_config") or {}).get("tags_columns", {}).get("pii", {}).get("yes", [])
        )
        assert pii <= set(tags), f"{node['name']}: PII columns {sorted(pii - set(tags))} have no LF tag"
        checked.append(node["name"])
    assert "dim_customers" in checked


PARTITION_TRANSFORM = re.compile(r"^(?:(?:year|month|day|hour)\((\w+)\)|bucket\(\d+,\s*(\w+)\)|(\w+))$")


def test_athena_fact_tables_are_partitioned_by_their_own_date_columns(athena_compiled: Path) -> None:
    """Athena bills bytes scanned: each fact table is an Iceberg table partitioned on a column it has, so a
    query on a month of data reads that month only."""
    import json

    manifest = json.loads((athena_compiled.parents[2] / "manifest.json").read_text())
    facts = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"].startswith("fct_")
    }
    assert set(facts) == {"fct_transactions", "fct_web_sessions", "fct_retail_orders"}
    for name, node in facts.items():
        partitions = node["config"].get("partitioned_by") or []
        assert partitions, f"{name} is not partitioned on Athena"
        assert node["config"].get("table_type") == "iceberg", name
        for spec in partitions:
            match = PARTITION_TRANSFORM.match(spec)
            assert match, f"{name}: {spec!r} is not an Iceberg partition transform"
            column = next(group for group in match.groups() if group)
            assert column in node["columns"], f"{name}: partition column {column} is not a documented column"
            assert "date" in column or "month" in column, f"{name}: {column} is not a date column"


@pytest.fixture(scope="module")
def duckdb_manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The manifest of the local (DuckDB) target, from ``dbt parse`` (offline: parsing opens no database)."""
    import json

    target = tmp_path_factory.mktemp("duckdb-target")
    env = {
        **os.environ,
        "C360_DBT_TARGET": "local",
        "C360_LAKE": str(target / "lake"),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
    }
    _run_dbt(["parse", "--target", "local", "--no-partial-parse"], env)
    return json.loads((target / "manifest.json").read_text())


def _materializations(manifest: dict) -> dict[str, str]:
    return {
        node["name"]: node["config"]["materialized"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def test_staging_and_intermediate_models_are_tables_on_duckdb_and_views_on_athena(
    duckdb_manifest: dict, athena_compiled: Path
) -> None:
    """On DuckDB each staging and intermediate model is computed once per build; as views, every test and every
    model downstream re-ran the whole chain from the stage Parquet files (a build took 4x longer). On Athena
    they stay views: no extra tables to write, tag and pay for."""
    import json

    athena = _materializations(json.loads((athena_compiled.parents[2] / "manifest.json").read_text()))
    local = _materializations(duckdb_manifest)
    layered = sorted(name for name in local if name.startswith(("stg_", "int_")))
    assert len(layered) >= 20
    # the copies of the three largest stage tables are incremental tables (macros/stage_copy.sql)
    copies = {"stg_core_banking__transactions", "stg_web__hits", "stg_web__sessions"}
    expected = {name: "incremental" if name in copies else "table" for name in layered}
    assert {name: local[name] for name in layered} == expected
    assert {name: athena[name] for name in layered} == {name: "view" for name in layered}


def test_no_duckdb_table_asks_for_athenas_partitions(duckdb_manifest: dict) -> None:
    """`partitioned_by` is Athena's (Iceberg partitions); dbt-duckdb ignores it on a table with a warning in every
    build's log. The external marts partition by their own `partition_by` option, and do not."""
    asking = sorted(
        node["name"]
        for node in duckdb_manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"]["materialized"] != "external"
        and node["config"].get("partitioned_by")
    )
    assert asking == []


def test_no_data_test_reads_a_view_on_duckdb(duckdb_manifest: dict) -> None:
    """A data test on a view recomputes everything upstream of it (from the stage files, on DuckDB): each data
    test must read materialized models (tables, incremental tables, external marts), seeds, snapshots or
    sources only."""
    nodes = duckdb_manifest["nodes"]
    reads_views = []
    for node in nodes.values():
        if node["resource_type"] != "test":
            continue
        for parent in node["depends_on"]["nodes"]:
            materialized = nodes.get(parent, {}).get("config", {}).get("materialized")
            if materialized in ("view", "ephemeral"):
                reads_views.append(f"{node['name']} reads {parent} ({materialized})")
    tests = [node for node in nodes.values() if node["resource_type"] == "test"]
    assert len(tests) >= 100
    assert reads_views == []


def test_dbt_sends_no_usage_statistics() -> None:
    """A bank's build phones nowhere: dbt's anonymous usage events are off for every invocation of the project
    (offline, they also failed at the end of each run)."""
    import yaml

    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False
