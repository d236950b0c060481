"""The walking skeleton end to end, through the CLI, on a small scale in a temporary lake."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from c360.cli import app
from c360.dbt_runner import PIPELINE_BUILD_ARGS, run_dbt
from c360.settings import Settings

pytestmark = pytest.mark.spark
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built_lake(spark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("e2e") / "lake"
    runner = CliRunner()
    for args in (["generate", "--scale", "0.1", "--seed", "11"], ["stage"], ["build"], ["export"]):
        result = runner.invoke(app, [*args, "--lake", str(lake)])
        assert result.exit_code == 0, f"c360 {args[0]}: {result.output}"
    return lake


def test_customer_360_has_one_row_per_staged_client(built_lake: Path) -> None:
    con = duckdb.connect()
    staged = con.sql(
        f"select count(*) from read_parquet('{built_lake}/stage/crm_customers/*.parquet')"
    ).fetchone()[0]
    rows, clients, nulls = con.sql(
        f"select count(*), count(distinct client_id), count(*) - count(age_band) "
        f"from read_parquet('{built_lake}/analytics/customer_360/*.parquet')"
    ).fetchone()
    assert rows == clients == staged == 500
    assert nulls == 0


def test_the_benchmark_floor_computes_the_same_customer_360(built_lake: Path, tmp_path: Path) -> None:
    """benchmarks/floor_customer_360.sql is the floor of `dbt build` only while it computes what the build does:
    every column of customer_360, for every client. A change to customer_360's logic must reach the floor too."""
    from benchmarks.run import floor_mismatches, floor_query

    out = tmp_path / "floor.parquet"
    con = duckdb.connect()
    con.execute(f"copy ({floor_query(str(built_lake / 'stage'))}) to '{out}' (format parquet)")
    built = f"{built_lake}/analytics/customer_360/**/*.parquet"
    assert con.sql(f"select count(*) from read_parquet('{built}')").fetchone()[0] > 100
    mismatches = floor_mismatches(con, built, str(out))
    assert mismatches == {}, f"customer_360 columns the floor computes otherwise (clients): {mismatches}"


def test_audit_json_reconciles(built_lake: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "--json"], env={"C360_LAKE": str(built_lake)})
    assert result.exit_code == 0, result.output
    audits = {a["source"]: a for a in json.loads(result.output)}
    expected = {
        "crm_customers",
        "accounts",
        "dispositions",
        "cards",
        "loans",
        "standing_orders",
        "districts",
        "transactions",
        "ga_sessions",
        "ga_hits",
        "visitor_map",
        "retail_orders",
    }
    assert expected <= set(audits)
    for audit in audits.values():
        assert (
            audit["raw_rows"] == audit["stage_rows"] + audit["quarantined_rows"] + audit["deduplicated_rows"]
        )
    crm = audits["crm_customers"]
    assert crm["deduplicated_rows"] > 0 and crm["stage_rows"] == 500


def test_export_has_every_profile_without_pii(built_lake: Path) -> None:
    (data,) = sorted((built_lake / "analytics" / "exports" / "dynamodb").glob("*/data/*.json.gz"))
    items = [json.loads(line)["Item"] for line in gzip.decompress(data.read_bytes()).decode().splitlines()]
    assert len(items) == 500
    assert len({i["client_id"]["N"] for i in items}) == 500
    assert not {"first_name", "last_name", "email", "phone", "street_address", "birth_date"} & set().union(
        *items
    )


def test_steps_are_idempotent(built_lake: Path) -> None:
    before = sorted(p.read_bytes() for p in (built_lake / "analytics" / "customer_360").glob("*.parquet"))
    runner = CliRunner()
    for step in ("generate", "stage", "build"):
        args = [step, "--lake", str(built_lake)] + (
            ["--scale", "0.1", "--seed", "11"] if step == "generate" else []
        )
        assert runner.invoke(app, args).exit_code == 0
    con = duckdb.connect()
    after = con.sql(
        f"select count(*) from read_parquet('{built_lake}/analytics/customer_360/*.parquet')"
    ).fetchone()[0]
    assert after == 500
    assert len(before) == len(list((built_lake / "analytics" / "customer_360").glob("*.parquet")))


def test_analysts_run_dbt_from_the_repo_root_without_flags(built_lake: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "C360_LAKE": str(built_lake),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    dbt = str(Path(sys.executable).parent / "dbt")
    for command in (["test"], ["docs", "generate"]):
        result = subprocess.run(
            [dbt, *command], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stdout[-3000:]
        if command == ["test"]:  # an analyst's `dbt test` runs the unit tests the pipeline's build leaves out
            results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
            unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
            assert len(unit) >= 10 and all(r["status"] == "pass" for r in unit)
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    assert "model.c360.customer_360" in catalog["nodes"]


def test_the_pipeline_build_runs_data_tests_but_no_unit_tests(built_lake: Path) -> None:
    """dbt's advice for production builds: unit tests prove the SQL on fixed rows, so they run in CI and in an
    analyst's `dbt build`, not on every pipeline run; data tests check the data, so every build runs them."""
    target = built_lake / "logs" / "dbt" / "target"
    ids = [r["unique_id"] for r in json.loads((target / "run_results.json").read_text())["results"]]
    manifest = json.loads((target / "manifest.json").read_text())
    assert len(manifest["unit_tests"]) >= 10, "the project defines unit tests"
    assert not [i for i in ids if i.startswith("unit_test.")]
    data_tests = [i for i in ids if i.startswith("test.c360.")]
    assert len(data_tests) == sum(1 for n in manifest["nodes"].values() if n["resource_type"] == "test")
    assert "model.c360.customer_360" in ids


def test_marts_stage_their_rows_in_temporary_tables_not_in_the_database_file(built_lake: Path) -> None:
    """macros/external.sql: a mart's rows go to its Parquet files by way of a temporary table (in memory), not a
    table written into c360.duckdb and dropped. dbt's log of the build holds every statement it ran."""
    manifest = json.loads((built_lake / "logs" / "dbt" / "target" / "manifest.json").read_text())
    marts = sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "external"
    )
    assert "customer_360" in marts and len(marts) >= 5, marts
    log = " ".join((built_lake / "logs" / "dbt" / "dbt.log").read_text().split())
    for mart in marts:
        assert f'create temporary table "{mart}__dbt_tmp' in log, mart
        assert f'create table "c360"."main"."{mart}__dbt_tmp"' not in log, mart
    with duckdb.connect(str(built_lake / "analytics" / "c360.duckdb"), read_only=True) as con:
        left = con.sql(
            "select table_name from duckdb_tables() where table_name like '%__dbt_tmp%'"
        ).fetchall()
        views = {
            row[0] for row in con.sql("select view_name from duckdb_views() where not internal").fetchall()
        }
    assert left == []
    assert set(marts) <= views  # each mart is a view over its Parquet files, as dbt-duckdb makes it


def test_no_table_of_the_database_file_holds_hugeint_or_decimal_38_columns(built_lake: Path) -> None:
    """DuckDB widens sum() to HUGEINT (of integers) or DECIMAL(38, s) (of decimals), and reads those columns back
    from its file far slower than BIGINT or DECIMAL(18, s): the models count with count() and cast their sums
    (int_client_transactions). A sum(case ... then 1 else 0 end) added to a model shows up here."""
    with duckdb.connect(str(built_lake / "analytics" / "c360.duckdb"), read_only=True) as con:
        wide = con.sql(
            "select table_name || '.' || column_name || ' ' || data_type from information_schema.columns "
            "where data_type = 'HUGEINT' or data_type like 'DECIMAL(38,%' order by 1"
        ).fetchall()
        tables = con.sql(
            "select count(*) from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchone()
    assert tables[0] >= 20
    assert wide == []


def test_a_failing_step_exits_non_zero_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--lake", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "run `c360 build` first" in result.output
    result = CliRunner().invoke(app, ["audit", "--lake", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "run `c360 stage` first" in result.output


REBUILT = (
    "stg_core_banking__transactions",
    "stg_web__hits",
    "stg_web__sessions",
    "fct_transactions",
    "customer_360",
)


def content(con: duckdb.DuckDBPyConnection, table: str) -> tuple:
    """A table's row count and an order-free hash of its rows, doubles rounded to 6 places (a parallel sum of
    doubles may differ in its last bits from one run to the next)."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    values = ", ".join(f"round({name}, 6)" if kind == "DOUBLE" else name for name, kind in columns)
    return con.sql(f"select count(*), sum(hash({values})) from main.{table}").fetchone()


def test_a_daily_increment_adds_customer_history(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the history, one more day of CRM changes: dim_customers gains versions, one current per client; the
    incremental models (fct_transactions, the staging copies of the largest stage tables) and the marts built on
    them equal what a full rebuild gives, and the copies read only the partitions the day changed. The day's
    stage knows beforehand that it reads only the day's files (its JVM, when it starts one, compiles with C1
    alone); the history's does not."""
    import c360.spark
    from c360.pipeline import unstaged_raw_bytes
    from c360.storage import Lake

    lake = tmp_path / "lake"
    runner = CliRunner()
    asked: list[bool] = []
    session = c360.spark.local_session

    def recorded_session(settings: Settings, small_input: bool = False) -> object:
        asked.append(small_input)
        return session(settings, small_input)

    monkeypatch.setattr(c360.spark, "local_session", recorded_session)
    steps = [
        ["generate", "--scale", "0.2"],
        ["stage"],
        ["build"],
        ["generate", "--scale", "0.2", "--day", "2025-01-10"],
        ["stage"],
        ["build"],
    ]
    unstaged: list[int | None] = []
    for args in steps:
        if args == ["stage"]:
            unstaged.append(unstaged_raw_bytes(Lake(str(lake))))
        result = runner.invoke(app, [*args, "--lake", str(lake)])
        assert result.exit_code == 0, f"c360 {' '.join(args)}: {result.output}"
    day_files = [p for p in (lake / "raw").rglob("*") if p.is_file() and "ingest_date=2025-01-10" in p.parts]
    day_bytes = sum(path.stat().st_size for path in day_files)
    assert day_bytes > 0
    assert unstaged == [None, day_bytes]  # None: nothing staged yet, every job reads all its input
    assert unstaged_raw_bytes(Lake(str(lake))) == 0
    assert asked == [False, True]
    con = duckdb.connect(str(lake / "analytics" / "c360.duckdb"), read_only=True)
    versions, clients, current, changed = con.sql(
        "select count(*), count(distinct client_id), count(*) filter (where is_current), "
        "count(distinct client_id) filter (where not is_current) from main.dim_customers"
    ).fetchone()
    staged = con.sql("select count(*) from main.stg_crm__customers").fetchone()[0]
    assert current == clients == staged
    assert versions > clients and changed > 0
    incremental = {name: content(con, name) for name in REBUILT}
    results = json.loads((lake / "logs" / "dbt" / "target" / "run_results.json").read_text())["results"]
    hits = next(r["compiled_code"] for r in results if r["unique_id"] == "model.c360.stg_web__hits")
    assert "session_month=2025-01/" in hits and "session_month=2024-12/" not in hits
    months = con.sql("select max(trans_month) from main.fct_transactions").fetchone()[0]
    con.close()
    assert months == "2025-01" and incremental["fct_transactions"][0] > 0  # the new day's month is in

    settings = Settings().with_overrides(lake=str(lake))  # what a full rebuild of the same stage gives
    run_dbt(settings, "build", extra=["--full-refresh", *PIPELINE_BUILD_ARGS])
    with duckdb.connect(str(lake / "analytics" / "c360.duckdb"), read_only=True) as con:
        assert {name: content(con, name) for name in REBUILT} == incremental
    bad = runner.invoke(app, ["generate", "--day", "2025-13-01", "--lake", str(lake)])
    assert bad.exit_code == 1 and "--day must be a date" in bad.output


def test_export_loads_dynamodb_and_the_lookup_api_serves_it(built_lake: Path, aws_env: str) -> None:
    import urllib.request

    from c360 import api

    result = CliRunner().invoke(
        app,
        ["export", "--lake", str(built_lake), "--dynamodb-endpoint", aws_env, "--dynamodb-table", "profiles"],
    )
    assert result.exit_code == 0, result.output
    assert "loaded 500 profiles into DynamoDB table profiles" in result.output
    with api.serving(aws_env, "profiles") as url:
        profile = json.loads(urllib.request.urlopen(f"{url}/customers/7", timeout=10).read())
    assert profile["client_id"] == 7 and "email" not in profile and "age" in profile
