"""The bank's key space: referential integrity, PKDD'99-like shares at scale 1, determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np
import pytest

from ingestion import bank, crm
from ingestion.bank import BankKeyspace, add_months, to_days

END = date(2024, 12, 31)
END_DAY = np.datetime64(END.isoformat(), "D")


@pytest.fixture(scope="module")
def ks() -> BankKeyspace:
    return bank.build_keyspace(42, 1.0, END)


def _history(values: np.ndarray) -> np.ndarray:
    """Mask of the dates (or datetimes) on or before the end date."""
    return values.astype("datetime64[D]") <= END_DAY


def _share(values: np.ndarray, value: str) -> float:
    return float(np.mean(values == value))


def test_account_count_and_dates_follow_the_crm_clients(ks: BankKeyspace) -> None:
    accounts = ks.accounts
    in_history = _history(accounts.open_date)
    assert in_history.sum() == bank.account_count(1.0) == 4500
    assert np.array_equal(accounts.account_id, np.arange(1, accounts.account_id.size + 1))
    assert np.all(np.diff(accounts.open_date.astype(np.int64)) >= 0), "ids are assigned in opening order"
    became_client = ks.population.created_at[accounts.owner_client_id - 1]
    assert np.all(accounts.open_date.astype("datetime64[s]") > became_client), (
        "opened after becoming a client"
    )
    history_owners = accounts.owner_client_id[in_history]
    assert history_owners.max() <= crm.client_count(1.0), "history accounts belong to clients of the history"
    assert np.unique(accounts.owner_client_id).size == accounts.owner_client_id.size, "one account per owner"
    assert set(np.unique(accounts.district_id)) <= set(range(1, 78))
    # After the end date, new clients keep opening accounts (daily increments), up to the horizon.
    later = accounts.open_date[~in_history]
    assert later.size > 0 and later.max() <= np.datetime64(ks.horizon_date.isoformat(), "D")


def test_statement_frequency_shares(ks: BankKeyspace) -> None:
    frequency = ks.accounts.frequency[_history(ks.accounts.open_date)]
    assert _share(frequency, "POPLATEK MESICNE") == pytest.approx(4167 / 4500, abs=0.02)
    assert _share(frequency, "POPLATEK TYDNE") == pytest.approx(240 / 4500, abs=0.015)
    assert _share(frequency, "POPLATEK PO OBRATU") == pytest.approx(93 / 4500, abs=0.01)


def test_dispositions_reference_existing_clients_and_accounts(ks: BankKeyspace) -> None:
    d = ks.dispositions
    assert np.isin(d.account_id, ks.accounts.account_id).all()
    assert np.isin(d.client_id, ks.population.client_id).all()
    assert np.unique(d.disp_id).size == d.disp_id.size
    became_client = ks.population.created_at[d.client_id - 1].astype("datetime64[D]")
    assert np.all(d.valid_from > became_client), "a client exists before getting a right on an account"
    opened = ks.accounts.open_date[d.account_id - 1]
    assert np.all(d.valid_from >= opened)


def test_every_account_has_exactly_one_owner_and_at_most_one_disponent(ks: BankKeyspace) -> None:
    d = ks.dispositions
    owner = d.type == bank.OWNER
    owners_per_account = np.bincount(d.account_id[owner], minlength=ks.accounts.account_id.size + 1)[1:]
    assert np.all(owners_per_account == 1)
    assert np.array_equal(d.client_id[owner][np.argsort(d.account_id[owner])], ks.accounts.owner_client_id)
    assert set(np.unique(d.type)) == {bank.OWNER, bank.DISPONENT}
    disponent = ~owner
    assert Counter(d.account_id[disponent].tolist()).most_common(1)[0][1] == 1
    owner_of = ks.accounts.owner_client_id[d.account_id[disponent] - 1]
    assert np.all(d.client_id[disponent] != owner_of), "a disponent is not the owner"


def test_disponent_share_is_pkdd_like(ks: BankKeyspace) -> None:
    d = ks.dispositions
    history = _history(d.valid_from)
    share_of_dispositions = _share(d.type[history], bank.DISPONENT)
    assert share_of_dispositions == pytest.approx(869 / 5369, abs=0.02)  # 16% of dispositions
    accounts = _history(ks.accounts.open_date).sum()
    assert (d.type[history] == bank.DISPONENT).sum() / accounts == pytest.approx(869 / 4500, abs=0.025)


def test_cards_only_on_owner_dispositions_after_opening(ks: BankKeyspace) -> None:
    cards, d = ks.cards, ks.dispositions
    disp_index = np.searchsorted(d.disp_id, cards.disp_id)
    assert np.array_equal(d.disp_id[disp_index], cards.disp_id), "every card's disposition exists"
    assert np.all(d.type[disp_index] == bank.OWNER)
    assert np.array_equal(d.account_id[disp_index], cards.account_id)
    opened = ks.accounts.open_date[cards.account_id - 1].astype("datetime64[s]")
    assert np.all(cards.issued_at > opened)
    assert np.unique(cards.disp_id).size == cards.disp_id.size, "one card per disposition"


def test_card_type_shares(ks: BankKeyspace) -> None:
    types = ks.cards.type[_history(ks.cards.issued_at)]
    assert 700 < types.size < 1100
    assert _share(types, "classic") == pytest.approx(659 / 892, abs=0.05)
    assert _share(types, "junior") == pytest.approx(145 / 892, abs=0.04)
    assert _share(types, "gold") == pytest.approx(88 / 892, abs=0.03)


def test_loans_are_consistent_and_pkdd_like(ks: BankKeyspace) -> None:
    loans = ks.loans
    assert np.unique(loans.account_id).size == loans.account_id.size, "at most one loan per account"
    assert np.isin(loans.account_id, ks.accounts.account_id).all()
    assert set(np.unique(loans.duration)) <= {12, 24, 36, 48, 60}
    assert np.all(loans.amount_cents == loans.duration * loans.payments_cents)
    assert np.all(loans.payments_cents > 0)
    assert np.all(loans.granted_date > ks.accounts.open_date[loans.account_id - 1])
    history = _history(loans.granted_date)
    assert history.sum() / 4500 == pytest.approx(682 / 4500, abs=0.025)
    status = loans.status[history]
    for code, count in {"A": 203, "B": 31, "C": 403, "D": 45}.items():
        assert _share(status, code) == pytest.approx(count / 682, abs=0.05), code
    ends = add_months(to_days(loans.granted_date[history]), loans.duration[history])
    finished = np.isin(status, ["A", "B"])
    assert np.all(ends[finished] <= to_days(END_DAY)), "A and B loans have ended by the end date"
    assert np.all(ends[~finished] > to_days(END_DAY)), "C and D loans are still running"
    assert set(np.unique(loans.status[~history])) <= {"C", "D"}


def test_standing_orders(ks: BankKeyspace) -> None:
    orders, loans = ks.orders, ks.loans
    assert np.isin(orders.account_id, ks.accounts.account_id).all()
    assert np.all(orders.start_date >= ks.accounts.open_date[orders.account_id - 1])
    assert set(np.unique(orders.k_symbol)) <= {"SIPO", "POJISTNE", "LEASING", "UVER", ""}
    assert set(np.unique(orders.bank_to)) <= set(bank.BANK_CODES.tolist())
    assert all(len(a) == 8 and a.isdigit() for a in orders.account_to.tolist())
    assert any(a.startswith("0") for a in orders.account_to.tolist()), "leading zeros are kept"
    loan_orders = orders.k_symbol == "UVER"
    assert loan_orders.sum() == loans.loan_id.size, "one instalment order per loan"
    loan_order_accounts = orders.account_id[loan_orders].tolist()
    by_account = dict(zip(loan_order_accounts, orders.amount_cents[loan_orders].tolist(), strict=True))
    assert by_account == dict(zip(loans.account_id.tolist(), loans.payments_cents.tolist(), strict=True))
    plain = orders.k_symbol[~loan_orders]
    assert _share(plain, "SIPO") == pytest.approx(3502 / 5754, abs=0.04)
    assert plain.size / ks.accounts.account_id.size == pytest.approx((6471 - 717) / 4500, abs=0.1)


def test_districts_are_the_same_77_at_every_scale(ks: BankKeyspace) -> None:
    districts = ks.districts
    assert np.array_equal(districts.district_id, np.arange(1, 78))
    assert np.unique(districts.name).size == 77
    assert all(name.isascii() and 0 < len(name) <= 30 for name in districts.name.tolist())
    assert Counter(districts.region.tolist()) == dict(bank.REGIONS)
    assert districts.region[0] == "Prague" and districts.inhabitants[0] > 1_000_000
    assert districts.urban_ratio.min() >= 0 and districts.urban_ratio.max() == 100
    missing = np.isnan(districts.unemployment_95)
    assert missing.sum() == 1 and np.array_equal(missing, np.isnan(districts.crimes_95))
    assert np.all(districts.crimes_96 > 0) and np.all(districts.average_salary > 7000)
    small = bank.build_keyspace(42, 0.05, END).districts
    assert small.to_table().equals(districts.to_table())


def test_same_inputs_same_keyspace_and_another_seed_differs(ks: BankKeyspace) -> None:
    again = bank.build_keyspace(42, 1.0, END)
    other = bank.build_keyspace(43, 1.0, END)
    for name in ("districts", "accounts", "dispositions", "cards", "loans", "orders"):
        assert getattr(again, name).to_table().equals(getattr(ks, name).to_table()), name
        assert not getattr(other, name).to_table().equals(getattr(ks, name).to_table()), name


def test_scale_sets_the_number_of_accounts() -> None:
    small = bank.build_keyspace(7, 0.1, END)
    assert _history(small.accounts.open_date).sum() == 450
    with pytest.raises(ValueError, match="scale must be positive"):
        bank.account_count(0)


def test_calendar_helpers() -> None:
    days = to_days(np.array(["2024-01-31", "2023-02-28", "2024-02-29"], dtype="datetime64[D]"))
    moved = add_months(days, np.array([1, 12, 12])).astype("datetime64[D]")
    assert moved.astype(str).tolist() == ["2024-02-29", "2024-02-28", "2025-02-28"]
    assert bank.yyyymmdd(days).tolist() == [20240131, 20230228, 20240229]


def test_month_helpers_on_long_arrays_match_the_calendar() -> None:
    """Long arrays go through a lookup table of their range; the answers must be the calendar's."""
    days = np.random.default_rng(3).integers(-800, 20_000, 50_000)  # 1967-10 to 2024-10, leap years included
    expected_months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    assert np.array_equal(bank.month_of(days), expected_months)
    assert np.array_equal(bank.month_of(days.astype(np.int32)), expected_months)
    months = np.repeat(np.arange(-30, 700), 10)
    expected_starts = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    assert np.array_equal(bank.month_start(months), expected_starts)
    next_starts = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    assert np.array_equal(bank.month_end(months), next_starts - 1)
    assert int(bank.month_of(np.int64(19_782))) == (2024 - 1970) * 12 + 1  # 2024-02-29 -> 2024-02


def test_nothing_of_a_history_account_is_dated_after_the_end_date(ks: BankKeyspace) -> None:
    """The accounts of the history get their cards, loans, orders and disponents by the end date; only accounts
    opened later (the daily increments) have later dates, up to the horizon."""
    of_history = _history(ks.accounts.open_date)
    horizon = np.datetime64(ks.horizon_date.isoformat(), "D")
    dated = {
        "cards": (ks.cards.account_id, ks.cards.issued_at.astype("datetime64[D]")),
        "loans": (ks.loans.account_id, ks.loans.granted_date),
        "orders": (ks.orders.account_id, ks.orders.start_date),
        "dispositions": (ks.dispositions.account_id, ks.dispositions.valid_from),
    }
    for name, (account_id, when) in dated.items():
        history_rows = of_history[account_id - 1]
        assert np.all(when[history_rows] <= END_DAY), name
        assert np.all(when[~history_rows] > END_DAY) and np.all(when <= horizon), name
