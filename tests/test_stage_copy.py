"""The incremental staging copies (macros/stage_copy.sql) and the fingerprints of incremental models
(macros/incremental.sql), with real dbt on a real DuckDB file, as an analyst runs them: after every change of the
stage files, the copy equals what a full copy of the current stage gives, and a build after an edit of the
model's SQL applies the edit to every row, not only to new ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.dbt_project_copy import copy_project, run_dbt_on

MODEL = "stg_core_banking__transactions"
MODEL_SQL = Path("models/staging/core_banking") / f"{MODEL}.sql"


def write_month(lake: Path, month: str, name: str, first_id: int, rows: int, *, folder: bool = True) -> None:
    """A stage Parquet file of ``rows`` transactions in the month's hive folder (or, without ``folder``, loose in
    the table's folder, with the month as a column)."""
    table = lake / "stage" / "transactions"
    target = table / f"trans_month={month}" if folder else table
    target.mkdir(parents=True, exist_ok=True)
    month_column = "" if folder else f", '{month}' as trans_month"
    duckdb.sql(
        f"""
        copy (
            select
                i::bigint as trans_id,
                (i % 7)::bigint as account_id,
                date '{month}-01' + (i % 28)::int as trans_date,
                case when i % 2 = 0 then 'credit' else 'debit' end as trans_type,
                'credit in cash' as operation,
                (i * 1.25)::decimal(12, 2) as amount,
                (i * 10)::decimal(14, 2) as balance,
                null::varchar as k_symbol,
                null::varchar as partner_bank,
                null::varchar as partner_account,
                false as is_orphan{month_column}
            from range({first_id}, {first_id + rows}) as t(i)
        ) to '{target / name}' (format parquet)
        """
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the dbt project that a test may edit, as an analyst edits a model in their clone."""
    return copy_project(tmp_path / "project")


def dbt_run(project: Path, lake: Path, tmp_path: Path, *extra: str, model: str = MODEL) -> dict:
    """``dbt run --select`` the model (with ``+``: and its parents) in the project, against the lake; returns the
    model's run result."""
    result = run_dbt_on(project, lake, tmp_path, "run", "--select", model, *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    return next(r for r in results if r["unique_id"] == f"model.c360.{model.lstrip('+')}")


def table(lake: Path) -> list[tuple]:
    with duckdb.connect(str(lake / "analytics" / "c360.duckdb"), read_only=True) as con:
        return con.sql(
            f"select trans_id, trans_month, operation from main.{MODEL} order by trans_id"
        ).fetchall()


def stage(lake: Path) -> list[tuple]:
    """What a full copy of the current stage files holds."""
    return duckdb.sql(
        f"select trans_id, trans_month, operation from read_parquet('{lake}/stage/transactions/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true) order by trans_id"
    ).fetchall()


def fct_rows(lake: Path) -> list[tuple]:
    """fct_transactions' rows, in the shape of ``stage``."""
    with duckdb.connect(str(lake / "analytics" / "c360.duckdb"), read_only=True) as con:
        return con.sql(
            "select trans_id, trans_month, operation from main.fct_transactions order by 1"
        ).fetchall()


def test_the_copy_follows_new_changed_and_removed_stage_files(project: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "analytics").mkdir(parents=True)
    write_month(lake, "2024-11", "a.parquet", 0, 50)
    write_month(lake, "2024-12", "b.parquet", 100, 50)
    first = dbt_run(project, lake, tmp_path)
    assert "/stage/transactions/**/*.parquet" in first["compiled_code"]  # the first build copies every file
    assert table(lake) == stage(lake) and len(stage(lake)) == 100

    unchanged = dbt_run(project, lake, tmp_path)  # nothing changed: nothing read, nothing deleted
    assert "where 1 = 0" in unchanged["compiled_code"]
    assert table(lake) == stage(lake)

    # a day: the month of December rewritten (another file name, other rows), January new
    (lake / "stage" / "transactions" / "trans_month=2024-12" / "b.parquet").unlink()
    write_month(lake, "2024-12", "c.parquet", 100, 60)
    write_month(lake, "2025-01", "d.parquet", 200, 10)
    day = dbt_run(project, lake, tmp_path)
    assert "trans_month=2024-12/c.parquet" in day["compiled_code"]
    assert "trans_month=2025-01/d.parquet" in day["compiled_code"]
    assert "trans_month=2024-11" not in day["compiled_code"]  # the unchanged month is not read again
    assert table(lake) == stage(lake) and len(stage(lake)) == 120

    # the same name, other content (size): the month is copied again
    write_month(lake, "2025-01", "d.parquet", 200, 20)
    dbt_run(project, lake, tmp_path)
    assert table(lake) == stage(lake) and len(stage(lake)) == 130

    shutil.rmtree(lake / "stage" / "transactions" / "trans_month=2024-11")  # a month gone: its rows go
    dbt_run(project, lake, tmp_path)
    assert table(lake) == stage(lake) and min(row[1] for row in table(lake)) == "2024-12"

    # the stage table no longer partitioned (files outside any month folder): the whole table is copied again
    shutil.rmtree(lake / "stage" / "transactions")
    write_month(lake, "2025-02", "loose.parquet", 300, 5, folder=False)
    write_month(lake, "2025-03", "loose2.parquet", 400, 5, folder=False)
    loose = dbt_run(project, lake, tmp_path)
    assert "/stage/transactions/**/*.parquet" in loose["compiled_code"]
    assert table(lake) == stage(lake) and len(stage(lake)) == 10


def test_an_edit_of_the_model_rebuilds_every_row(project: Path, tmp_path: Path) -> None:
    """dbt's incremental models apply an edit to new rows only, until someone runs ``--full-refresh``; ours
    record the fingerprint of their logic and rebuild in full when it changes."""
    lake = tmp_path / "lake"
    (lake / "analytics").mkdir(parents=True)
    write_month(lake, "2024-11", "a.parquet", 0, 30)
    dbt_run(project, lake, tmp_path)
    assert {row[2] for row in table(lake)} == {"credit in cash"}

    path = project / MODEL_SQL
    sql = path.read_text()
    edited = sql.replace(
        "cast(operation as varchar) as operation", "upper(cast(operation as varchar)) as operation"
    )
    assert edited != sql
    path.write_text(edited)
    write_month(lake, "2024-12", "b.parquet", 100, 5)  # and a new month, which alone would be incremental
    edited_run = dbt_run(project, lake, tmp_path)
    assert "/stage/transactions/**/*.parquet" in edited_run["compiled_code"]
    assert {row[2] for row in table(lake)} == {"CREDIT IN CASH"}
    assert len(table(lake)) == 35

    path.write_text(sql)  # and back: every row again
    rerun = dbt_run(project, lake, tmp_path)
    assert "/stage/transactions/**/*.parquet" in rerun["compiled_code"]
    assert {row[2] for row in table(lake)} == {"credit in cash"}


def test_a_build_with_empty_copies_nothing_and_the_next_build_copies_everything(
    project: Path, tmp_path: Path
) -> None:
    """``dbt build --empty`` (dbt's schema-only dry run) makes empty tables; the next build must not take them
    for copies of the stage, nor keep rows of a month gone from the stage meanwhile."""
    lake = tmp_path / "lake"
    (lake / "analytics").mkdir(parents=True)
    write_month(lake, "2024-11", "a.parquet", 0, 20)
    write_month(lake, "2024-12", "b.parquet", 100, 20)
    dbt_run(project, lake, tmp_path)
    dbt_run(
        project, lake, tmp_path, "--empty"
    )  # incremental: its changed months (none) copied, nothing recorded
    assert table(lake) == stage(lake) and len(table(lake)) == 40
    shutil.rmtree(lake / "stage" / "transactions" / "trans_month=2024-11")
    dbt_run(project, lake, tmp_path)
    assert table(lake) == stage(lake) and len(table(lake)) == 20

    dbt_run(project, lake, tmp_path, "--empty", "--full-refresh")
    assert table(lake) == []
    dbt_run(project, lake, tmp_path)
    assert table(lake) == stage(lake) and len(table(lake)) == 20


def test_fct_transactions_reads_again_every_month_whose_stage_files_changed(
    project: Path, tmp_path: Path
) -> None:
    """fct_transactions (incremental, derived from the staging copy) re-reads the months whose stage files changed
    since its own last build: a late transaction staged into an old month reaches it as surely as a new month's
    (a filter on the latest month loaded would miss it), and a month gone from the stage leaves it."""
    lake = tmp_path / "lake"
    (lake / "analytics").mkdir(parents=True)

    write_month(lake, "2024-11", "a.parquet", 0, 50)
    write_month(lake, "2024-12", "b.parquet", 100, 50)
    dbt_run(project, lake, tmp_path, model="+fct_transactions")
    assert fct_rows(lake) == stage(lake) and len(fct_rows(lake)) == 100

    # a day: a late transaction (id 50) staged into November, whose file the stage job rewrote; January new
    (lake / "stage" / "transactions" / "trans_month=2024-11" / "a.parquet").unlink()
    write_month(lake, "2024-11", "a2.parquet", 0, 51)
    write_month(lake, "2025-01", "d.parquet", 200, 10)
    day = dbt_run(project, lake, tmp_path, model="+fct_transactions")
    assert "in ('2024-11', '2025-01')" in day["compiled_code"]  # December is not read again
    assert (
        fct_rows(lake) == stage(lake)
        and len(fct_rows(lake)) == 111
        and (50, "2024-11", "credit in cash") in fct_rows(lake)
    )

    idle = dbt_run(project, lake, tmp_path, model="+fct_transactions")  # nothing changed: nothing read
    assert "where 1 = 0" in idle["compiled_code"] and fct_rows(lake) == stage(lake)

    shutil.rmtree(lake / "stage" / "transactions" / "trans_month=2024-12")  # a month gone: its rows go
    dbt_run(project, lake, tmp_path, model="+fct_transactions")
    assert fct_rows(lake) == stage(lake) and len(fct_rows(lake)) == 61


def write_owners(lake: Path, owners: dict[int, int | None]) -> None:
    """The stage tables of accounts and dispositions (rewritten whole, as their stage jobs do): one account per key
    of ``owners``, with an OWNER disposition for the client it maps to (none for None)."""
    for table, query in {
        "accounts": "select account_id, 1::bigint as district_id, 'monthly' as frequency, "
        "date '2020-01-01' as open_date, false as is_orphan from owners",
        "dispositions": "select row_number() over (order by account_id) as disp_id, client_id, account_id, "
        "'owner' as disp_type, date '2020-01-01' as valid_from, false as is_orphan from owners "
        "where client_id is not null",
    }.items():
        folder = lake / "stage" / table
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        rows = ", ".join(
            f"({account}, {'null' if client is None else client})" for account, client in owners.items()
        )
        duckdb.sql(
            f"copy (with owners(account_id, client_id) as (values {rows}) {query}) "
            f"to '{folder / 'part-0.parquet'}' (format parquet)"
        )


def test_fct_transactions_follows_an_accounts_new_owner_into_its_older_months(
    project: Path, tmp_path: Path
) -> None:
    """fct_transactions copies each account's owner into its rows. When an owner changes (or goes), the rows it
    loaded before, in months no stage file of which changed, are read again with the current owner; a build
    where no owner changed reads nothing."""
    lake = tmp_path / "lake"
    (lake / "analytics").mkdir(parents=True)
    owners = {account: 100 + account for account in range(7)}  # write_month spreads rows over accounts 0..6

    def stale_rows() -> int:
        """Rows of fct_transactions whose client is not the account's owner now (as a full build gives it)."""
        with duckdb.connect(str(lake / "analytics" / "c360.duckdb"), read_only=True) as con:
            return con.sql(
                "select count(*) from main.fct_transactions as f left join main.int_client_accounts as o "
                "on f.account_id = o.account_id and o.is_owner where f.client_id is distinct from o.client_id"
            ).fetchone()[0]

    write_owners(lake, owners)
    write_month(lake, "2024-11", "a.parquet", 0, 50)
    write_month(lake, "2024-12", "b.parquet", 100, 50)
    dbt_run(project, lake, tmp_path, model="+fct_transactions")
    assert stale_rows() == 0 and len(fct_rows(lake)) == 100

    owners[3] = 200  # account 3 changes hands, account 5 loses its owner; no transaction file changes
    owners[5] = None
    write_owners(lake, owners)
    day = dbt_run(project, lake, tmp_path, model="+fct_transactions")
    assert stale_rows() == 0 and fct_rows(lake) == stage(lake)
    assert "where account_id in (3, 5)" in day["compiled_code"]  # the two accounts' rows only
    with duckdb.connect(str(lake / "analytics" / "c360.duckdb"), read_only=True) as con:
        clients = dict(con.sql("select distinct account_id, client_id from main.fct_transactions").fetchall())
    assert clients[3] == 200 and clients[5] is None and clients[4] == 104

    idle = dbt_run(project, lake, tmp_path, model="+fct_transactions")  # no owner changed: nothing read
    assert "where 1 = 0" in idle["compiled_code"] and stale_rows() == 0
