"""Core banking transactions: generation (pure numpy) and the PostgreSQL load through COPY."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from c360.services.postgres import PostgresInfo
from c360.settings import Settings
from ingestion import bank
from ingestion import transactions as tx

END = date(2024, 12, 31)
END_DAY = int(np.datetime64(END.isoformat(), "D").astype(np.int64))


@pytest.fixture(scope="module")
def ks() -> bank.BankKeyspace:
    return bank.build_keyspace(42, 1.0, END)


@pytest.fixture(scope="module")
def history(ks: bank.BankKeyspace) -> tx.Transactions:
    return tx.history_transactions(ks, 42)


def _fresh_database(info: PostgresInfo, name: str) -> PostgresInfo:
    """An empty database in the cluster, so tests do not see each other's rows."""
    with psycopg.connect(info.dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}"')
        conn.execute(f'create database "{name}"')
    return dataclasses.replace(info, database=name)


def _settings(tmp_path: Path, scale: float = 0.2) -> Settings:
    return Settings().with_overrides(lake=str(tmp_path / "lake"), seed=42, scale=scale, end_date=END)


def _balances_follow_amounts(batch: tx.Transactions, carry: np.ndarray | None = None) -> bool:
    """balance[i] == balance[i-1] + signed amount[i] per account in trans_id order (from ``carry`` or 0)."""
    order = np.lexsort((batch.trans_id, batch.account_id))
    account, balance, signed = batch.account_id[order], batch.balance_cents[order], batch.signed_cents[order]
    first = np.r_[True, account[1:] != account[:-1]]
    previous = np.r_[0, balance[:-1]]
    start = np.zeros(account.size, dtype=np.int64) if carry is None else carry[account - 1]
    previous[first] = start[first]
    return bool(np.array_equal(balance, previous + signed))


# --- generation ------------------------------------------------------------------------------------------


def test_history_size_ids_and_dates(ks: bank.BankKeyspace, history: tx.Transactions) -> None:
    accounts_in_history = int((ks.accounts.open_date <= np.datetime64(END.isoformat(), "D")).sum())
    assert len(history) / accounts_in_history == pytest.approx(tx.ROWS_PER_ACCOUNT, rel=0.05)
    assert 900_000 < len(history) < 1_150_000, "about a million rows per scale unit"
    assert np.array_equal(history.trans_id, np.arange(1, len(history) + 1))
    assert np.all(np.diff(history.day) >= 0), "trans_id follows the date"
    opened = bank.to_days(ks.accounts.open_date)[history.account_id - 1]
    assert np.all(history.day >= opened) and history.day.max() <= END_DAY
    assert np.all(history.amount_cents > 0)


def test_running_balances_are_consistent_with_amounts(history: tx.Transactions) -> None:
    assert _balances_follow_amounts(history)
    broken = dataclasses.replace(history, balance_cents=history.balance_cents.copy())
    broken.balance_cents[len(history) // 2] += 1
    assert not _balances_follow_amounts(broken), "the check itself catches a wrong balance"


def test_some_balances_go_negative_and_draw_sanction_interest(history: tx.Transactions) -> None:
    negative = history.balance_cents < 0
    assert 0.005 < negative.mean() < 0.2
    before = history.balance_cents - history.signed_cents
    sanction = history.kind == tx.SANCTION
    interest = history.kind == tx.INTEREST
    assert sanction.sum() > 1000 and interest.sum() > 10_000
    assert np.all(before[sanction] < 0), "sanction interest only on a negative balance"
    assert np.all(before[interest] > 0), "interest only on a positive balance"
    month_end = bank.month_end(bank.month_of(history.day))
    assert np.all(history.day[sanction | interest] == month_end[sanction | interest])


def test_codes_and_their_pkdd_mix(history: tx.Transactions) -> None:
    table = history.to_table()
    types = table["type"].to_numpy(zero_copy_only=False)
    assert set(types) == {"credit", "debit", "cash withdrawal"}
    assert set(table["operation"].drop_null().to_pylist()) == {
        "credit card withdrawal",
        "credit in cash",
        "collection from another bank",
        "withdrawal in cash",
        "remittance to another bank",
    }
    assert table["operation"].null_count > 0
    assert set(table["k_symbol"].drop_null().to_pylist()) == {
        "insurance payment",
        "payment for statement",
        "interest credited",
        "sanction interest if negative balance",
        "household",
        "old-age pension",
        "loan payment",
    }
    assert 0.3 < np.mean(types == "credit") < 0.55
    assert 0.002 < np.mean(types == "cash withdrawal") < 0.03
    partner = table["account"].drop_null().to_pylist()
    assert all(len(p) == 8 and p.isdigit() for p in partner)
    transfers = np.isin(
        history.kind, [tx.SALARY, tx.PENSION, tx.INCOMING, tx.OUTGOING, tx.HOUSEHOLD, tx.LOAN]
    )
    assert np.array_equal(
        history.bank >= 0, transfers | np.isin(history.kind, [tx.INSURANCE, tx.OTHER_ORDER])
    )


def test_transactions_follow_the_key_space(ks: bank.BankKeyspace, history: tx.Transactions) -> None:
    card_day = np.full(ks.accounts.account_id.size + 1, np.iinfo(np.int64).max)
    card_day[ks.cards.account_id] = bank.to_days(ks.cards.issued_at)
    card = history.kind == tx.CARD_WITHDRAWAL
    assert card.sum() > 0 and np.all(history.day[card] > card_day[history.account_id[card]])
    loan = history.kind == tx.LOAN
    payments = dict(zip(ks.loans.account_id.tolist(), ks.loans.payments_cents.tolist(), strict=True))
    assert loan.sum() > 0
    assert all(
        payments[a] == c for a, c in zip(history.account_id[loan], history.amount_cents[loan], strict=True)
    )
    granted = dict(
        zip(ks.loans.account_id.tolist(), bank.to_days(ks.loans.granted_date).tolist(), strict=True)
    )
    assert all(d > granted[a] for a, d in zip(history.account_id[loan], history.day[loan], strict=True))
    opening = history.kind == tx.OPENING
    assert np.array_equal(np.sort(history.account_id[opening]), ks.accounts.account_id[: opening.sum()])
    first_rows = np.unique(history.account_id, return_index=True)[1]
    assert np.all(history.kind[first_rows] == tx.OPENING), "every account starts with its opening deposit"


def test_generation_is_deterministic(ks: bank.BankKeyspace, history: tx.Transactions) -> None:
    again = tx.history_transactions(ks, 42)
    assert again.to_table().equals(history.to_table())
    other = tx.history_transactions(bank.build_keyspace(43, 1.0, END), 43)
    assert not np.array_equal(other.balance_cents[:1000], history.balance_cents[:1000])


def test_a_day_continues_the_balances(ks: bank.BankKeyspace, history: tx.Transactions) -> None:
    prof = tx.build_profiles(ks, 42)
    carry = tx.last_balances(history, np.zeros(ks.accounts.account_id.size, dtype=np.int64))
    last_row = {account: i for i, account in enumerate(history.account_id.tolist())}
    assert all(carry[a - 1] == history.balance_cents[i] for a, i in last_row.items())
    assert np.count_nonzero(carry) <= len(last_row)
    day = END + timedelta(days=31)  # a month end: interest is booked too
    batch = tx.day_transactions(ks, 42, prof, day, carry, len(history) + 1)
    assert len(batch) > 100
    assert batch.trans_id[0] == len(history) + 1 and np.all(np.diff(batch.trans_id) == 1)
    assert np.all(batch.day == bank.to_days(np.datetime64(day.isoformat(), "D")))
    assert _balances_follow_amounts(batch, carry)
    assert not _balances_follow_amounts(batch), "continuing from zero would not fit"
    assert np.isin(tx.INTEREST, batch.kind)


# --- PostgreSQL ------------------------------------------------------------------------------------------

CONSISTENCY_SQL = """
with ordered as (
    select account_id, trans_id, balance,
           case when type = 'credit' then amount else -amount end as signed_amount,
           lag(balance) over (partition by account_id order by trans_id) as previous_balance
    from public.transactions
)
select count(*) as checked,
       count(*) filter (where balance <> coalesce(previous_balance, 0) + signed_amount) as broken
from ordered
"""


def _count(dsn: str) -> tuple[int, int, int]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select count(*), count(distinct trans_id), max(trans_id) from public.transactions"
        ).fetchone()


@pytest.mark.postgres
def test_history_loads_with_copy_and_balances_hold_in_the_database(
    postgres: PostgresInfo, tmp_path: Path
) -> None:
    info = _fresh_database(postgres, "history")
    settings = _settings(tmp_path)
    loaded = tx.load_history(settings, info.dsn)
    expected = tx.history_transactions(bank.build_keyspace(42, 0.2, END), 42)
    assert loaded == len(expected)
    assert _count(info.dsn) == (loaded, loaded, loaded)
    with psycopg.connect(info.dsn) as conn:
        checked, broken = conn.execute(CONSISTENCY_SQL).fetchone()
        assert (checked, broken) == (loaded, 0)
        negative = conn.execute("select count(*) from public.transactions where balance < 0").fetchone()[0]
        assert negative > 0
        row = conn.execute(
            "select account_id, date, type, amount, balance from public.transactions where trans_id = %s",
            (loaded // 2,),
        ).fetchone()
    i = loaded // 2 - 1
    assert (
        row[0] == expected.account_id[i]
        and row[1].toordinal() == date(1970, 1, 1).toordinal() + expected.day[i]
    )
    assert row[2] == tx.KINDS[expected.kind[i]].type
    assert int(row[3] * 100) == expected.amount_cents[i] and int(row[4] * 100) == expected.balance_cents[i]


@pytest.mark.postgres
def test_loading_the_history_twice_does_not_duplicate(postgres: PostgresInfo, tmp_path: Path) -> None:
    info = _fresh_database(postgres, "twice")
    settings = _settings(tmp_path, scale=0.05)
    first = tx.load_history(settings, info.dsn)
    with psycopg.connect(info.dsn) as conn:
        checksum = conn.execute("select sum(balance), sum(amount) from public.transactions").fetchone()
    assert tx.load_history(settings, info.dsn) == first
    assert _count(info.dsn) == (first, first, first)
    with psycopg.connect(info.dsn) as conn:
        assert (
            conn.execute("select sum(balance), sum(amount) from public.transactions").fetchone() == checksum
        )


@pytest.mark.postgres
def test_load_day_continues_ids_and_balances(postgres: PostgresInfo, tmp_path: Path) -> None:
    info = _fresh_database(postgres, "days")
    settings = _settings(tmp_path, scale=0.1)
    history_rows = tx.load_history(settings, info.dsn)
    assert tx.load_day(settings, info.dsn, END) == 0, "a day already loaded is not loaded again"
    added = tx.load_day(settings, info.dsn, END + timedelta(days=1))
    assert added > 0
    assert _count(info.dsn) == (history_rows + added,) * 3
    caught_up = tx.load_day(settings, info.dsn, END + timedelta(days=5))
    assert tx.load_day(settings, info.dsn, END + timedelta(days=5)) == 0
    with psycopg.connect(info.dsn) as conn:
        days = conn.execute(
            "select date, count(*) from public.transactions where date > %s group by date order by date",
            (END,),
        ).fetchall()
        checked, broken = conn.execute(CONSISTENCY_SQL).fetchone()
    assert [d for d, _ in days] == [END + timedelta(days=i) for i in range(1, 6)], "missed days are caught up"
    assert sum(n for _, n in days) == added + caught_up
    assert broken == 0 and checked == history_rows + added + caught_up


@pytest.mark.postgres
def test_generate_loads_the_transactions_beside_the_files_and_raises_a_failed_load(
    postgres: PostgresInfo, tmp_path: Path
) -> None:
    from c360 import pipeline
    from c360.storage import Lake

    info = _fresh_database(postgres, "beside")
    settings = _settings(tmp_path, scale=0.05)
    files = pipeline.generate(settings, Lake(settings.lake), None, info.dsn)
    assert {f.source for f in files} == {*pipeline.FILE_SOURCES, "transactions"}
    loaded = [f.records for f in files if f.source == "transactions"]
    assert loaded == [_count(info.dsn)[0]] and loaded[0] > 0

    # the load runs in its own thread: its failure still reaches the caller, once the files are written
    other = Lake(str(tmp_path / "other"))
    with pytest.raises(psycopg.OperationalError):
        pipeline.generate(settings, other, None, "postgresql://c360@127.0.0.1:1/sourcemf?connect_timeout=5")
    written = [f for f in files if f.source != "transactions"]
    assert all(other.exists(f.uri.replace(settings.lake, other.root, 1)) for f in written)


@pytest.mark.postgres
def test_lambda_handler_loads_history_then_the_events_day(
    postgres: PostgresInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = _fresh_database(postgres, "lambda")
    monkeypatch.setenv("C360_PG_DSN", info.dsn)
    monkeypatch.setenv("C360_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("C360_SEED", "42")
    monkeypatch.setenv("C360_SCALE", "0.05")
    monkeypatch.setenv("C360_END_DATE", END.isoformat())
    day = END + timedelta(days=2)
    event = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": f"{day.isoformat()}T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/c360view-ingestion-postgresql"],
        "detail": {},
    }
    first = tx.c360view_ingestion_postgresql(event, None)
    assert first["day"] == day.isoformat() and first["history_rows"] > 0 and first["rows"] > 0
    again = tx.c360view_ingestion_postgresql(event, None)
    assert again == {**first, "history_rows": 0, "rows": 0}
    total = first["history_rows"] + first["rows"]
    assert _count(info.dsn) == (total, total, total)
    with psycopg.connect(info.dsn) as conn:
        assert conn.execute("select max(date) from public.transactions").fetchone()[0] == day
        assert conn.execute(CONSISTENCY_SQL).fetchone()[1] == 0


def test_lambda_handler_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C360_PG_DSN", raising=False)
    with pytest.raises(RuntimeError, match="C360_PG_DSN"):
        tx.c360view_ingestion_postgresql({}, None)


def test_partner_accounts_are_eight_digits_with_leading_zeros_and_null_without_a_partner() -> None:
    numbers = np.array([7, -1, 12_345_678, 0, -1, 99_999_999, 40_000], dtype=np.int32)
    got = tx._zero_padded(numbers, 8)
    assert got.to_pylist() == ["00000007", None, "12345678", "00000000", None, "99999999", "00040000"]
    assert got.null_count == 2
    assert tx._zero_padded(np.full(3, -1, np.int32), 8).to_pylist() == [None, None, None]
    assert tx._zero_padded(np.array([5], np.int32), 8).null_count == 0
    with pytest.raises(ValueError, match="does not fit in 8 digits"):
        tx._zero_padded(np.array([100_000_000], np.int64), 8)


def test_the_bucketed_parallel_sort_gives_the_lexicographic_date_order() -> None:
    rng = np.random.default_rng(7)
    n, lo, hi = 200_000, 9_000, 9_000 + 400  # 13 buckets of 32 days
    rows = tx._Rows.of(
        acc=rng.integers(0, 3_000, n),
        day=rng.integers(lo, hi + 1, n),
        kind=rng.integers(0, len(tx.KINDS), n),
        amount=rng.integers(1, 10_000, n),
    )
    tiebreak = rng.integers(0, 1 << 30, n)
    expected = np.lexsort((tiebreak, tx.RANK[rows.kind], rows.acc, rows.day))
    assert np.array_equal(tx._date_order(rows, tiebreak, lo, hi), expected)


def test_code_columns_are_dictionary_encoded_strings(history: tx.Transactions) -> None:
    table = history.to_table()
    for name in ("type", "operation", "k_symbol", "bank"):
        assert table[name].type == tx.pa.dictionary(tx.pa.int8(), tx.pa.string()), name
    sample = table.slice(0, 5_000)
    assert sample["type"].to_pylist() == [tx.KINDS[k].type for k in history.kind[:5_000]]
    partner = history.partner[:5_000]
    assert sample["account"].to_pylist() == [f"{p:08d}" if p >= 0 else None for p in partner]
    assert sample["bank"].to_pylist() == [
        bank.BANK_CODES[b] if b >= 0 else None for b in history.bank[:5_000]
    ]


def test_a_large_history_is_cut_into_windows_of_whole_months(ks: bank.BankKeyspace) -> None:
    prof = tx.build_profiles(ks, 42)
    assert tx.history_windows(prof, END) == [(np.datetime64(int(prof.open_day.min()), "D").item(), END)]
    windows = tx.history_windows(prof, END, max_rows=150_000)
    assert 6 <= len(windows) <= 8  # about 1.03 M rows expected
    assert windows[0][0] == np.datetime64(int(prof.open_day.min()), "D").item() and windows[-1][1] == END
    for (_, last), (first, _) in itertools.pairwise(windows):
        assert first == last + timedelta(days=1) and first.day == 1, "contiguous, cut at month ends"
    opened = np.sort(prof.open_day)
    account_days = [
        sum(np.clip(bank.day_number(b) - opened[opened <= bank.day_number(b)], 0, None))
        - sum(np.clip(bank.day_number(a) - 1 - opened[opened < bank.day_number(a)], 0, None))
        for a, b in windows
    ]
    assert max(account_days) < 1.6 * min(account_days), "windows expect about the same number of rows"


def test_a_history_in_windows_continues_ids_and_balances() -> None:
    ks = bank.build_keyspace(42, 0.2, END)
    batches = list(tx.history_batches(ks, 42, max_rows=40_000))
    assert len(batches) >= 4
    whole = tx.Transactions(
        *(np.concatenate([getattr(b, f) for b in batches]) for f in tx.Transactions.__dataclass_fields__)
    )
    assert np.array_equal(whole.trans_id, np.arange(1, len(whole) + 1))
    assert np.all(np.diff(whole.day) >= 0) and whole.day.max() <= END_DAY
    assert _balances_follow_amounts(whole), "balances continue across windows"
    in_one = tx.history_transactions(ks, 42)
    assert len(whole) == pytest.approx(len(in_one), rel=0.03)
    assert [len(b) for b in tx.history_batches(ks, 42, max_rows=40_000)] == [len(b) for b in batches]
    (single,) = tx.history_batches(ks, 42)
    assert single.to_table().equals(in_one.to_table()), "a history of one window is the one-piece history"


@pytest.mark.postgres
def test_a_history_loads_window_by_window_in_one_transaction(
    postgres: PostgresInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = _fresh_database(postgres, "windows")
    monkeypatch.setattr(tx, "HISTORY_BATCH_ROWS", 10_000)
    settings = _settings(tmp_path, scale=0.05)
    loaded = tx.timed_load_history(settings, info.dsn)
    expected = sum(len(b) for b in tx.history_batches(bank.build_keyspace(42, 0.05, END), 42))
    assert loaded.rows == expected and loaded.generate_seconds > 0 and loaded.load_seconds > 0
    assert _count(info.dsn) == (expected, expected, expected)
    with psycopg.connect(info.dsn) as conn:
        assert conn.execute(CONSISTENCY_SQL).fetchone() == (expected, 0)
