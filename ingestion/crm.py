"""CRM customers (the design's c360viewCRMApi / c360viewGetCRMApi): strict JSON Lines in ``raw/crm/``.

The CRM holds one record per client with demographic attributes and PII. Customers change over time: some move,
marry or change income band; each extract carries the state as of its own time. The first extract is a full
snapshot; later extracts carry only the customers created or changed since the previous one, as an
``updated_since`` pull of the CRM API would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from faker import Faker

from c360.settings import Settings
from c360.storage import Lake
from ingestion.common import batch_stamp, event_day, rng_for, start_of_day

SOURCE = "crm"
CLIENTS_PER_SCALE = 5000
HISTORY_START = date(2015, 1, 1)
FULL_EXTRACT_LAG_DAYS = 30
"""The full snapshot is taken this many days before the end date; the end date's extract is incremental."""

GENDERS = np.array(["F", "M"])
HOME_OWNERSHIP = np.array(["O", "R", "U"])  # own, rent, unknown
HOME_OWNERSHIP_P = [0.55, 0.35, 0.10]
MARITAL_STATUS = np.array(["S", "M", "D", "W"])  # single, married, divorced, widowed
MARITAL_STATUS_P = [0.34, 0.48, 0.12, 0.06]
INCOME_BANDS = np.array(["under_25k", "25k_50k", "50k_100k", "100k_200k", "200k_plus"])
INCOME_BANDS_P = [0.22, 0.33, 0.28, 0.13, 0.04]
CHANGE_SHARE = 0.08
"""Share of customers whose address, marital status or income band changes in a 30-day period."""
FUTURE_DAYS = 366
"""Clients keep joining for this many days after the end date, for daily increments (``c360 generate --day``)."""


@dataclass(frozen=True)
class Population:
    """The simulated CRM: every client's base attributes. Changes (moves, marriage, income) are drawn per day by
    :func:`changes_on`, so any day's state can be rebuilt without storing history."""

    seed: int
    end_date: date
    clients_at_end: int
    client_id: np.ndarray
    created_at: np.ndarray  # datetime64[s]
    birth_date: np.ndarray  # datetime64[D]
    gender: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    phone: np.ndarray
    occupation: np.ndarray
    head_of_household: np.ndarray
    cars_owned: np.ndarray
    home_ownership: np.ndarray
    marital_status: np.ndarray
    income_band: np.ndarray
    street_address: np.ndarray
    city: np.ndarray
    streets: np.ndarray
    cities: np.ndarray


@dataclass(frozen=True)
class DayChanges:
    """The CRM changes of one day: which clients (indexes), when, and their new values."""

    index: np.ndarray
    at: np.ndarray  # datetime64[s]
    marital_status: np.ndarray
    income_band: np.ndarray
    street_address: np.ndarray
    city: np.ndarray


def _pools(seed: int) -> dict[str, list[str]]:
    """Small value pools from Faker (seeded, so deterministic); the bulk sampling is done by numpy."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return {
        "first_f": sorted({fake.first_name_female() for _ in range(400)}),
        "first_m": sorted({fake.first_name_male() for _ in range(400)}),
        "last": sorted({fake.last_name() for _ in range(800)}),
        "street": sorted({fake.street_name() for _ in range(600)}),
        "city": sorted({fake.city() for _ in range(120)}),
        "job": sorted({fake.job() for _ in range(300)})[:80],
    }


def client_count(scale: float) -> int:
    """Clients at the end date: 5,000 per unit of scale."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return max(1, round(CLIENTS_PER_SCALE * scale))


def _streets(rng: np.random.Generator, streets: np.ndarray, n: int) -> np.ndarray:
    numbers = rng.integers(1, 9999, n).astype(str)
    return np.char.add(np.char.add(numbers, " "), streets[rng.integers(0, len(streets), n)])


def build_population(seed: int, scale: float, end_date: date) -> Population:
    """Clients 1..n created over the history up to ``end_date`` (n = :func:`client_count`), then clients that
    join after it at the same daily rate, up to a year later, so daily increments past the end date have new
    customers."""
    n = client_count(scale)
    rng = rng_for(seed, SOURCE, "population")
    pools = _pools(seed)
    span_s = int((start_of_day(end_date) - start_of_day(HISTORY_START)).total_seconds())
    future_n = round(n * FUTURE_DAYS * 86400 / span_s)
    history = np.sort(rng.integers(0, span_s, n))
    future = span_s + np.sort(rng.integers(1, FUTURE_DAYS * 86400, future_n))
    total = n + future_n
    created = np.datetime64(HISTORY_START.isoformat(), "s") + np.concatenate([history, future]).astype(
        "timedelta64[s]"
    )
    # Ages 18-90 at the end date, skewed towards the middle years.
    age_days = np.clip(rng.normal(45, 15, total), 18, 90) * 365.25
    birth = np.datetime64(end_date.isoformat(), "D") - age_days.astype("int64").astype("timedelta64[D]")
    gender = GENDERS[rng.integers(0, 2, total)]
    first_f = np.array(pools["first_f"])[rng.integers(0, len(pools["first_f"]), total)]
    first_m = np.array(pools["first_m"])[rng.integers(0, len(pools["first_m"]), total)]
    streets = np.array(pools["street"])
    cities = np.array(pools["city"])
    area = rng.integers([200, 200, 0], [999, 999, 9999], (total, 3))
    return Population(
        seed=seed,
        end_date=end_date,
        clients_at_end=n,
        client_id=np.arange(1, total + 1, dtype=np.int64),
        created_at=created,
        birth_date=birth,
        gender=gender,
        first_name=np.where(gender == "F", first_f, first_m),
        last_name=np.array(pools["last"])[rng.integers(0, len(pools["last"]), total)],
        phone=np.array([f"+1-{a:03d}-{b:03d}-{c:04d}" for a, b, c in area]),
        occupation=np.array(pools["job"])[rng.integers(0, len(pools["job"]), total)],
        head_of_household=np.where(rng.random(total) < 0.45, "Y", "N"),
        cars_owned=rng.choice([0, 1, 2, 3, 4], total, p=[0.2, 0.4, 0.28, 0.09, 0.03]),
        home_ownership=rng.choice(HOME_OWNERSHIP, total, p=HOME_OWNERSHIP_P),
        marital_status=rng.choice(MARITAL_STATUS, total, p=MARITAL_STATUS_P),
        income_band=rng.choice(INCOME_BANDS, total, p=INCOME_BANDS_P),
        street_address=_streets(rng, streets, total),
        city=cities[rng.integers(0, len(cities), total)],
        streets=streets,
        cities=cities,
    )


def changes_on(pop: Population, day: date) -> DayChanges:
    """The changes recorded on ``day`` (only from the full extract's day on: earlier history is the base state).

    About CHANGE_SHARE of the clients change over a 30-day period, among those who exist at the start of the day.
    """
    first_day = pop.end_date - timedelta(days=FULL_EXTRACT_LAG_DAYS)
    rng = rng_for(pop.seed, SOURCE, "changes", day.isoformat())
    start = np.datetime64(start_of_day(day).replace(tzinfo=None), "s")
    existing = int(np.searchsorted(pop.created_at, start))  # created_at is sorted
    if day < first_day or existing == 0:
        k = 0
    else:
        k = min(existing, int(rng.poisson(pop.clients_at_end * CHANGE_SHARE / FULL_EXTRACT_LAG_DAYS)))
    index = np.sort(rng.choice(existing, k, replace=False)) if k else np.array([], dtype=np.int64)
    return DayChanges(
        index=index,
        at=start + rng.integers(1, 86400, k).astype("timedelta64[s]"),
        marital_status=rng.choice(MARITAL_STATUS, k, p=MARITAL_STATUS_P),
        income_band=rng.choice(INCOME_BANDS, k, p=INCOME_BANDS_P),
        street_address=_streets(rng, pop.streets, k),
        city=pop.cities[rng.integers(0, len(pop.cities), k)],
    )


def _age_at(birth: np.datetime64, when: date) -> int:
    born = birth.astype(date)
    return when.year - born.year - ((when.month, when.day) < (born.month, born.day))


def _state_at(pop: Population, at: np.datetime64) -> dict[str, np.ndarray]:
    """Every client's changing attributes and last update time as of ``at``."""
    state = {
        "marital_status": pop.marital_status.copy(),
        "income_band": pop.income_band.copy(),
        "street_address": pop.street_address.copy(),
        "city": pop.city.copy(),
        "updated_at": pop.created_at.copy(),
    }
    day = pop.end_date - timedelta(days=FULL_EXTRACT_LAG_DAYS)
    last_day = at.astype("datetime64[D]").astype(date)
    while day <= last_day:
        changes = changes_on(pop, day)
        applied = changes.at <= at
        index = changes.index[applied]
        for name in ("marital_status", "income_band", "street_address", "city"):
            state[name][index] = getattr(changes, name)[applied]
        state["updated_at"][index] = changes.at[applied]
        day += timedelta(days=1)
    return state


def records_at(pop: Population, extracted_at: datetime, since: datetime | None) -> list[dict[str, Any]]:
    """The CRM records an extract at ``extracted_at`` returns: every client created by then (``since`` None),
    or only those created or changed after ``since``."""
    at = np.datetime64(extracted_at.replace(tzinfo=None), "s")
    state = _state_at(pop, at)
    exists = pop.created_at <= at
    if since is None:
        selected = exists
    else:
        after = np.datetime64(since.replace(tzinfo=None), "s")
        selected = exists & ((pop.created_at > after) | (state["updated_at"] > after))
    records = []
    extract_day = extracted_at.date()
    for i in np.flatnonzero(selected):
        first, last = str(pop.first_name[i]), str(pop.last_name[i])
        client_id = int(pop.client_id[i])
        records.append(
            {
                "client_id": client_id,
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{client_id}@example.com".lower(),
                "phone": str(pop.phone[i]),
                "street_address": str(state["street_address"][i]),
                "city": str(state["city"][i]),
                "birth_date": str(pop.birth_date[i]),
                "age": _age_at(pop.birth_date[i], extract_day),
                "gender": str(pop.gender[i]),
                "home_ownership": str(pop.home_ownership[i]),
                "occupation": str(pop.occupation[i]),
                "marital_status": str(state["marital_status"][i]),
                "head_of_household_flag": str(pop.head_of_household[i]),
                "income_band": str(state["income_band"][i]),
                "cars_owned": int(pop.cars_owned[i]),
                "client_created_date": str(pop.created_at[i]) + "Z",
                "updated_at": str(state["updated_at"][i]) + "Z",
            }
        )
    return records


def raw_uri(lake: Lake, extracted_at: datetime) -> str:
    return lake.uri(
        "raw",
        SOURCE,
        f"ingest_date={extracted_at.date().isoformat()}",
        f"crm_{batch_stamp(extracted_at)}.jsonl",
    )


def write_extract(lake: Lake, records: list[dict[str, Any]], extracted_at: datetime) -> str:
    uri = raw_uri(lake, extracted_at)
    lines = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    lake.write_bytes(uri, lines.encode("utf-8"))
    return uri


def generate(settings: Settings, lake: Lake) -> list[tuple[str, int]]:
    """Write the CRM history up to the end date, pulled over HTTP from the CRM API: a full snapshot, then the
    incremental extract of the end date.

    Returns ``(uri, records)`` for each file written. Same seed, scale and end date: byte-identical files.
    """
    from ingestion import crm_api

    full_at = start_of_day(settings.end_date - timedelta(days=FULL_EXTRACT_LAG_DAYS))
    last_at = start_of_day(settings.end_date)
    written = []
    with crm_api.serve(settings) as url:
        full = crm_api.pull(url, as_of=full_at, since=None)
        written.append((write_extract(lake, full, full_at), len(full)))
        delta = crm_api.pull(url, as_of=last_at, since=full_at)
        written.append((write_extract(lake, delta, last_at), len(delta)))
    return written


def generate_day(settings: Settings, lake: Lake, day: date) -> list[tuple[str, int]]:
    """Write one day's CRM extract: the customers created or changed during the day before ``day`` 00:00."""
    from ingestion import crm_api

    at = start_of_day(day)
    with crm_api.serve(settings) as url:
        records = crm_api.pull(url, as_of=at, since=at - timedelta(days=1))
    return [(write_extract(lake, records, at), len(records))]


def lambda_handler(event: dict, context: object) -> dict:
    """The CRM extract Lambda without the HTTP hop (for a deployment without the API; the API-based consumer is
    :func:`ingestion.crm_api.c360view_get_crm_api`): lands the CRM changes of the event's day in the raw zone."""
    settings = Settings()
    day = event_day(event)
    lake = Lake(settings.lake)
    pop = build_population(settings.seed, settings.scale, settings.end_date)
    at = start_of_day(day)
    records = records_at(pop, at, since=at - timedelta(days=1))
    uri = write_extract(lake, records, at)
    return {"source": SOURCE, "uri": uri, "records": len(records)}
