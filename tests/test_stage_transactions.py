"""The transactions stage job against a real PostgreSQL (a fresh database per test in the shared cluster): the
JDBC extract, validation and quarantine, month partitions, the bookmark, retries after a dropped connection."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from c360.services.postgres import PostgresInfo
from c360.settings import Settings
from ingestion import transactions as tx
from spark_jobs import stage_transactions as job
from spark_jobs.common.args import JobArgumentError
from spark_jobs.common.code_version import stage_code_fingerprint
from spark_jobs.common.jdbc import JdbcSource, is_transient, jdbc_source_from_args, with_retries

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

END = date(2024, 12, 15)
SCALE = 0.02
SCHEMA = [
    ("trans_id", "bigint"),
    ("account_id", "bigint"),
    ("trans_date", "date"),
    ("trans_type", "string"),
    ("operation", "string"),
    ("amount", "decimal(12,2)"),
    ("balance", "decimal(14,2)"),
    ("k_symbol", "string"),
    ("partner_bank", "string"),
    ("partner_account", "string"),
    ("is_orphan", "boolean"),
    ("_source_file", "string"),
    ("_ingested_at", "timestamp"),
    ("_batch_id", "string"),
    ("trans_month", "string"),
]
PERMISSIVE_DDL = """
create table public.transactions (
    trans_id bigint, account_id bigint, date date, type varchar(16), operation varchar(32),
    amount numeric(12, 2), balance numeric(14, 2), k_symbol varchar(40), bank char(2), account varchar(8)
)"""
"""The source table without its constraints (not even the primary key), so that a test can hold the rows a broken
source might send."""


# --- helpers ---------------------------------------------------------------------------------------------


def _fresh_database(info: PostgresInfo, name: str) -> PostgresInfo:
    """An empty database in the cluster, so tests do not see each other's rows."""
    with psycopg.connect(info.dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return dataclasses.replace(info, database=name)


def _settings(root: Path) -> Settings:
    return Settings().with_overrides(lake=str(root), seed=42, scale=SCALE, end_date=END)


def _jdbc(info: PostgresInfo) -> JdbcSource:
    return JdbcSource(url=info.jdbc_url, user=info.user, password=info.password)


def _write_accounts(spark, root: Path, account_ids: list[int]) -> None:
    """The accounts stage table the orphan flags are checked against."""
    frame = spark.createDataFrame([(i,) for i in account_ids], "account_id bigint")
    frame.coalesce(1).write.mode("overwrite").parquet(str(root / "stage" / "accounts"))


def _source_accounts(info: PostgresInfo) -> list[int]:
    with psycopg.connect(info.dsn) as conn:
        return [r[0] for r in conn.execute("select distinct account_id from public.transactions order by 1")]


def _run(spark, root: Path, info: PostgresInfo, **options: object):
    options = {"backoff_seconds": 0.1, **options}
    return job.run(spark, str(root / "raw"), str(root / "stage"), str(root / "logs"), _jdbc(info), **options)


def _staged(root: Path) -> list[dict]:
    dataset = ds.dataset(root / "stage" / "transactions", format="parquet", partitioning="hive")
    return sorted(dataset.to_table().to_pylist(), key=lambda r: r["trans_id"])


def _source(info: PostgresInfo) -> list[tuple]:
    with psycopg.connect(info.dsn) as conn:
        return conn.execute(
            "select trans_id, date, amount, balance from public.transactions order by 1"
        ).fetchall()


def _files(root: Path) -> dict[str, list[str]]:
    """Each month folder's file names (new files get new names: a rewritten month shows)."""
    table = root / "stage" / "transactions"
    return {d.name: sorted(f.name for f in d.iterdir()) for d in sorted(table.iterdir()) if d.is_dir()}


def _content_hash(root: Path) -> str:
    return hashlib.sha256(repr(_staged(root)).encode()).hexdigest()


def _bookmark(root: Path) -> dict:
    return json.loads((root / "logs" / "bookmarks" / "transactions.json").read_text())


def _same_rows_as_source(root: Path, info: PostgresInfo) -> None:
    staged = _staged(root)
    assert [(r["trans_id"], r["trans_date"], r["amount"], r["balance"]) for r in staged] == _source(info)


@pytest.fixture(scope="module")
def history_db(postgres: PostgresInfo, tmp_path_factory: pytest.TempPathFactory) -> PostgresInfo:
    """A database holding the transaction history up to END (read only: tests that add rows make their own)."""
    info = _fresh_database(postgres, "stage_tx_history")
    tx.load_history(_settings(tmp_path_factory.mktemp("history")), info.dsn)
    return info


# --- the full extract ----------------------------------------------------------------------------------------


def test_first_run_extracts_everything_into_month_partitions(spark, tmp_path: Path, history_db) -> None:
    _write_accounts(
        spark, tmp_path, _source_accounts(history_db)[1:]
    )  # account 1 is missing: its rows are orphans
    source = _source(history_db)
    record = _run(spark, tmp_path, history_db, num_partitions=3)

    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        len(source),
        len(source),
        0,
        0,
    )
    assert record.batch_id == f"transactions-1-{source[-1][0]}" and record.balanced
    assert spark.read.parquet(str(tmp_path / "stage" / "transactions")).dtypes == SCHEMA
    assert [(f.name, f.dataType.simpleString()) for f in job.STAGE_SCHEMA.fields] == SCHEMA
    _same_rows_as_source(tmp_path, history_db)

    staged = _staged(tmp_path)
    months = {f"trans_month={r[1]:%Y-%m}" for r in source}
    files = _files(tmp_path)
    assert set(files) == months
    assert all(len([f for f in names if f.endswith(".parquet")]) == 1 for names in files.values())
    assert all(r["trans_month"] == f"{r['trans_date']:%Y-%m}" for r in staged)
    assert {r["trans_type"] for r in staged} == {"credit", "debit", "cash withdrawal"}
    assert {r["k_symbol"] for r in staged} <= {k.k_symbol for k in tx.KINDS}
    assert {r["account_id"] for r in staged if r["is_orphan"]} == {1}
    assert all(r["_source_file"] == f"{history_db.jdbc_url}#public.transactions" for r in staged)
    assert history_db.password not in json.dumps(json.loads(record.to_json()))

    assert _bookmark(tmp_path)["last_value"] == source[-1][0]
    assert not (tmp_path / "stage" / "_staging" / "transactions").exists()
    assert not (tmp_path / "stage" / "_quarantine" / "transactions").exists(), (
        "no bad rows, no quarantine files"
    )


# --- incremental batches -------------------------------------------------------------------------------------


def test_bookmark_resumes_with_the_new_rows_and_rewrites_only_their_months(
    spark, tmp_path: Path, postgres: PostgresInfo
) -> None:
    info = _fresh_database(postgres, "stage_tx_incremental")
    settings = _settings(tmp_path)
    history = tx.load_history(settings, info.dsn)
    _write_accounts(spark, tmp_path, _source_accounts(info))
    _run(spark, tmp_path, info)
    before = _files(tmp_path)

    added = tx.load_day(settings, info.dsn, date(2024, 12, 17))
    assert added > 0
    record = _run(spark, tmp_path, info)
    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        added,
        added,
        0,
        0,
    )
    assert record.batch_id == f"transactions-{history + 1}-{history + added}"
    _same_rows_as_source(tmp_path, info)
    assert len({r["trans_id"] for r in _staged(tmp_path)}) == history + added
    after = _files(tmp_path)
    assert after.keys() == before.keys()
    changed = {month for month in before if before[month] != after[month]}
    assert changed == {"trans_month=2024-12"}, "only the month the new rows fall in is rewritten"
    batches = Counter(r["_batch_id"] for r in _staged(tmp_path) if r["trans_month"] == "2024-12")
    assert batches[record.batch_id] == added and len(batches) == 2
    assert _bookmark(tmp_path)["last_value"] == history + added

    # Nothing new: nothing extracted, nothing rewritten.
    content = _content_hash(tmp_path)
    idle = _run(spark, tmp_path, info)
    assert (idle.raw_rows, idle.stage_rows, idle.batch_id) == (
        0,
        0,
        f"transactions-{history + added + 1}-{history + added}",
    )
    assert _files(tmp_path) == after and _content_hash(tmp_path) == content

    # Staged by other code (the bookmark's fingerprint differs, or is missing as in bookmarks written before it
    # was recorded): every row is extracted again, so a new rule reaches the rows staged before; then full_refresh.
    bookmark_file = tmp_path / "logs" / "bookmarks" / "transactions.json"
    assert _bookmark(tmp_path)["code"] == stage_code_fingerprint("transactions")
    total = history + added
    for older in ("staged-by-older-code", None):
        document = {key: value for key, value in _bookmark(tmp_path).items() if key != "code"}
        bookmark_file.write_text(json.dumps(document if older is None else {**document, "code": older}))
        (bookmark_file.parent / f".{bookmark_file.name}.crc").unlink()  # Hadoop's checksum of the old text
        again = _run(spark, tmp_path, info)
        assert (again.raw_rows, again.stage_rows, again.deduplicated_rows) == (
            total,
            0,
            total,
        ) and again.balanced
        assert {r["_batch_id"] for r in _staged(tmp_path)} == {again.batch_id} == {f"transactions-1-{total}"}
        assert _bookmark(tmp_path)["code"] == stage_code_fingerprint("transactions")
    _same_rows_as_source(tmp_path, info)
    assert _run(spark, tmp_path, info).raw_rows == 0
    refreshed = _run(spark, tmp_path, info, full_refresh=True)
    assert (refreshed.raw_rows, refreshed.stage_rows, refreshed.deduplicated_rows) == (total, 0, total)
    _same_rows_as_source(tmp_path, info)


def test_a_crash_after_the_swap_before_the_bookmark_is_repaired_by_the_rerun(
    spark, tmp_path: Path, history_db: PostgresInfo
) -> None:
    """The bookmark is lost (the crash came before it was written) and a month swap was interrupted between its
    two renames, with a half-written staging folder left behind: the rerun restores the month, extracts every
    row again and keeps one copy of each."""
    _write_accounts(spark, tmp_path, _source_accounts(history_db))
    first = _run(spark, tmp_path, history_db)
    stage = tmp_path / "stage"
    trash = stage / "_staging" / "transactions" / "_replaced"
    trash.mkdir(parents=True)
    (stage / "transactions" / "trans_month=2024-11").rename(trash / "trans_month=2024-11")
    partial = stage / "_staging" / "transactions" / "transactions-1-999" / "table" / "trans_month=2024-12"
    partial.mkdir(parents=True)
    (partial / "part-00000-half-written.snappy.parquet").write_bytes(b"PAR1 not a whole file")
    (tmp_path / "logs" / "bookmarks" / "transactions.json").unlink()

    record = _run(spark, tmp_path, history_db)
    assert (record.raw_rows, record.stage_rows, record.deduplicated_rows) == (
        first.raw_rows,
        0,
        first.raw_rows,
    )
    assert record.batch_id == first.batch_id and record.balanced
    _same_rows_as_source(tmp_path, history_db)
    assert (stage / "transactions" / "trans_month=2024-11").exists()
    assert not (stage / "_staging" / "transactions").exists()
    assert _bookmark(tmp_path)["last_value"] == first.raw_rows


def test_a_dropped_connection_is_retried_without_gaps_or_duplicates(
    spark, tmp_path: Path, history_db: PostgresInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first extract's partition reads block on a table lock and their backends are terminated from another
    connection (pg_terminate_backend) mid-read; the job retries the whole range on new connections."""
    _write_accounts(spark, tmp_path, _source_accounts(history_db))
    real_read_query = job.read_query
    extracts: list[str] = []
    killed: list[int] = []
    killer: list[threading.Thread] = []

    def terminate_the_readers(locker: psycopg.Connection) -> None:
        with psycopg.connect(history_db.dsn, autocommit=True) as admin:
            deadline = time.monotonic() + 60
            while not killed and time.monotonic() < deadline:
                waiting = admin.execute(
                    "select pid from pg_stat_activity where datname = current_database() "
                    "and wait_event_type = 'Lock' and query like %s and pid <> %s",
                    ("%trans_id <=%", locker.info.backend_pid),
                ).fetchall()
                for (pid,) in waiting:
                    admin.execute("select pg_terminate_backend(%s)", (pid,))
                    killed.append(pid)
                time.sleep(0.05)
        locker.rollback()
        locker.close()

    def read_query(spark_, source, query, extra=None):
        frame = real_read_query(spark_, source, query, extra)  # the schema is resolved: no rows read yet
        if extra and "partitionColumn" in extra:
            extracts.append(query)
            if len(extracts) == 1:
                locker = psycopg.connect(history_db.dsn)
                locker.execute("lock table public.transactions in access exclusive mode")
                killer.append(threading.Thread(target=terminate_the_readers, args=(locker,), daemon=True))
                killer[0].start()
        return frame

    monkeypatch.setattr(job, "read_query", read_query)
    record = _run(spark, tmp_path, history_db, num_partitions=4, max_attempts=3)
    killer[0].join(timeout=60)

    assert killed, "a reader was terminated mid-read"
    assert len(extracts) == 2, "the extract ran twice: the dropped attempt and the retry"
    source = _source(history_db)
    assert (record.raw_rows, record.stage_rows, record.deduplicated_rows) == (len(source), len(source), 0)
    _same_rows_as_source(tmp_path, history_db)
    assert _bookmark(tmp_path)["last_value"] == source[-1][0]


# --- validation ----------------------------------------------------------------------------------------------

ROWS = [
    # trans_id, account_id, date, type, operation, amount, balance, k_symbol, bank, account
    (1, 1, "2024-01-05", "credit", "credit in cash", "100.00", "100.00", None, None, None),
    (2, 1, "2024-01-31", "PRIJEM", None, "0.20", "100.20", "UROK", None, None),
    (3, 1, "2024-02-03", "VYDAJ", "PREVOD NA UCET", "50.00", "50.20", "SIPO", "ab", "00001234"),
    (4, 1, "2024-02-04", "debit", "withdrawal in cash", "-5.00", "55.20", None, None, None),
    (5, 1, "2024-02-05", "REFUND", "credit in cash", "5.00", "60.20", None, None, None),
    (6, 1, "2024-02-06", "credit", "TELEPORT", "5.00", "65.20", None, None, None),
    (7, 1, "2024-02-07", "credit", "credit in cash", "5.00", "70.20", "BONUS", None, None),
    (8, 1, None, "credit", "credit in cash", "5.00", "75.20", None, None, None),
    (9, 2, "2024-02-09", "VYBER", "VYBER", "0.00", "0.00", "SANKC. UROK", None, None),
    (10, 1, "2024-02-10", None, "credit in cash", "5.00", "80.20", None, None, None),
    (11, 1, "2024-02-11", "credit", "collection from another bank", "5.00", "85.20", None, "X1", "1"),
    (12, 1, "2024-03-01", "debit", "  ", "14.60", "70.60", " ", None, ""),
    (1, 1, "2024-01-05", "credit", "credit in cash", "100.00", "999.00", None, None, None),  # trans_id twice
]
REASONS = {
    4: "amount is negative",
    5: "unknown type code",
    6: "unknown operation code",
    7: "unknown k_symbol code",
    8: "date missing",
    10: "type missing",
    11: "bank is not a two-letter code",
}


def _hand_written_source(postgres: PostgresInfo, name: str) -> PostgresInfo:
    info = _fresh_database(postgres, name)
    with psycopg.connect(info.dsn) as conn:
        conn.execute(PERMISSIVE_DDL)
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into public.transactions values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", ROWS
            )
    return info


def test_bad_rows_are_quarantined_with_their_json_and_reason(
    spark, tmp_path: Path, postgres: PostgresInfo
) -> None:
    info = _hand_written_source(postgres, "stage_tx_validation")
    _write_accounts(spark, tmp_path, [1])
    record = _run(spark, tmp_path, info, num_partitions=2)
    assert (record.raw_rows, record.stage_rows, record.quarantined_rows, record.deduplicated_rows) == (
        len(ROWS),
        len(ROWS) - len(REASONS) - 1,
        len(REASONS),
        1,
    )
    quarantine = tmp_path / "stage" / "_quarantine" / "transactions" / f"batch_id={record.batch_id}"
    bad = {r["_line_number"]: r for r in pq.read_table(quarantine).to_pylist()}
    assert {line: r["reason"] for line, r in bad.items()} == REASONS
    raw = json.loads(bad[4]["raw_record"])
    assert (raw["trans_id"], Decimal(str(raw["amount"])), raw["date"]) == (4, Decimal("-5.00"), "2024-02-04")
    assert json.loads(bad[8]["raw_record"]).get("date") is None
    assert all(r["_source_file"] == f"{info.jdbc_url}#public.transactions" for r in bad.values())

    staged = {r["trans_id"]: r for r in _staged(tmp_path)}
    assert set(staged) == {1, 2, 3, 9, 12}
    assert staged[1]["balance"] == Decimal("999.00"), (
        "of two copies in one batch, the same one is kept every time"
    )
    assert (staged[2]["trans_type"], staged[2]["k_symbol"]) == ("credit", "interest credited")
    assert (staged[3]["trans_type"], staged[3]["operation"], staged[3]["k_symbol"]) == (
        "debit",
        "remittance to another bank",
        "household",
    )
    assert (staged[3]["partner_bank"], staged[3]["partner_account"]) == ("AB", "00001234")
    assert (staged[9]["trans_type"], staged[9]["operation"], staged[9]["k_symbol"]) == (
        "cash withdrawal",
        "withdrawal in cash",
        "sanction interest if negative balance",
    )
    assert staged[9]["is_orphan"] is True and staged[1]["is_orphan"] is False
    assert (staged[12]["operation"], staged[12]["k_symbol"], staged[12]["partner_account"]) == (
        None,
        None,
        None,
    )
    assert sorted({r["trans_month"] for r in staged.values()}) == ["2024-01", "2024-02", "2024-03"]


# --- the entry point and the connection ----------------------------------------------------------------------


def test_glue_style_entry_point_takes_the_password_from_the_environment(
    spark,
    tmp_path: Path,
    postgres: PostgresInfo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = _hand_written_source(postgres, "stage_tx_main")
    _write_accounts(spark, tmp_path, [1, 2])
    monkeypatch.setenv("C360_PG_PASSWORD", info.password)
    args = [
        "--JOB_NAME",
        "c360-stage-transactions",
        "--lake",
        str(tmp_path),
        "--jdbc_url",
        info.jdbc_url,
        "--db_user",
        info.user,
        "--db_password",
        "not-the-password",
        "--num_partitions",
        "2",
        "--backoff_seconds",
        "0.1",
    ]
    job.main(args)
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed["raw_rows"] == len(ROWS) and printed["balanced"] is True
    assert info.password not in captured.out + captured.err
    # Nothing new since the bookmark; --full_refresh true extracts every row again.
    job.main(args)
    assert json.loads(capsys.readouterr().out)["raw_rows"] == 0
    job.main([*args, "--full_refresh", "true"])
    again = json.loads(capsys.readouterr().out)
    assert (again["raw_rows"], again["stage_rows"], again["balanced"]) == (len(ROWS), 0, True)
    assert again["quarantined_rows"] == printed["quarantined_rows"] > 0


def test_connection_arguments() -> None:
    args = {"jdbc_url": "jdbc:postgresql://db:5432/sourcemf?ssl=true", "db_user": "etl", "db_password": "cli"}
    source = jdbc_source_from_args(args, environ={"C360_PG_PASSWORD": "env"})
    assert (source.url, source.user, source.password) == (args["jdbc_url"], "etl", "env")
    assert jdbc_source_from_args(args, environ={}).password == "cli"
    assert "env" not in repr(source) and source.display == "jdbc:postgresql://db:5432/sourcemf"
    with pytest.raises(JobArgumentError, match="--jdbc_url"):
        jdbc_source_from_args({"db_user": "etl"}, environ={})
    with pytest.raises(JobArgumentError, match="needs AWS Glue"):
        jdbc_source_from_args({"connection_name": "sourcemf"}, environ={})
    with pytest.raises(ValueError, match="non-negative integer"):
        job.extract_query(0, "1; drop table x")  # type: ignore[arg-type]
    assert job.bounds_query(5).endswith("from public.transactions where trans_id > 5")


def test_retries_are_bounded_back_off_and_skip_permanent_errors() -> None:
    sleeps: list[float] = []
    failures = iter([RuntimeError("org.postgresql.util.PSQLException: An I/O error occurred")] * 2)

    def flaky(attempt: int) -> int:
        error = next(failures, None)
        if error:
            raise error
        return attempt

    assert with_retries(flaky, "read", attempts=3, backoff_seconds=1.0, sleep=sleeps.append) == 3
    assert sleeps == [1.0, 2.0]

    def always_down(attempt: int) -> int:
        raise RuntimeError("java.sql.SQLTransientConnectionException: Connection refused")

    with pytest.raises(RuntimeError, match="Connection refused"):
        with_retries(always_down, "read", attempts=2, backoff_seconds=0, sleep=sleeps.append)
    calls: list[int] = []

    def wrong_password(attempt: int) -> int:
        calls.append(attempt)
        raise RuntimeError('PSQLException: FATAL: password authentication failed for user "c360"')

    with pytest.raises(RuntimeError, match="authentication"):
        with_retries(wrong_password, "read", attempts=3, backoff_seconds=0, sleep=sleeps.append)
    assert calls == [1]
    assert not is_transient(ValueError("a bug"))
