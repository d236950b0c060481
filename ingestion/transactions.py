"""Core banking transactions: the design's Aurora ``sourcemf`` database, table ``public.transactions``.

Every account of the bank's key space (:mod:`ingestion.bank`) gets a PKDD'99-like history from its opening day to
``end_date``: an opening cash deposit, a monthly salary or old-age pension, the monthly payments of its standing
orders and loan, cash and card withdrawals, deposits and transfers, a statement fee and, at each month end,
interest credited on a positive balance or sanction interest on a negative one. About 230 rows per account,
1,000,000 per scale unit. Amounts are positive; the direction is in ``type``. ``balance`` is the running balance
of the account: ``balance = previous balance + amount`` for credits and ``- amount`` for debits and withdrawals,
in ``trans_id`` order (which is date order).

Generation is vectorized with numpy (no Python loop over rows; the only loop is over month ends, to compute each
month's interest from the balance before it). Loading uses PostgreSQL ``COPY`` with CSV chunks written by pyarrow.

* :func:`load_history` truncates and loads the whole history (idempotent).
* :func:`load_day` appends the days after the last loaded one up to ``day``: ``trans_id`` continues, balances
  continue from each account's stored last balance. A day already loaded is not loaded again.
* :func:`c360view_ingestion_postgresql` is the Lambda handler (``C360_PG_DSN``), on an EventBridge schedule.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from c360.settings import Settings
from ingestion import bank
from ingestion.bank import (
    BankKeyspace,
    add_months,
    day_number,
    decimal_from_cents,
    month_end,
    month_of,
    to_days,
)
from ingestion.common import event_day, rng_for

log = logging.getLogger(__name__)

SOURCE = "transactions"
TABLE = "public.transactions"
COLUMNS = (
    "trans_id",
    "account_id",
    "date",
    "type",
    "operation",
    "amount",
    "balance",
    "k_symbol",
    "bank",
    "account",
)
ROWS_PER_ACCOUNT = 230
"""Target rows per account of the history (PKDD'99: 1,056,320 rows for 4,500 accounts)."""
MIN_RANDOM_PER_MONTH = 1.0
"""At least this many withdrawals, deposits and transfers per account and month, whatever the target says."""
COPY_CHUNK_ROWS = 200_000

# --- vocabulary (English values of PKDD'99's Czech codes) -----------------------------------------------------
TYPE_CREDIT = "credit"  # PRIJEM
TYPE_DEBIT = "debit"  # VYDAJ
TYPE_CASH_WITHDRAWAL = "cash withdrawal"  # VYBER, a rare third type always paired with a cash withdrawal
OP_CARD_WITHDRAWAL = "credit card withdrawal"  # VYBER KARTOU
OP_CASH_CREDIT = "credit in cash"  # VKLAD
OP_COLLECTION = "collection from another bank"  # PREVOD Z UCTU
OP_CASH_WITHDRAWAL = "withdrawal in cash"  # VYBER
OP_REMITTANCE = "remittance to another bank"  # PREVOD NA UCET
K_INSURANCE = "insurance payment"  # POJISTNE
K_STATEMENT = "payment for statement"  # SLUZBY
K_INTEREST = "interest credited"  # UROK
K_SANCTION = "sanction interest if negative balance"  # SANKC. UROK
K_HOUSEHOLD = "household"  # SIPO
K_PENSION = "old-age pension"  # DUCHOD
K_LOAN = "loan payment"  # UVER


@dataclass(frozen=True)
class Kind:
    """One kind of transaction: its codes, its sign on the balance and its rank within a day."""

    name: str
    type: str
    operation: str | None
    k_symbol: str | None
    sign: int
    rank: int


KINDS = (
    Kind("opening deposit", TYPE_CREDIT, OP_CASH_CREDIT, None, 1, 0),
    Kind("salary", TYPE_CREDIT, OP_COLLECTION, None, 1, 1),
    Kind("pension", TYPE_CREDIT, OP_COLLECTION, K_PENSION, 1, 1),
    Kind("cash deposit", TYPE_CREDIT, OP_CASH_CREDIT, None, 1, 2),
    Kind("incoming transfer", TYPE_CREDIT, OP_COLLECTION, None, 1, 2),
    Kind("household order", TYPE_DEBIT, OP_REMITTANCE, K_HOUSEHOLD, -1, 3),
    Kind("insurance order", TYPE_DEBIT, OP_REMITTANCE, K_INSURANCE, -1, 3),
    Kind("other order", TYPE_DEBIT, OP_REMITTANCE, None, -1, 3),
    Kind("loan instalment", TYPE_DEBIT, OP_REMITTANCE, K_LOAN, -1, 3),
    Kind("cash withdrawal", TYPE_DEBIT, OP_CASH_WITHDRAWAL, None, -1, 4),
    Kind("card withdrawal", TYPE_DEBIT, OP_CARD_WITHDRAWAL, None, -1, 4),
    Kind("outgoing transfer", TYPE_DEBIT, OP_REMITTANCE, None, -1, 4),
    Kind("counter withdrawal", TYPE_CASH_WITHDRAWAL, OP_CASH_WITHDRAWAL, None, -1, 4),
    Kind("statement fee", TYPE_DEBIT, OP_CASH_WITHDRAWAL, K_STATEMENT, -1, 5),
    Kind("interest", TYPE_CREDIT, None, K_INTEREST, 1, 6),
    Kind("sanction interest", TYPE_DEBIT, OP_CASH_WITHDRAWAL, K_SANCTION, -1, 7),
)
(
    OPENING,
    SALARY,
    PENSION,
    CASH_DEPOSIT,
    INCOMING,
    HOUSEHOLD,
    INSURANCE,
    OTHER_ORDER,
    LOAN,
    CASH_WITHDRAWAL,
    CARD_WITHDRAWAL,
    OUTGOING,
    COUNTER_WITHDRAWAL,
    FEE,
    INTEREST,
    SANCTION,
) = range(len(KINDS))
SIGN = np.array([k.sign for k in KINDS], dtype=np.int64)
RANK = np.array([k.rank for k in KINDS], dtype=np.int64)
ORDER_KIND = {"SIPO": HOUSEHOLD, "POJISTNE": INSURANCE, "LEASING": OTHER_ORDER, "": OTHER_ORDER}

# Withdrawals, deposits and one-off transfers: share of events and relative size.
RANDOM_KINDS = np.array(
    [CASH_DEPOSIT, INCOMING, CASH_WITHDRAWAL, CARD_WITHDRAWAL, OUTGOING, COUNTER_WITHDRAWAL]
)
RANDOM_P = np.array([0.17, 0.05, 0.50, 0.16, 0.09, 0.03])
RANDOM_SIZE = np.array([1.0, 1.5, 1.0, 0.3, 1.2, 3.0])
RANDOM_ROUNDING_CENTS = np.array([100, 1, 10_000, 10, 100, 10_000])
RANDOM_SIGMA = 0.6
CREDIT_WEIGHT = float((RANDOM_P * RANDOM_SIZE)[SIGN[RANDOM_KINDS] > 0].sum())
DEBIT_WEIGHT = float((RANDOM_P * RANDOM_SIZE)[SIGN[RANDOM_KINDS] < 0].sum())
BUFFER_MONTHS = (1.5, 4.0)
"""Owners aim to keep between 1.5 and 4 months of income on the account."""
ADAPTATION = 0.25
"""Share of the gap between the balance and its buffer that an owner closes in a month by spending more or less."""
TROUBLED_ADAPTATION = 0.02
"""The same for accounts in trouble (a defaulting loan, a habit of overspending): they barely adapt."""
MIN_SPENDING_SHARE = 0.1
"""Monthly spending never falls below this share of the inflow, however low the balance."""
MAX_SPENDING_SHARE = 2.0
"""... and never exceeds this multiple of it, however high the balance."""
SPEND_RATIO = (0.93, 0.05)
"""Mean and spread of the share of their inflow that owners spend in a month (the rest is saved)."""
OVERSPENDING_SHARE = 0.04
"""Share of accounts whose owners habitually spend more than they earn (besides bad loans)."""
TROUBLED_EXTRA_SPENDING = 0.14
ACTIVITY_FLOOR = 0.5
"""The least active accounts have this share of the average rate of withdrawals, deposits and transfers."""

SALARY_BY_INCOME_BAND_CENTS = {
    "under_25k": 800_000,
    "25k_50k": 1_100_000,
    "50k_100k": 1_600_000,
    "100k_200k": 2_500_000,
    "200k_plus": 4_000_000,
}
PENSION_CENTS = 600_000
PENSION_AGE = 65
REGULAR_INCOME_SHARE = 0.85
"""Share of working owners paid by transfer; the others deposit their pay in cash once a month."""
CASH_PAY_SIGMA = 0.2
"""Spread of a month's cash-deposited pay around the owner's income (log-normal)."""
EXTRA_CREDIT_SHARE = 0.1
"""Occasional deposits and incoming transfers, as a share of the monthly income."""
MAX_COMMITTED_SHARE = (0.3, 0.6)
"""Standing orders take at most 30-60% of the income: owners with large orders earn more."""
STATEMENT_FEE_CENTS = {bank.FREQ_MONTHLY: 1_460, bank.FREQ_WEEKLY: 3_000, bank.FREQ_AFTER_TRANSACTION: 4_500}
INTEREST_BP = 20
"""Monthly interest credited on a positive balance, in basis points."""
SANCTION_BP = 150
"""Monthly sanction interest on a negative balance, in basis points (at least 0.01)."""
DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class Profiles:
    """What drives each account's transactions (arrays indexed by ``account_id - 1``, or by ``order_id - 1`` and
    ``loan_id - 1`` for the order and loan arrays). Derived from the key space and a seed, never stored."""

    open_day: np.ndarray  # int64 day numbers
    income_cents: np.ndarray  # monthly income
    income_kind: np.ndarray  # SALARY, PENSION or CASH_DEPOSIT (pay deposited in cash)
    income_dom: np.ndarray  # day of month of the salary or pension
    income_bank: np.ndarray  # index into bank.BANK_CODES
    income_account: np.ndarray  # the payer's account number
    card_day: np.ndarray  # first day card withdrawals are possible (a far future without a card)
    fee_cents: np.ndarray
    opening_cents: np.ndarray
    random_rate: np.ndarray  # withdrawals, deposits and transfers per day
    credit_mean_cents: np.ndarray  # mean size of a random credit
    spending_cents: np.ndarray  # usual monthly withdrawals and card and transfer spending
    buffer_cents: np.ndarray  # the balance the owner aims to keep; spending adapts to the gap
    adaptation: np.ndarray  # share of the gap to the buffer closed per month (low for accounts in trouble)
    order_dom: np.ndarray  # per standing order: day of month it pays
    loan_trouble_after: np.ndarray  # per loan: instalments paid before trouble (B stops, D misses some)


@dataclass(frozen=True)
class _Rows:
    """Transactions under construction (struct of arrays, in the narrowest types that hold them: the final sort
    and its gathers move a quarter of the bytes that int64 everywhere would)."""

    acc: np.ndarray  # int32 account index (account_id - 1)
    day: np.ndarray  # int32 day number
    kind: np.ndarray  # int8 index into KINDS
    amount: np.ndarray  # int64 cents, > 0
    bank: np.ndarray  # int8 index into bank.BANK_CODES, -1 for none
    partner: np.ndarray  # int32 partner account number (8 digits), -1 for none

    @staticmethod
    def of(
        acc: np.ndarray,
        day: np.ndarray,
        kind: int | np.ndarray,
        amount: np.ndarray,
        bank_index: np.ndarray | None = None,
        partner: np.ndarray | None = None,
    ) -> _Rows:
        n = acc.size
        return _Rows(
            acc=acc.astype(np.int32),
            day=day.astype(np.int32),
            kind=np.broadcast_to(np.asarray(kind, dtype=np.int8), (n,)).copy(),
            amount=amount.astype(np.int64),
            bank=np.full(n, -1, np.int8) if bank_index is None else bank_index.astype(np.int8),
            partner=np.full(n, -1, np.int32) if partner is None else partner.astype(np.int32),
        )

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Rows.__dataclass_fields__))

    def take(self, index: np.ndarray) -> _Rows:
        return _Rows(*(getattr(self, f)[index] for f in _Rows.__dataclass_fields__))

    @property
    def signed(self) -> np.ndarray:
        return self.amount * SIGN[self.kind]


@dataclass(frozen=True)
class Transactions:
    """Generated rows of ``public.transactions`` in ``trans_id`` order; money in cents."""

    trans_id: np.ndarray  # int64
    account_id: np.ndarray  # int32
    day: np.ndarray  # int32 day numbers
    kind: np.ndarray  # int8 index into KINDS
    amount_cents: np.ndarray  # int64, > 0
    balance_cents: np.ndarray  # int64, the account's balance after the transaction
    bank: np.ndarray  # int8 index into bank.BANK_CODES, -1 for none
    partner: np.ndarray  # int32 partner account number (8 digits), -1 for none

    def __len__(self) -> int:
        return int(self.trans_id.size)

    @property
    def signed_cents(self) -> np.ndarray:
        return self.amount_cents * SIGN[self.kind]

    def to_table(self) -> pa.Table:
        """The rows as an Arrow table with the database's columns (built by Arrow and NumPy, not per row). The
        code columns stay dictionary-encoded (a handful of values over millions of rows), like the strings of a
        columnar database; CSV and Parquet writers read them as strings."""
        return pa.table(
            {
                "trans_id": self.trans_id,
                "account_id": self.account_id.astype(np.int64),
                "date": pa.array(self.day.astype(np.int32, copy=False)).view(pa.date32()),
                "type": _coded(self.kind, [k.type for k in KINDS]),
                "operation": _coded(self.kind, [k.operation for k in KINDS]),
                "amount": decimal_from_cents(self.amount_cents, 12),
                "balance": decimal_from_cents(self.balance_cents, 14),
                "k_symbol": _coded(self.kind, [k.k_symbol for k in KINDS]),
                "bank": _coded(self.bank, list(bank.BANK_CODES)),
                "account": _zero_padded(self.partner, PARTNER_DIGITS),
            }
        )


PARTNER_DIGITS = 8


def _coded(codes: np.ndarray, values: list[str | None]) -> pa.DictionaryArray:
    """``values[code]`` for each code (null for a None value or a negative code), as an Arrow dictionary array."""
    present = sorted({v for v in values if v is not None})
    lookup = np.array([present.index(v) if v is not None else -1 for v in values] + [-1], dtype=np.int8)
    index = lookup[np.where(codes < 0, len(values), codes)]
    return pa.DictionaryArray.from_arrays(pa.array(index, mask=index < 0), pa.array(present, pa.string()))


def _zero_padded(numbers: np.ndarray, digits: int) -> pa.Array:
    """Non-negative ``numbers`` as strings of exactly ``digits`` digits (leading zeros), null where negative: the
    bytes are written by NumPy straight into the Arrow string buffers."""
    valid = numbers >= 0
    left = numbers[valid].astype(np.int64)
    if left.size and int(left.max()) >= 10**digits:
        raise ValueError(f"a number does not fit in {digits} digits: {int(left.max())}")
    text = np.empty((left.size, digits), dtype=np.uint8)
    for position in range(digits - 1, -1, -1):
        left, digit = np.divmod(left, 10)
        text[:, position] = digit + ord("0")
    offsets = np.zeros(numbers.size + 1, dtype=np.int32)
    np.cumsum(valid * np.int32(digits), out=offsets[1:])
    nulls = int(numbers.size - left.size)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(
        pa.string(), numbers.size, [bitmap, pa.py_buffer(offsets), pa.py_buffer(text)], null_count=nulls
    )


# --- profiles -----------------------------------------------------------------------------------------------


def _monthly_income(ks: BankKeyspace, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each owner's monthly income (cents) and how it arrives (SALARY, PENSION or CASH_DEPOSIT).

    The CRM's income band sets the salary and age 65 or more a pension; banks lend only what the income carries
    (an instalment is at most about 45% of it) and owners with large standing orders earn enough to pay them."""
    accounts, pop, loans, orders = ks.accounts, ks.population, ks.loans, ks.orders
    n = accounts.account_id.size
    owner = accounts.owner_client_id - 1
    age = (day_number(ks.end_date) - to_days(pop.birth_date[owner])) / 365.25
    pensioner = age >= PENSION_AGE
    band = np.array([SALARY_BY_INCOME_BAND_CENTS[b] for b in pop.income_band[owner]])
    income = np.where(pensioner, PENSION_CENTS * rng.lognormal(0, 0.15, n), band * rng.lognormal(0, 0.25, n))
    loan_acc = loans.account_id - 1
    income[loan_acc] = np.maximum(
        income[loan_acc], loans.payments_cents / rng.uniform(0.25, 0.45, loan_acc.size)
    )
    plain = orders.k_symbol != bank.ORDER_LOAN
    committed = np.bincount(orders.account_id[plain] - 1, orders.amount_cents[plain], minlength=n)
    income = np.maximum(income, committed / rng.uniform(*MAX_COMMITTED_SHARE, n))
    by_transfer = pensioner | (rng.random(n) < REGULAR_INCOME_SHARE)
    kind = np.where(pensioner, PENSION, np.where(by_transfer, SALARY, CASH_DEPOSIT))
    return np.round(income / 100).astype(np.int64) * 100, kind


def _in_trouble(ks: BankKeyspace, rng: np.random.Generator) -> np.ndarray:
    """Accounts whose owners spend more than they earn: a loan gone bad (B, D) or a habit of overspending."""
    trouble = rng.random(ks.accounts.account_id.size) < OVERSPENDING_SHARE
    trouble[ks.loans.account_id - 1] |= np.isin(ks.loans.status, ["B", "D"])
    return trouble


def _card_days(ks: BankKeyspace) -> np.ndarray:
    """Per account, the first day card withdrawals are possible (the day after issue; far away without a card)."""
    card_day = np.full(ks.accounts.account_id.size, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(card_day, ks.cards.account_id - 1, to_days(ks.cards.issued_at) + 1)
    return card_day


def _loan_trouble_after(ks: BankKeyspace, rng: np.random.Generator) -> np.ndarray:
    """Per loan, how many instalments are paid before trouble starts (all of them for A and C loans)."""
    loans = ks.loans
    bad = np.isin(loans.status, ["B", "D"])
    share = np.where(bad, rng.uniform(0.3, 0.85, loans.loan_id.size), 1.0)
    return np.ceil(loans.duration * share).astype(np.int64)


def build_profiles(ks: BankKeyspace, seed: int) -> Profiles:
    """Per-account income, habits and calibrated activity, deterministic from the key space and ``seed``."""
    rng = rng_for(seed, SOURCE, "profiles", ks.end_date.isoformat())
    n = ks.accounts.account_id.size
    income, income_kind = _monthly_income(ks, rng)
    trouble = _in_trouble(ks, rng)
    spend_ratio = np.clip(
        rng.normal(*SPEND_RATIO, n) + np.where(trouble, TROUBLED_EXTRA_SPENDING, 0), 0.7, 1.3
    )
    base = Profiles(
        open_day=to_days(ks.accounts.open_date),
        income_cents=income,
        income_kind=income_kind,
        income_dom=rng.integers(1, 29, n),
        income_bank=rng.integers(0, bank.BANK_CODES.size, n),
        income_account=rng.integers(0, 100_000_000, n),
        card_day=_card_days(ks),
        fee_cents=np.array([STATEMENT_FEE_CENTS[f] for f in ks.accounts.frequency], dtype=np.int64),
        opening_cents=rng.integers(1, 11, n) * 10_000,
        random_rate=np.zeros(n),
        credit_mean_cents=np.zeros(n),
        spending_cents=np.zeros(n),
        buffer_cents=np.round(income * rng.uniform(*BUFFER_MONTHS, n)).astype(np.int64),
        adaptation=np.where(trouble, TROUBLED_ADAPTATION, ADAPTATION),
        order_dom=rng.integers(1, 29, ks.orders.order_id.size),
        loan_trouble_after=_loan_trouble_after(ks, rng),
    )
    rate = _calibrated_rates(ks, base, ACTIVITY_FLOOR + rng.gamma(2.0, (1 - ACTIVITY_FLOOR) / 2, n))
    credit_mean, spending = _random_sizes(ks, base, rate, spend_ratio)
    return replace(base, random_rate=rate, credit_mean_cents=credit_mean, spending_cents=spending)


def _calibrated_rates(ks: BankKeyspace, prof: Profiles, weight: np.ndarray) -> np.ndarray:
    """Random events per day per account, so that the history has ROWS_PER_ACCOUNT rows per account."""
    end = day_number(ks.end_date)
    lo = int(prof.open_day.min())
    recurring = len(_scheduled_rows(ks, prof, lo, end, rng_for(0, SOURCE, "calibration")).acc)
    months_open = month_of(end) - month_of(prof.open_day)
    recurring += int(np.clip(months_open + 1, 0, None).sum())  # month-end interest, roughly one per month
    active_days = np.clip(end - prof.open_day, 0, None)
    in_history = int((prof.open_day <= end).sum())
    wanted = max(ROWS_PER_ACCOUNT * in_history - recurring, 0)
    wanted = max(wanted, MIN_RANDOM_PER_MONTH * active_days.sum() / DAYS_PER_MONTH)
    exposure = float((weight * active_days).sum())
    return weight * (wanted / exposure if exposure else MIN_RANDOM_PER_MONTH / DAYS_PER_MONTH)


def _random_sizes(
    ks: BankKeyspace, prof: Profiles, rate: np.ndarray, spend_ratio: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean random credit per account and usual monthly spending, so that a month's flows match the income,
    the standing orders and the owner's spending habit (``spend_ratio`` of the inflow)."""
    n = prof.open_day.size
    random_credits = EXTRA_CREDIT_SHARE * prof.income_cents
    inflow = prof.income_cents + random_credits
    committed = prof.fee_cents.astype(float)
    orders = ks.orders
    not_loan = orders.k_symbol != bank.ORDER_LOAN
    committed += np.bincount(orders.account_id[not_loan] - 1, orders.amount_cents[not_loan], minlength=n)
    loans = ks.loans
    committed += np.bincount(loans.account_id - 1, loans.payments_cents, minlength=n)
    spending = np.maximum(inflow * spend_ratio - committed, MIN_SPENDING_SHARE * inflow)
    events_per_month = np.maximum(rate * DAYS_PER_MONTH, 1e-9)
    return random_credits / (events_per_month * CREDIT_WEIGHT), spending


# --- occurrences ---------------------------------------------------------------------------------------------


def _monthly(first: np.ndarray, dom: np.ndarray | None, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """``(entity index, day)`` of monthly events on day-of-month ``dom`` (None: the month's last day), strictly
    after each entity's ``first`` day, within ``[lo, hi]``."""
    start = np.maximum(month_of(first), month_of(lo))
    counts = np.clip(month_of(hi) - start + 1, 0, None)
    index = np.repeat(np.arange(first.size), counts)
    months = start[index] + np.arange(index.size) - np.repeat(np.cumsum(counts) - counts, counts)
    day = month_end(months) if dom is None else bank.month_start(months) + dom[index] - 1
    keep = (day > first[index]) & (day >= lo) & (day <= hi)
    return index[keep], day[keep]


def _scheduled_rows(ks: BankKeyspace, prof: Profiles, lo: int, hi: int, rng: np.random.Generator) -> _Rows:
    """Opening deposits, salaries and pensions, standing orders, loan instalments and statement fees in [lo, hi]."""
    parts = []
    opened = np.flatnonzero((prof.open_day >= lo) & (prof.open_day <= hi))
    parts.append(_Rows.of(opened, prof.open_day[opened], OPENING, prof.opening_cents[opened]))

    acc, day = _monthly(prof.open_day, prof.income_dom, lo, hi)
    kind = prof.income_kind[acc]
    in_cash = kind == CASH_DEPOSIT
    amount = prof.income_cents[acc] * np.where(in_cash, rng.lognormal(0, CASH_PAY_SIGMA, acc.size), 1.0)
    amount = np.round(amount / 100).astype(np.int64) * 100
    transfer_bank = np.where(in_cash, -1, prof.income_bank[acc])
    parts.append(
        _Rows.of(acc, day, kind, amount, transfer_bank, np.where(in_cash, -1, prof.income_account[acc]))
    )

    orders = ks.orders
    plain = np.flatnonzero(orders.k_symbol != bank.ORDER_LOAN)
    order_acc = orders.account_id[plain] - 1
    first = np.maximum(to_days(orders.start_date[plain]), prof.open_day[order_acc])
    index, day = _monthly(first, prof.order_dom[plain], lo, hi)
    chosen = plain[index]
    kind = np.array([ORDER_KIND.get(k, OTHER_ORDER) for k in orders.k_symbol], dtype=np.int64)[chosen]
    parts.append(
        _Rows.of(
            order_acc[index],
            day,
            kind,
            orders.amount_cents[chosen],
            _order_banks(orders)[chosen],
            _order_partners(orders)[chosen],
        )
    )
    parts.append(_loan_rows(ks, prof, lo, hi, rng))

    index, day = _monthly(prof.open_day, None, lo, hi)
    parts.append(_Rows.of(index, day, FEE, prof.fee_cents[index]))
    return _Rows.concat(parts)


def _loan_rows(ks: BankKeyspace, prof: Profiles, lo: int, hi: int, rng: np.random.Generator) -> _Rows:
    """Monthly instalments from the month after the grant; B loans stop paying, D loans miss some payments."""
    loans, orders = ks.loans, ks.orders
    counts = loans.duration
    loan = np.repeat(np.arange(counts.size), counts)
    k = 1 + np.arange(loan.size) - np.repeat(np.cumsum(counts) - counts, counts)
    day = add_months(to_days(loans.granted_date)[loan], k)
    keep = (day >= lo) & (day <= hi)
    loan, k, day = loan[keep], k[keep], day[keep]
    trouble = k > prof.loan_trouble_after[loan]
    status = loans.status[loan]
    misses = ((status == "B") & trouble) | ((status == "D") & trouble & (rng.random(loan.size) < 0.35))
    loan, day = loan[~misses], day[~misses]
    # The instalment goes to the loan's standing order (UVER), one per loan account.
    is_loan_order = orders.k_symbol == bank.ORDER_LOAN
    order_of_account = np.full(prof.open_day.size, -1)
    order_of_account[orders.account_id[is_loan_order] - 1] = np.flatnonzero(is_loan_order)
    order = order_of_account[loans.account_id[loan] - 1]
    return _Rows.of(
        loans.account_id[loan] - 1,
        day,
        LOAN,
        loans.payments_cents[loan],
        _order_banks(orders)[order],
        _order_partners(orders)[order],
    )


def _order_banks(orders: bank.StandingOrders) -> np.ndarray:
    """Per standing order, its partner bank's index into bank.BANK_CODES (parsed once per order, not per row)."""
    return np.searchsorted(bank.BANK_CODES, orders.bank_to).astype(np.int8)


def _order_partners(orders: bank.StandingOrders) -> np.ndarray:
    """Per standing order, its partner account as a number (the text has 8 digits)."""
    return orders.account_to.astype(np.int32)


def _random_rows(prof: Profiles, lo: int, hi: int, balance: np.ndarray, rng: np.random.Generator) -> _Rows:
    """Withdrawals, card payments, deposits and one-off transfers in [lo, hi] (within one month): Poisson counts,
    log-normal sizes, rounded like real cash (withdrawals in hundreds). Spending adapts to ``balance``, the
    balance at ``lo``: owners above their buffer spend more, those below it hold back."""
    first = np.maximum(prof.open_day + 1, lo)
    length = np.clip(hi - first + 1, 0, None)
    counts = rng.poisson(prof.random_rate * length)
    acc = np.repeat(np.arange(counts.size), counts)
    day = first[acc] + np.floor(rng.random(acc.size) * length[acc]).astype(np.int64)
    pick = rng.choice(RANDOM_KINDS.size, acc.size, p=RANDOM_P)
    kind = RANDOM_KINDS[pick]
    no_card = (kind == CARD_WITHDRAWAL) & (day < prof.card_day[acc])
    kind = np.where(no_card, CASH_WITHDRAWAL, kind)
    inflow = prof.income_cents
    spending = np.clip(
        prof.spending_cents + prof.adaptation * (balance - prof.buffer_cents),
        MIN_SPENDING_SHARE * inflow,
        MAX_SPENDING_SHARE * inflow,
    )
    events_per_month = np.maximum(prof.random_rate * DAYS_PER_MONTH, 1e-9)
    debit_mean = spending / (events_per_month * DEBIT_WEIGHT)
    mean = np.where(SIGN[kind] > 0, prof.credit_mean_cents[acc], debit_mean[acc]) * RANDOM_SIZE[pick]
    size = mean * rng.lognormal(-(RANDOM_SIGMA**2) / 2, RANDOM_SIGMA, acc.size)
    rounding = RANDOM_ROUNDING_CENTS[pick]
    amount = np.maximum(np.round(size / rounding) * rounding, rounding).astype(np.int64)
    transfer = (kind == INCOMING) | (kind == OUTGOING)
    bank_index = np.where(transfer, rng.integers(0, bank.BANK_CODES.size, acc.size), -1)
    partner = np.where(transfer, rng.integers(0, 100_000_000, acc.size), -1)
    return _Rows.of(acc, day, kind, amount, bank_index, partner)


# --- balances -------------------------------------------------------------------------------------------------


def _month_end_interest(prof: Profiles, balance: np.ndarray, last: int) -> tuple[_Rows, np.ndarray]:
    """Interest credited on positive balances and sanction interest on negative ones on ``last`` (a month end),
    from ``balance``, each account's exact balance before them. Returns the rows and their signed amounts."""
    acc = np.flatnonzero(prof.open_day < last)
    before = balance[acc]
    interest = np.where(before > 0, before * INTEREST_BP // 10_000, 0)
    sanction = np.where(before < 0, np.maximum(-before * SANCTION_BP // 10_000, 1), 0)
    credited, charged = interest > 0, sanction > 0
    day = np.full(acc.size, last)
    rows = _Rows.concat(
        [
            _Rows.of(acc[credited], day[credited], INTEREST, interest[credited]),
            _Rows.of(acc[charged], day[charged], SANCTION, sanction[charged]),
        ]
    )
    change = np.zeros(balance.size, dtype=np.int64)
    change[acc] = interest - sanction
    return rows, change


SORT_BUCKET_BITS = 5
"""The final sort first buckets rows by spans of 2**5 = 32 days (a linear radix pass), then sorts each bucket."""


def _cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _on_every_core(work: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """``work`` over ``items`` on a thread per core (NumPy's sorts and gathers release the GIL)."""
    items = list(items)
    if len(items) < 2 or _cores() == 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=_cores()) as pool:
        return list(pool.map(work, items))


def _date_order(rows: _Rows, tiebreak: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The order of ``rows`` by day, account, rank within the day and tiebreak: the ``trans_id`` order.

    One int64 key (several times faster than a lexsort on four keys), sorted in 32-day buckets: a stable radix
    pass on the bucket number groups the rows, then each bucket's keys, small enough to stay in the CPU's cache,
    are sorted on every core. The keys are unique in practice (30 random tiebreak bits within an account's rank
    of a day), and any tie is broken the same way on every run, so the order is deterministic."""
    accounts = int(rows.acc.max()) + 1 if rows.acc.size else 1
    day_key = (rows.day.astype(np.int64) - lo) * accounts + rows.acc
    free_bits = 62 - int(hi - lo + 1).bit_length() - accounts.bit_length() - 3
    if free_bits < 8:  # a key space too large to pack: fall back to the lexsort
        return np.lexsort((tiebreak, RANK[rows.kind], rows.acc, rows.day))
    key = ((day_key << 3) | RANK[rows.kind]) << free_bits | (tiebreak & ((1 << free_bits) - 1))
    if (hi - lo) >> SORT_BUCKET_BITS >= 1 << 16:
        return np.argsort(key)
    bucket = ((rows.day - np.int32(lo)) >> SORT_BUCKET_BITS).astype(np.uint16)
    by_bucket = np.argsort(bucket, kind="stable")
    bucket_keys = np.take(key, by_bucket)
    bounds = np.r_[0, np.cumsum(np.bincount(bucket))]
    order = np.empty_like(by_bucket)

    def sort_bucket(i: int) -> None:
        start, stop = bounds[i], bounds[i + 1]
        order[start:stop] = by_bucket[start:stop][np.argsort(bucket_keys[start:stop])]

    _on_every_core(sort_bucket, range(bounds.size - 1))
    return order


def _finish(
    rows: _Rows, tiebreak: np.ndarray, carry: np.ndarray, first_id: int, lo: int, hi: int
) -> Transactions:
    """``trans_id`` in date order from ``first_id``, and running balances per account from ``carry``: a stable
    sort by account keeps each account's rows in date order, so one cumulative sum gives every balance."""
    by_date = _date_order(rows, tiebreak, lo, hi) if rows.acc.size else np.empty(0, dtype=np.int64)
    fields = list(_Rows.__dataclass_fields__)
    ordered = _Rows(*_on_every_core(lambda f: np.take(getattr(rows, f), by_date), fields))
    acc, signed = ordered.acc, ordered.signed
    accounts = int(acc.max()) + 1 if acc.size else 0
    narrow = acc.astype(np.uint16) if accounts <= 1 << 16 else acc
    by_account = np.argsort(narrow, kind="stable")
    counts = np.bincount(acc, minlength=accounts)
    acc_sorted = np.repeat(np.arange(accounts, dtype=np.int32), counts)
    cumulative = np.cumsum(np.take(signed, by_account))
    # Each account's balance: its carry plus the cumulative sum since its first row, i.e. the cumulative sum
    # shifted by one offset per account (the carry minus the cumulative sum before the account's rows).
    before_first = np.r_[0, cumulative][np.cumsum(counts) - counts]
    offset = carry[:accounts] - before_first
    balance = np.empty(acc.size, dtype=np.int64)
    balance[by_account] = cumulative + np.take(offset, acc_sorted)
    return Transactions(
        trans_id=np.arange(first_id, first_id + acc.size, dtype=np.int64),
        account_id=acc + np.int32(1),
        day=ordered.day,
        kind=ordered.kind,
        amount_cents=ordered.amount,
        balance_cents=balance,
        bank=ordered.bank,
        partner=ordered.partner,
    )


def generate_window(
    ks: BankKeyspace,
    prof: Profiles,
    lo: date,
    hi: date,
    carry_cents: np.ndarray,
    first_id: int,
    rng: np.random.Generator,
) -> Transactions:
    """Every transaction dated ``lo..hi`` (inclusive), balances continuing from ``carry_cents`` per account.

    Scheduled rows (salaries, orders, loans, fees) are drawn for the whole window at once; then one step per
    month, vectorized over the accounts, draws the month's spending from the balance at its start and books the
    month-end interest from the exact balance before it."""
    lo_day, hi_day = day_number(lo), day_number(hi)
    n = prof.open_day.size
    scheduled = _scheduled_rows(ks, prof, lo_day, hi_day, rng)
    by_month = np.argsort(scheduled.day, kind="stable")
    scheduled_month = month_of(scheduled.day[by_month])
    scheduled_acc, scheduled_signed = scheduled.acc[by_month], scheduled.signed[by_month]
    balance = carry_cents.astype(np.int64).copy()
    parts = [scheduled]
    for month in range(int(month_of(lo_day)), int(month_of(hi_day)) + 1):
        start, last = max(lo_day, int(bank.month_start(month))), min(hi_day, int(month_end(month)))
        spending = _random_rows(prof, start, last, balance, rng)
        parts.append(spending)
        begin, stop = np.searchsorted(scheduled_month, [month, month + 1])
        balance += np.bincount(scheduled_acc[begin:stop], scheduled_signed[begin:stop], minlength=n).astype(
            np.int64
        )
        balance += np.bincount(spending.acc, spending.signed, minlength=n).astype(np.int64)
        if last == int(month_end(month)):
            interest, change = _month_end_interest(prof, balance, last)
            parts.append(interest)
            balance += change
    rows = _Rows.concat(parts)
    tiebreak = rng.integers(0, 1 << 30, rows.acc.size)
    return _finish(rows, tiebreak, carry_cents, first_id, lo_day, hi_day)


def history_transactions(ks: BankKeyspace, seed: int, prof: Profiles | None = None) -> Transactions:
    """The whole history, from the first account's opening to ``ks.end_date``; ``trans_id`` from 1."""
    prof = prof or build_profiles(ks, seed)
    first = np.datetime64(int(prof.open_day.min()), "D").item()
    rng = rng_for(seed, SOURCE, "history", ks.end_date.isoformat())
    return generate_window(ks, prof, first, ks.end_date, np.zeros(prof.open_day.size, np.int64), 1, rng)


HISTORY_BATCH_ROWS = 25_000_000
"""A history expected to be larger than this is generated in windows of whole months of at most about this many
rows each (memory stays bounded at any scale: about 150 bytes per row at the peak); a smaller one in one piece."""


def history_windows(prof: Profiles, end: date, max_rows: int | None = None) -> list[tuple[date, date]]:
    """``(first, last)`` day of each window of the history: one window unless the expected rows exceed
    ``max_rows``; then cuts at month boundaries so that each window expects about the same number of rows (a
    month's rows grow with the accounts open in it)."""
    first_day, end_day = int(prof.open_day.min()), day_number(end)
    expected = ROWS_PER_ACCOUNT * int((prof.open_day <= end_day).sum())
    windows = -(-expected // (max_rows or HISTORY_BATCH_ROWS))
    if windows <= 1:
        return [(_date_of(first_day), end)]
    months = np.arange(int(month_of(first_day)), int(month_of(end_day)) + 1)
    open_accounts = np.searchsorted(np.sort(prof.open_day), month_end(months), side="right")
    cumulative = np.cumsum(open_accounts)
    targets = cumulative[-1] * np.arange(1, windows) / windows
    cuts = np.unique(np.searchsorted(cumulative, targets, side="left"))  # index of each window's last month
    cuts = cuts[cuts < months.size - 1]
    starts = [first_day, *(int(month_end(months[c])) + 1 for c in cuts)]
    lasts = [*(int(month_end(months[c])) for c in cuts), end_day]
    return [(_date_of(a), _date_of(b)) for a, b in zip(starts, lasts, strict=True)]


def _date_of(day: int) -> date:
    return np.datetime64(day, "D").item()


def history_batches(ks: BankKeyspace, seed: int, max_rows: int | None = None) -> Iterator[Transactions]:
    """The whole history in date order, window by window (:func:`history_windows`): ``trans_id`` and balances
    continue from one window to the next. In one window it is exactly :func:`history_transactions`; each later
    window draws from its own random stream."""
    prof = build_profiles(ks, seed)
    windows = history_windows(prof, ks.end_date, max_rows)
    if len(windows) == 1:
        yield history_transactions(ks, seed, prof)
        return
    carry, next_id = np.zeros(prof.open_day.size, np.int64), 1
    for first, last in windows:
        rng = rng_for(seed, SOURCE, "history", ks.end_date.isoformat(), first.isoformat())
        batch = generate_window(ks, prof, first, last, carry, next_id, rng)
        carry, next_id = last_balances(batch, carry), next_id + len(batch)
        yield batch


def day_transactions(
    ks: BankKeyspace, seed: int, prof: Profiles, day: date, carry_cents: np.ndarray, first_id: int
) -> Transactions:
    """The transactions of ``day`` alone (its own random stream), continuing balances from ``carry_cents``."""
    rng = rng_for(seed, SOURCE, "day", day.isoformat())
    return generate_window(ks, prof, day, day, carry_cents, first_id, rng)


def last_balances(batch: Transactions, carry_cents: np.ndarray) -> np.ndarray:
    """``carry_cents`` updated with each account's last balance in ``batch``."""
    result = carry_cents.copy()
    accounts, from_end = np.unique(batch.account_id[::-1], return_index=True)
    result[accounts - 1] = batch.balance_cents[len(batch) - 1 - from_end]  # each account's last row
    return result


# --- PostgreSQL -----------------------------------------------------------------------------------------------

DDL = f"""
create table if not exists {TABLE} (
    trans_id bigint not null constraint transactions_pkey primary key,
    account_id bigint not null,
    date date not null,
    type varchar(16) not null,
    operation varchar(32),
    amount numeric(12, 2) not null check (amount > 0),
    balance numeric(14, 2) not null,
    k_symbol varchar(40),
    bank char(2),
    account varchar(8)
);
comment on table {TABLE} is
    'Core banking transactions (PKDD''99-like). balance = previous balance of the account + amount for credits, '
    '- amount for debits and cash withdrawals, in trans_id order.';
comment on column {TABLE}.type is 'credit, debit or cash withdrawal (PKDD''99 PRIJEM, VYDAJ, VYBER)';
comment on column {TABLE}.operation is
    'credit card withdrawal, credit in cash, collection from another bank, withdrawal in cash, '
    'remittance to another bank, or null';
comment on column {TABLE}.amount is 'always positive; the direction is in type';
comment on column {TABLE}.balance is 'the account balance after the transaction; negative when overdrawn';
comment on column {TABLE}.k_symbol is
    'purpose: insurance payment, payment for statement, interest credited, sanction interest if negative balance, '
    'household, old-age pension, loan payment, or null';
comment on column {TABLE}.bank is 'partner bank (two letters) of a transfer';
comment on column {TABLE}.account is 'partner account of a transfer (text: leading zeros)';
create index if not exists transactions_account_id_trans_id_idx on {TABLE} (account_id, trans_id);
"""
LOCK_KEY = 360_360_360
"""Advisory lock that serialises loads (two Lambda runs never interleave trans_ids)."""


def create_schema(conn: Any) -> None:
    """Create ``public.transactions`` and its account index if missing (psycopg 3 connection; commits)."""
    with conn.transaction():
        conn.execute(DDL)


def _csv_chunks(table: pa.Table) -> Iterator[bytes]:
    """``table`` as CSV chunks without a header, written by pyarrow (nulls are unquoted empty fields, which
    PostgreSQL's CSV format reads as NULL; strings are quoted)."""
    options = pacsv.WriteOptions(include_header=False, batch_size=COPY_CHUNK_ROWS)
    for batch in table.to_batches(max_chunksize=COPY_CHUNK_ROWS):
        sink = io.BytesIO()
        pacsv.write_csv(batch, sink, options)
        yield sink.getvalue()


def _copy(conn: Any, table: pa.Table, freeze: bool = False) -> None:
    """Stream ``table`` into the database with one COPY, in CSV chunks."""
    with_freeze = ", freeze true" if freeze else ""
    statement = f"copy {TABLE} ({', '.join(COLUMNS)}) from stdin with (format csv{with_freeze})"
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for chunk in _csv_chunks(table):
            copy.write(chunk)


def load_table(conn: Any, table: pa.Table | Iterable[pa.Table]) -> None:
    """Replace the table's content with ``table`` (or a sequence of tables, loaded in turn) in one transaction:
    truncate, drop the indexes, COPY FREEZE, then build the primary key and the account index (building them once
    is faster than growing them)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(f"truncate {TABLE}")
        conn.execute(f"alter table {TABLE} drop constraint if exists transactions_pkey")
        conn.execute("drop index if exists public.transactions_account_id_trans_id_idx")
        for part in [table] if isinstance(table, pa.Table) else table:
            _copy(conn, part, freeze=True)
        conn.execute(f"alter table {TABLE} add constraint transactions_pkey primary key (trans_id)")
        conn.execute(f"create index transactions_account_id_trans_id_idx on {TABLE} (account_id, trans_id)")
    conn.execute(f"analyze {TABLE}")


@dataclass(frozen=True)
class HistoryLoad:
    """What :func:`timed_load_history` did: rows, seconds generating them in memory (NumPy -> Arrow) and seconds
    loading them (COPY, then the primary key and index)."""

    rows: int
    generate_seconds: float
    load_seconds: float


def load_history(settings: Settings, dsn: str) -> int:
    """Generate the history up to ``settings.end_date`` and load it, replacing what the table held. Returns the
    number of rows. Loading twice gives the same table (truncate and load)."""
    return timed_load_history(settings, dsn).rows


def timed_load_history(settings: Settings, dsn: str) -> HistoryLoad:
    """:func:`load_history`, with the time of each half (the benchmarks compare generation with dbgen). A large
    history is generated and copied window by window (:func:`history_batches`), so memory stays bounded."""
    import psycopg

    started = time.perf_counter()
    ks = bank.build_keyspace(settings.seed, settings.scale, settings.end_date)
    keyspace_seconds = time.perf_counter() - started
    windows: list[tuple[int, float]] = []  # rows and generation seconds of each window

    def tables() -> Iterator[pa.Table]:
        batches = history_batches(ks, settings.seed)
        while True:
            started = time.perf_counter()
            batch = next(batches, None)
            if batch is None:
                return
            table = batch.to_table()
            windows.append((table.num_rows, time.perf_counter() - started))
            yield table

    loading = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        create_schema(conn)
        load_table(conn, tables())
    generate_seconds = sum(seconds for _, seconds in windows)
    result = HistoryLoad(
        rows=sum(rows for rows, _ in windows),
        generate_seconds=keyspace_seconds + generate_seconds,
        load_seconds=time.perf_counter() - loading - generate_seconds,
    )
    log.info(
        "transactions history: %d rows, generated in %.2fs, loaded in %.2fs",
        result.rows,
        result.generate_seconds,
        result.load_seconds,
    )
    return result


def _stored_state(conn: Any, accounts: int) -> tuple[int, date | None, np.ndarray]:
    """The last trans_id, the last date and every account's last balance (cents) held by the table."""
    last_id, last_date = conn.execute(f"select coalesce(max(trans_id), 0), max(date) from {TABLE}").fetchone()
    carry = np.zeros(accounts, dtype=np.int64)
    rows = conn.execute(
        f"select distinct on (account_id) account_id, (balance * 100)::bigint from {TABLE} "
        "order by account_id, trans_id desc"
    ).fetchall()
    if rows:
        ids, cents = np.array(rows, dtype=np.int64).T
        known = ids <= accounts
        carry[ids[known] - 1] = cents[known]
    return int(last_id), last_date, carry


def load_day(settings: Settings, dsn: str, day: date) -> int:
    """Append the transactions of the days after the last loaded one, up to ``day`` (just ``day`` on an empty
    table); ``trans_id`` continues and balances continue from each account's stored last balance. Returns the
    rows added: 0 when ``day`` is already loaded."""
    import psycopg

    ks = bank.build_keyspace(settings.seed, settings.scale, settings.end_date)
    prof = build_profiles(ks, settings.seed)
    with psycopg.connect(dsn) as conn:
        create_schema(conn)
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            last_id, last_date, carry = _stored_state(conn, prof.open_day.size)
            if last_date is not None and last_date >= day:
                return 0
            current = day if last_date is None else last_date + timedelta(days=1)
            added = 0
            while current <= day:
                batch = day_transactions(ks, settings.seed, prof, current, carry, last_id + 1)
                _copy(conn, batch.to_table())
                carry = last_balances(batch, carry)
                last_id += len(batch)
                added += len(batch)
                current += timedelta(days=1)
    return added


def c360view_ingestion_postgresql(event: dict, context: object) -> dict:
    """The transactions writer Lambda: on an EventBridge schedule, load the history into an empty database,
    then append the transactions up to the event's day. ``C360_PG_DSN`` is the database's connection string,
    completed with the credentials of the secret ``C360_PG_SECRET_ARN`` when set."""
    import psycopg

    from c360.services.source_db import configured_dsn

    dsn = configured_dsn()
    if not dsn:
        raise RuntimeError(
            "C360_PG_DSN is not set: give the sourcemf database's connection string (libpq DSN)"
        )
    settings = Settings()
    day = event_day(event)
    with psycopg.connect(dsn) as conn:
        create_schema(conn)
        empty = conn.execute(f"select not exists (select 1 from {TABLE})").fetchone()[0]
    history_rows = load_history(settings, dsn) if empty else 0
    rows = load_day(settings, dsn, day)
    return {"source": SOURCE, "day": day.isoformat(), "history_rows": history_rows, "rows": rows}
