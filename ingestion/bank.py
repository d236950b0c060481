"""The bank's core key space: districts, accounts, dispositions, cards, loans and standing orders.

Everything here is a pure function of ``(seed, scale, end_date)``: the mainframe extracts
(:mod:`ingestion.mainframe`) and the transactions database (:mod:`ingestion.transactions`) are both drawn from it,
so their keys join. Clients come from the CRM key space (:func:`ingestion.crm.build_population`); an account opens
after its owner became a client. The history holds ``account_count(scale)`` accounts opened by ``end_date``, and
nothing of theirs (cards, loans, orders, disponents) is dated later. Like the CRM, the key space goes on after
``end_date`` up to a horizon (``crm.FUTURE_DAYS``): clients who join later open accounts, which feed the daily
increments of the days after the end date.

Shapes and shares follow the public PKDD'99 "Berka" bank data (4,500 accounts, 77 districts; monthly statements
for 93% of accounts; one OWNER per account and a DISPONENT on 869 of 4,500; cards on OWNER dispositions only,
74% classic, 16% junior, 10% gold; a loan on 15% of accounts, status A/B/C/D 30/5/59/7%). Codes are the core
system's own Czech PKDD'99 codes (``POPLATEK MESICNE``, ``SIPO`` ...); the stage layer translates them.
Money is held in integer cents (``*_cents``), so nothing is ever rounded twice.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
from faker import Faker

from ingestion import crm
from ingestion.common import rng_for

SOURCE = "bank"
ACCOUNTS_PER_SCALE = 4500
NEW_CLIENT_OPENING_DAYS = 30.0
"""After ``end_date``, a new client opens an account this many days after joining, on average."""

REGIONS = (
    ("Prague", 1),
    ("central Bohemia", 12),
    ("south Bohemia", 8),
    ("west Bohemia", 10),
    ("north Bohemia", 10),
    ("east Bohemia", 11),
    ("south Moravia", 14),
    ("north Moravia", 11),
)
"""Region names and district counts, as in PKDD'99 (77 districts; district 1 is the capital)."""
DISTRICT_COUNT = sum(count for _, count in REGIONS)
CITY_DISTRICTS = 3
"""Besides the capital, this many districts are a single city (100% urban), like Brno, Plzen and Ostrava."""

FREQ_MONTHLY = "POPLATEK MESICNE"
FREQ_WEEKLY = "POPLATEK TYDNE"
FREQ_AFTER_TRANSACTION = "POPLATEK PO OBRATU"
FREQUENCIES = (FREQ_MONTHLY, FREQ_WEEKLY, FREQ_AFTER_TRANSACTION)
FREQUENCY_P = (4167 / 4500, 240 / 4500, 93 / 4500)

OWNER = "OWNER"
DISPONENT = "DISPONENT"
DISPONENT_SHARE = 869 / 4500
"""Share of accounts that also have a DISPONENT: 16% of all dispositions, as in PKDD'99."""

CARD_SHARE = 892 / 4500
CARD_TYPES = ("classic", "junior", "gold")
CARD_TYPE_P = (659 / 892, 145 / 892, 88 / 892)

LOAN_SHARE = 682 / 4500
LOAN_STATUSES = ("A", "B", "C", "D")
"""A finished and paid, B finished and not paid, C running and paid so far, D running with the client in debt."""
LOAN_STATUS_P = (203 / 682, 31 / 682, 403 / 682, 45 / 682)
LOAN_DURATIONS = np.array([12, 24, 36, 48, 60])
LOAN_MIN_ACCOUNT_AGE_DAYS = 30
"""Loans are granted only to accounts open for at least this long."""

ORDER_LOAN = "UVER"
ORDER_K_SYMBOLS = ("SIPO", "", "POJISTNE", "LEASING")
"""Purposes of the standing orders other than loan instalments ('' is a blank purpose, as in PKDD'99)."""
ORDER_K_SYMBOL_P = (3502 / 5754, 1379 / 5754, 532 / 5754, 341 / 5754)
ORDER_MEDIAN_CENTS = {"SIPO": 300_000, "": 150_000, "POJISTNE": 60_000, "LEASING": 300_000}
ORDERS_PER_ACCOUNT = (6471 - 717) / 4500
"""Standing orders per account besides loan instalments (PKDD'99: 6,471 orders, 717 of them for loans)."""

BANK_CODES = np.array(["AB", "CD", "EF", "GH", "IJ", "KL", "MN", "OP", "QR", "ST", "UV", "WX", "YZ"])
"""Two-letter codes of the partner banks."""


# --- calendar helpers (vectorized, on datetime64[D]) ------------------------------------------------------


def to_days(values: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (int64) of datetime64 values."""
    return values.astype("datetime64[D]").astype(np.int64)


def _through_table(values: np.ndarray | int, convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``convert(values)`` for integer ``values``, through a lookup table of their range when the array is much
    longer than that range (NumPy's calendar conversions cost far more per element than a gather)."""
    values = np.asarray(values)
    if values.size < 4096:
        return convert(values)
    low, high = int(values.min()), int(values.max())
    if high - low + 1 > values.size // 4:
        return convert(values)
    return convert(np.arange(low, high + 1, dtype=np.int64))[values - low]


def _month_of(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start(months: np.ndarray) -> np.ndarray:
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def month_of(days: np.ndarray | int) -> np.ndarray:
    """Months since 1970-01 (int64) of day numbers."""
    return _through_table(days, _month_of)


def month_start(months: np.ndarray | int) -> np.ndarray:
    """The day number of the first day of each month number."""
    return _through_table(months, _month_start)


def month_end(months: np.ndarray | int) -> np.ndarray:
    """The day number of the last day of each month number."""
    return month_start(np.asarray(months) + 1) - 1


def add_months(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """``days`` moved by ``months`` calendar months, the day of month clipped to the target month's length."""
    days = np.asarray(days, dtype=np.int64)
    month = month_of(days)
    day_of_month = days - month_start(month)
    target = month + np.asarray(months, dtype=np.int64)
    return month_start(target) + np.minimum(day_of_month, month_end(target) - month_start(target))


def yyyymmdd(days: np.ndarray | int) -> np.ndarray:
    """Day numbers as ``YYYYMMDD`` integers, the mainframe's date form."""
    d = np.asarray(days).astype("datetime64[D]")
    years = d.astype("datetime64[Y]")
    months = d.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year * 10000 + month * 100 + day


def day_number(value: date) -> int:
    """Days since 1970-01-01 of a date (the integer form every vectorized date here uses)."""
    return int(np.datetime64(value.isoformat(), "D").astype(np.int64))


def _uniform_day(
    rng: np.random.Generator, low: np.ndarray, high: np.ndarray, power: float = 1.0
) -> np.ndarray:
    """A day in ``[low, high]`` per element; ``power`` > 1 leans towards ``low``."""
    span = np.asarray(high, dtype=np.int64) - np.asarray(low, dtype=np.int64) + 1
    return low + np.minimum(np.floor(rng.random(span.shape) ** power * span).astype(np.int64), span - 1)


def _money(rng: np.random.Generator, median_cents: np.ndarray | float, sigma: float, size: int) -> np.ndarray:
    """Log-normal amounts in cents around ``median_cents``."""
    return np.round(np.asarray(median_cents) * rng.lognormal(0.0, sigma, size)).astype(np.int64)


def decimal_from_cents(cents: np.ndarray, precision: int = 14) -> pa.Array:
    """Integer cents as an exact ``decimal128(precision, 2)`` Arrow array (no float on the way)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # two's complement sign extension to 128 bits
    return pa.Array.from_buffers(pa.decimal128(precision, 2), cents.size, [None, pa.py_buffer(words)])


# --- the entities -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Districts:
    """The 77 districts the branches are in, with PKDD'99-like demographics (one value per district)."""

    district_id: np.ndarray  # int64, 1..77
    name: np.ndarray  # str, ASCII
    region: np.ndarray  # str
    inhabitants: np.ndarray  # int64
    urban_ratio: np.ndarray  # float64, percent, one decimal
    average_salary: np.ndarray  # int64, monthly
    unemployment_95: np.ndarray  # float64, percent, two decimals; NaN where not reported
    unemployment_96: np.ndarray  # float64
    entrepreneurs_per_1000: np.ndarray  # int64
    crimes_95: np.ndarray  # float64 holding whole numbers; NaN where not reported
    crimes_96: np.ndarray  # int64

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "district_id": self.district_id,
                "name": self.name,
                "region": self.region,
                "inhabitants": self.inhabitants,
                "urban_ratio": self.urban_ratio,
                "average_salary": self.average_salary,
                "unemployment_95": pa.array(self.unemployment_95, from_pandas=True),
                "unemployment_96": self.unemployment_96,
                "entrepreneurs_per_1000": self.entrepreneurs_per_1000,
                "crimes_95": pa.array(self.crimes_95, from_pandas=True).cast(pa.int64()),
                "crimes_96": self.crimes_96,
            }
        )


@dataclass(frozen=True)
class Accounts:
    """Bank accounts, ``account_id`` 1..n in opening order."""

    account_id: np.ndarray  # int64
    district_id: np.ndarray  # int64: the branch's district
    frequency: np.ndarray  # str: FREQUENCIES
    open_date: np.ndarray  # datetime64[D]
    owner_client_id: np.ndarray  # int64: the OWNER's CRM client_id

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "account_id": self.account_id,
                "district_id": self.district_id,
                "frequency": self.frequency,
                "open_date": self.open_date,
                "owner_client_id": self.owner_client_id,
            }
        )


@dataclass(frozen=True)
class Dispositions:
    """Who may operate which account: one OWNER per account, sometimes one DISPONENT too."""

    disp_id: np.ndarray  # int64, 1..n in creation order
    client_id: np.ndarray  # int64
    account_id: np.ndarray  # int64
    type: np.ndarray  # str: OWNER / DISPONENT
    valid_from: np.ndarray  # datetime64[D]

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "disp_id": self.disp_id,
                "client_id": self.client_id,
                "account_id": self.account_id,
                "type": self.type,
                "valid_from": self.valid_from,
            }
        )


@dataclass(frozen=True)
class Cards:
    """Payment cards, each issued to an OWNER disposition after the account opened."""

    card_id: np.ndarray  # int64, 1..n in issuing order
    disp_id: np.ndarray  # int64
    account_id: np.ndarray  # int64 (a convenience: the disposition's account)
    type: np.ndarray  # str: CARD_TYPES
    issued_at: np.ndarray  # datetime64[s], UTC

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "card_id": self.card_id,
                "disp_id": self.disp_id,
                "account_id": self.account_id,
                "type": self.type,
                "issued_at": self.issued_at,
            }
        )


@dataclass(frozen=True)
class Loans:
    """Loans, at most one per account; ``amount_cents == duration * payments_cents``."""

    loan_id: np.ndarray  # int64, 1..n in granting order
    account_id: np.ndarray  # int64
    granted_date: np.ndarray  # datetime64[D]
    amount_cents: np.ndarray  # int64
    duration: np.ndarray  # int64 months: LOAN_DURATIONS
    payments_cents: np.ndarray  # int64, the monthly instalment
    status: np.ndarray  # str: LOAN_STATUSES, as of end_date

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "loan_id": self.loan_id,
                "account_id": self.account_id,
                "granted_date": self.granted_date,
                "amount": decimal_from_cents(self.amount_cents),
                "duration": self.duration,
                "payments": decimal_from_cents(self.payments_cents),
                "status": self.status,
            }
        )


@dataclass(frozen=True)
class StandingOrders:
    """Monthly payment orders to other banks; every loan has one (``k_symbol`` UVER) for its instalment."""

    order_id: np.ndarray  # int64, 1..n in creation order
    account_id: np.ndarray  # int64
    bank_to: np.ndarray  # str: BANK_CODES
    account_to: np.ndarray  # str: 8 digits, leading zeros kept
    amount_cents: np.ndarray  # int64
    k_symbol: np.ndarray  # str: SIPO, POJISTNE, LEASING, UVER or '' (blank)
    start_date: np.ndarray  # datetime64[D]: created; pays from the following day-of-month on

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "order_id": self.order_id,
                "account_id": self.account_id,
                "bank_to": self.bank_to,
                "account_to": self.account_to,
                "amount": decimal_from_cents(self.amount_cents),
                "k_symbol": self.k_symbol,
                "start_date": self.start_date,
            }
        )


@dataclass(frozen=True)
class BankKeyspace:
    """The whole core-banking key space as of ``end_date``."""

    end_date: date
    horizon_date: date
    """The last day anything exists: accounts keep opening after ``end_date`` up to here (daily increments)."""
    population: crm.Population
    """The CRM clients the accounts belong to (owners' income band and age shape their transactions)."""
    districts: Districts
    accounts: Accounts
    dispositions: Dispositions
    cards: Cards
    loans: Loans
    orders: StandingOrders


# --- generation ------------------------------------------------------------------------------------------


def account_count(scale: float) -> int:
    """Accounts at ``scale``: 4,500 per scale unit (fewer than the 5,000 CRM clients, as in PKDD'99)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return max(1, round(ACCOUNTS_PER_SCALE * scale))


def _ascii(text: str) -> str:
    """``text`` without diacritics: the mainframe's code page has none (PKDD'99 writes 'Benesov')."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _district_names(seed: int, rng: np.random.Generator) -> np.ndarray:
    """77 distinct Czech town names (Faker, seeded), ASCII-folded, in a random order."""
    fake = Faker("cs_CZ")
    fake.seed_instance(seed)
    names: set[str] = set()
    for _ in range(5000):
        name = _ascii(fake.city())
        if len(name) <= 30:
            names.add(name)
        if len(names) >= 4 * DISTRICT_COUNT:
            break
    pool = np.array(sorted(names))
    return pool[rng.choice(len(pool), DISTRICT_COUNT, replace=False)]


def build_districts(seed: int) -> Districts:
    """PKDD'99-like district demographics: the same 77 districts at every scale."""
    rng = rng_for(seed, SOURCE, "districts")
    n = DISTRICT_COUNT
    region = np.repeat([name for name, _ in REGIONS], [count for _, count in REGIONS])
    inhabitants = np.clip(rng.lognormal(np.log(105_000), 0.33, n), 42_000, 290_000)
    urban = np.clip(rng.normal(60, 13, n), 33, 90)
    cities = 1 + rng.choice(n - 1, CITY_DISTRICTS, replace=False)
    inhabitants[cities] = rng.uniform(170_000, 390_000, CITY_DISTRICTS)
    urban[cities] = 100.0
    inhabitants[0], urban[0] = rng.uniform(1_150_000, 1_250_000), 100.0
    salary = 8_000 + 38 * (urban - 33) + rng.normal(0, 350, n)
    salary[0] = rng.uniform(12_000, 12_800)
    unemployment_95 = np.clip(rng.lognormal(np.log(2.9), 0.5, n), 0.2, 7.5)
    unemployment_95[0] = rng.uniform(0.2, 0.4)
    unemployment_96 = np.clip(unemployment_95 * rng.uniform(1.0, 1.35, n), 0.3, 9.9)
    entrepreneurs = np.clip(rng.normal(116, 15, n), 80, 160)
    entrepreneurs[0] = rng.uniform(160, 175)
    crime_rate = rng.lognormal(np.log(22), 0.25, n) * (0.5 + urban / 100)
    crimes_95 = np.round(inhabitants / 1000 * crime_rate)
    crimes_96 = np.round(crimes_95 * rng.uniform(0.9, 1.12, n))
    unreported = 1 + rng.choice(np.setdiff1d(np.arange(n - 1), cities - 1))
    unemployment_95 = np.round(unemployment_95, 2)
    unemployment_95[unreported] = np.nan  # PKDD'99 district 69 reports neither for 1995
    crimes_95[unreported] = np.nan
    return Districts(
        district_id=np.arange(1, n + 1, dtype=np.int64),
        name=_district_names(seed, rng),
        region=region,
        inhabitants=np.round(inhabitants).astype(np.int64),
        urban_ratio=np.round(urban, 1),
        average_salary=np.round(salary).astype(np.int64),
        unemployment_95=unemployment_95,
        unemployment_96=np.round(unemployment_96, 2),
        entrepreneurs_per_1000=np.round(entrepreneurs).astype(np.int64),
        crimes_95=crimes_95,
        crimes_96=crimes_96.astype(np.int64),
    )


def _cap(accounts: Accounts, end_date: date, horizon: date) -> np.ndarray:
    """Per account, the last day its cards, loans, orders and disponents may be dated: ``end_date`` for the
    accounts of the history (so the history never sees a later date), the horizon for accounts opened after it."""
    end = day_number(end_date)
    return np.where(to_days(accounts.open_date) <= end, end, day_number(horizon))


def build_accounts(
    seed: int, scale: float, end_date: date, population: crm.Population, districts: Districts
) -> Accounts:
    """Accounts owned by distinct CRM clients, each opened after its owner became a client.

    ``account_count(scale)`` accounts open by ``end_date`` (owned by clients of the history); after it, clients who
    join keep opening accounts at the same share, up to the population's horizon, for the daily increments.
    """
    rng = rng_for(seed, SOURCE, "accounts")
    n = account_count(scale)
    at_end = population.clients_at_end
    owners = population.client_id[rng.choice(at_end, min(n, at_end), replace=False)]
    became_client = to_days(population.created_at[owners - 1])
    end = day_number(end_date)
    # Open the day after becoming a client at the earliest; most open within the first years.
    opened = _uniform_day(rng, became_client + 1, np.full(owners.size, end), power=1.5)
    newcomers = population.client_id[at_end:]
    joins = newcomers[rng.random(newcomers.size) < ACCOUNTS_PER_SCALE / crm.CLIENTS_PER_SCALE]
    joined = to_days(population.created_at[joins - 1]) + 1
    late = joined + np.floor(rng.exponential(NEW_CLIENT_OPENING_DAYS, joins.size)).astype(np.int64)
    keep = late <= day_number(_horizon(end_date))
    owners = np.concatenate([owners, joins[keep]])
    opened = np.concatenate([opened, late[keep]])
    weights = districts.inhabitants / districts.inhabitants.sum()
    district = districts.district_id[rng.choice(DISTRICT_COUNT, owners.size, p=weights)]
    frequency = np.array(FREQUENCIES)[rng.choice(len(FREQUENCIES), owners.size, p=FREQUENCY_P)]
    order = np.lexsort((owners, opened))
    return Accounts(
        account_id=np.arange(1, owners.size + 1, dtype=np.int64),
        district_id=district[order],
        frequency=frequency[order],
        open_date=opened[order].astype("datetime64[D]"),
        owner_client_id=owners[order],
    )


def _horizon(end_date: date) -> date:
    return end_date + timedelta(days=crm.FUTURE_DAYS)


def build_dispositions(
    seed: int, end_date: date, population: crm.Population, accounts: Accounts
) -> Dispositions:
    """One OWNER per account; a DISPONENT (another client, already a client by then) on some accounts."""
    rng = rng_for(seed, SOURCE, "dispositions")
    opened = to_days(accounts.open_date)
    cap = _cap(accounts, end_date, _horizon(end_date))
    # A disponent of a history account is a client of the history; later accounts may pick any client.
    pool = np.where(opened <= day_number(end_date), population.clients_at_end, population.client_id.size)
    has_disponent = (rng.random(opened.size) < DISPONENT_SHARE) & (pool > 1)
    accounts_with = np.flatnonzero(has_disponent)
    owner_index = accounts.owner_client_id[accounts_with] - 1
    other = np.floor(rng.random(accounts_with.size) * (pool[accounts_with] - 1)).astype(np.int64)
    disponent = population.client_id[other + (other >= owner_index)]
    earliest = np.maximum(opened[accounts_with], to_days(population.created_at[disponent - 1]) + 1)
    at_opening = rng.random(accounts_with.size) < 0.7
    later = _uniform_day(rng, earliest, np.maximum(cap[accounts_with], earliest), power=2.0)
    since = np.where(at_opening, earliest, later)
    client = np.concatenate([accounts.owner_client_id, disponent])
    account = np.concatenate([accounts.account_id, accounts.account_id[accounts_with]])
    kind = np.concatenate([np.full(opened.size, OWNER), np.full(accounts_with.size, DISPONENT)])
    valid_from = np.concatenate([opened, since])
    order = np.lexsort((kind != OWNER, account, valid_from))
    return Dispositions(
        disp_id=np.arange(1, order.size + 1, dtype=np.int64),
        client_id=client[order],
        account_id=account[order],
        type=kind[order],
        valid_from=valid_from[order].astype("datetime64[D]"),
    )


def build_cards(seed: int, end_date: date, accounts: Accounts, dispositions: Dispositions) -> Cards:
    """Cards on some OWNER dispositions, issued a day or more after the account opened."""
    rng = rng_for(seed, SOURCE, "cards")
    cap = _cap(accounts, end_date, _horizon(end_date))
    opened = to_days(accounts.open_date)
    holders = np.flatnonzero((rng.random(opened.size) < CARD_SHARE) & (opened < cap))
    owner_disp = np.zeros(opened.size, dtype=np.int64)
    is_owner = dispositions.type == OWNER
    owner_disp[dispositions.account_id[is_owner] - 1] = dispositions.disp_id[is_owner]
    issued_day = _uniform_day(rng, opened[holders] + 1, cap[holders], power=1.5)
    seconds = rng.integers(8 * 3600, 19 * 3600, holders.size)  # branch opening hours
    issued = issued_day.astype("datetime64[D]").astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    kind = np.array(CARD_TYPES)[rng.choice(len(CARD_TYPES), holders.size, p=CARD_TYPE_P)]
    order = np.lexsort((holders, issued))
    return Cards(
        card_id=np.arange(1, holders.size + 1, dtype=np.int64),
        disp_id=owner_disp[holders][order],
        account_id=accounts.account_id[holders][order],
        type=kind[order],
        issued_at=issued[order],
    )


def _loan_statuses(rng: np.random.Generator, can_finish: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Status indexes with PKDD'99 shares among the loans of the history; finished ones (A, B) go to loans whose
    account is old enough to have finished one. Loans granted after ``end_date`` (``later``) are running."""
    status = np.full(can_finish.size, -1)
    running_p = np.array(LOAN_STATUS_P[2:]) / sum(LOAN_STATUS_P[2:])
    status[later] = 2 + rng.choice(2, int(later.sum()), p=running_p)
    history = np.flatnonzero(~later)
    drawn = rng.choice(len(LOAN_STATUSES), history.size, p=LOAN_STATUS_P)
    finished = np.sort(drawn[drawn <= 1])
    running = drawn[drawn >= 2]
    eligible = history[rng.permutation(np.flatnonzero(can_finish[history]))]
    take = min(finished.size, eligible.size)
    status[eligible[:take]] = finished[:take]
    rest = np.flatnonzero(status < 0)
    fill = np.concatenate([running, np.full(max(rest.size - running.size, 0), 2)])[: rest.size]
    status[rest] = rng.permutation(fill)
    return status


def build_loans(seed: int, end_date: date, accounts: Accounts) -> Loans:
    """At most one loan per account; as of ``end_date``, finished loans (A, B) ended by then, running ones
    (C, D) did not. Loans granted after ``end_date`` (accounts of the daily increments) are running."""
    rng = rng_for(seed, SOURCE, "loans")
    end = day_number(end_date)
    cap = _cap(accounts, end_date, _horizon(end_date))
    opened = to_days(accounts.open_date)
    old_enough = opened + LOAN_MIN_ACCOUNT_AGE_DAYS <= cap
    borrowers = np.flatnonzero((rng.random(opened.size) < LOAN_SHARE) & old_enough)
    first_grant = opened[borrowers] + LOAN_MIN_ACCOUNT_AGE_DAYS
    # A loan has finished by end_date when grant + duration months <= end_date.
    latest_finishing = np.stack([add_months(np.full(borrowers.size, end), -d) for d in LOAN_DURATIONS])
    feasible = latest_finishing >= first_grant  # (durations, loans); the shortest durations first
    status = _loan_statuses(rng, feasible[0], later=first_grant > end)
    finished = status <= 1
    n_feasible = feasible.sum(axis=0)
    pick = np.minimum(np.floor(rng.random(borrowers.size) * np.maximum(n_feasible, 1)), 4).astype(np.int64)
    duration_index = np.where(finished, pick, rng.integers(0, LOAN_DURATIONS.size, borrowers.size))
    duration = LOAN_DURATIONS[duration_index]
    last_finishing = latest_finishing[duration_index, np.arange(borrowers.size)]
    running_from = np.maximum(first_grant, last_finishing + 1)
    granted = np.where(
        finished,
        _uniform_day(rng, first_grant, np.maximum(last_finishing, first_grant)),
        _uniform_day(rng, running_from, np.maximum(cap[borrowers], running_from)),
    )
    for _ in range(3):  # month-end clipping (a 29 February grant) can make a "running" loan end on end_date
        granted += ~finished & (add_months(granted, duration) <= end)
    payments = np.clip(_money(rng, 400_000, 0.55, borrowers.size), 30_000, 990_000) // 100 * 100
    order = np.lexsort((borrowers, granted))
    return Loans(
        loan_id=np.arange(1, borrowers.size + 1, dtype=np.int64),
        account_id=accounts.account_id[borrowers][order],
        granted_date=granted[order].astype("datetime64[D]"),
        amount_cents=(payments * duration)[order],
        duration=duration[order].astype(np.int64),
        payments_cents=payments[order],
        status=np.array(LOAN_STATUSES)[status][order],
    )


def _partner_accounts(rng: np.random.Generator, size: int) -> np.ndarray:
    """Random 8-digit account numbers at other banks, as text (leading zeros are part of the number)."""
    return np.char.zfill(rng.integers(0, 100_000_000, size).astype(str), 8)


def build_orders(seed: int, end_date: date, accounts: Accounts, loans: Loans) -> StandingOrders:
    """A loan-instalment order per loan plus household, insurance, leasing and unspecified orders."""
    rng = rng_for(seed, SOURCE, "orders")
    cap = _cap(accounts, end_date, _horizon(end_date))
    opened = to_days(accounts.open_date)
    per_account = np.minimum(rng.poisson(ORDERS_PER_ACCOUNT, opened.size), 5)
    owner = np.repeat(np.arange(opened.size), per_account)
    kind_index = rng.choice(len(ORDER_K_SYMBOLS), owner.size, p=ORDER_K_SYMBOL_P)
    kind = np.array(ORDER_K_SYMBOLS)[kind_index]
    median = np.array([ORDER_MEDIAN_CENTS[k] for k in ORDER_K_SYMBOLS])[kind_index]
    amount = np.maximum(_money(rng, median, 0.6, owner.size) // 10 * 10, 1000)
    start = _uniform_day(rng, opened[owner], np.minimum(opened[owner] + 90, cap[owner]), power=2.0)
    loan_account = loans.account_id - 1
    account_index = np.concatenate([owner, loan_account])
    k_symbol = np.concatenate([kind, np.full(loan_account.size, ORDER_LOAN)])
    amounts = np.concatenate([amount, loans.payments_cents])
    starts = np.concatenate([start, to_days(loans.granted_date)])
    bank_to = BANK_CODES[rng.integers(0, BANK_CODES.size, account_index.size)]
    account_to = _partner_accounts(rng, account_index.size)
    order = np.lexsort((k_symbol, account_index, starts))
    return StandingOrders(
        order_id=np.arange(1, order.size + 1, dtype=np.int64),
        account_id=accounts.account_id[account_index][order],
        bank_to=bank_to[order],
        account_to=account_to[order],
        amount_cents=amounts[order],
        k_symbol=k_symbol[order],
        start_date=starts[order].astype("datetime64[D]"),
    )


def build_keyspace(seed: int, scale: float, end_date: date) -> BankKeyspace:
    """The bank's key space: the history up to ``end_date`` and the accounts opened after it, up to the CRM
    population's horizon (for daily increments). A pure function of its three inputs."""
    population = crm.build_population(seed, scale, end_date)
    districts = build_districts(seed)
    accounts = build_accounts(seed, scale, end_date, population, districts)
    dispositions = build_dispositions(seed, end_date, population, accounts)
    loans = build_loans(seed, end_date, accounts)
    return BankKeyspace(
        end_date=end_date,
        horizon_date=_horizon(end_date),
        population=population,
        districts=districts,
        accounts=accounts,
        dispositions=dispositions,
        cards=build_cards(seed, end_date, accounts, dispositions),
        loans=loans,
        orders=build_orders(seed, end_date, accounts, loans),
    )
