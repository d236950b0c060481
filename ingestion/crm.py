"""CRM customers (the design's c360viewCRMApi / c360viewGetCRMApi): strict JSON Lines in ``raw/crm/``.

The CRM holds one record per client with demographic attributes and PII. Customers change over time: some move,
marry or change income band; each extract carries the state as of its own time. The first extract is a full
snapshot; later extracts carry only the customers created or changed since the previous one, as an
``updated_since`` pull of the CRM API would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
"""Share of customers whose address, marital status or income band changes during the last extract period."""


@dataclass(frozen=True)
class Population:
    """The simulated CRM: base attributes of every client and, for some, a later changed state."""

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
    changed_at: np.ndarray  # datetime64[s]; NaT where the client never changes
    new_marital_status: np.ndarray
    new_income_band: np.ndarray
    new_street_address: np.ndarray
    new_city: np.ndarray


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
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return max(1, round(CLIENTS_PER_SCALE * scale))


def build_population(seed: int, scale: float, end_date: date) -> Population:
    n = client_count(scale)
    rng = rng_for(seed, SOURCE, "population")
    pools = _pools(seed)
    span_s = int((start_of_day(end_date) - start_of_day(HISTORY_START)).total_seconds())
    created = np.datetime64(HISTORY_START.isoformat(), "s") + np.sort(rng.integers(0, span_s, n)).astype(
        "timedelta64[s]"
    )
    # Ages 18-90 at the end date, skewed towards the middle years.
    age_days = np.clip(rng.normal(45, 15, n), 18, 90) * 365.25
    birth = np.datetime64(end_date.isoformat(), "D") - age_days.astype("int64").astype("timedelta64[D]")
    gender = GENDERS[rng.integers(0, 2, n)]
    first_f = np.array(pools["first_f"])[rng.integers(0, len(pools["first_f"]), n)]
    first_m = np.array(pools["first_m"])[rng.integers(0, len(pools["first_m"]), n)]
    first = np.where(gender == "F", first_f, first_m)
    last = np.array(pools["last"])[rng.integers(0, len(pools["last"]), n)]
    street_no = rng.integers(1, 9999, n)
    streets = np.array(pools["street"])
    street = np.char.add(np.char.add(street_no.astype(str), " "), streets[rng.integers(0, len(streets), n)])
    cities = np.array(pools["city"])
    city = cities[rng.integers(0, len(cities), n)]
    phone = np.array(
        [f"+1-{a:03d}-{b:03d}-{c:04d}" for a, b, c in rng.integers([200, 200, 0], [999, 999, 9999], (n, 3))]
    )

    changes = rng.random(n) < CHANGE_SHARE
    last_period_s = FULL_EXTRACT_LAG_DAYS * 86400
    changed_at = np.where(
        changes,
        np.datetime64(end_date.isoformat(), "s") - rng.integers(1, last_period_s, n).astype("timedelta64[s]"),
        np.datetime64("NaT", "s"),
    )
    new_street = np.char.add(
        np.char.add(rng.integers(1, 9999, n).astype(str), " "), streets[rng.integers(0, len(streets), n)]
    )
    return Population(
        client_id=np.arange(1, n + 1, dtype=np.int64),
        created_at=created,
        birth_date=birth,
        gender=gender,
        first_name=first,
        last_name=last,
        phone=phone,
        occupation=np.array(pools["job"])[rng.integers(0, len(pools["job"]), n)],
        head_of_household=np.where(rng.random(n) < 0.45, "Y", "N"),
        cars_owned=rng.choice([0, 1, 2, 3, 4], n, p=[0.2, 0.4, 0.28, 0.09, 0.03]),
        home_ownership=rng.choice(HOME_OWNERSHIP, n, p=HOME_OWNERSHIP_P),
        marital_status=rng.choice(MARITAL_STATUS, n, p=MARITAL_STATUS_P),
        income_band=rng.choice(INCOME_BANDS, n, p=INCOME_BANDS_P),
        street_address=street,
        city=city,
        changed_at=changed_at,
        new_marital_status=rng.choice(MARITAL_STATUS, n, p=MARITAL_STATUS_P),
        new_income_band=rng.choice(INCOME_BANDS, n, p=INCOME_BANDS_P),
        new_street_address=new_street,
        new_city=cities[rng.integers(0, len(cities), n)],
    )


def _age_at(birth: np.datetime64, when: date) -> int:
    born = birth.astype(date)
    return when.year - born.year - ((when.month, when.day) < (born.month, born.day))


def records_at(pop: Population, extracted_at: datetime, since: datetime | None) -> list[dict[str, Any]]:
    """The CRM records an extract at ``extracted_at`` returns: every client created by then (``since`` None),
    or only those created or changed after ``since``."""
    at = np.datetime64(extracted_at.replace(tzinfo=None), "s")
    exists = pop.created_at <= at
    changed = ~np.isnat(pop.changed_at) & (pop.changed_at <= at)
    if since is None:
        selected = exists
    else:
        after = np.datetime64(since.replace(tzinfo=None), "s")
        selected = exists & ((pop.created_at > after) | (changed & (pop.changed_at > after)))
    records = []
    for i in np.flatnonzero(selected):
        moved = bool(changed[i])
        updated = pop.changed_at[i] if moved else pop.created_at[i]
        first, last = str(pop.first_name[i]), str(pop.last_name[i])
        records.append(
            {
                "client_id": int(pop.client_id[i]),
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{int(pop.client_id[i])}@example.com".lower(),
                "phone": str(pop.phone[i]),
                "street_address": str(pop.new_street_address[i] if moved else pop.street_address[i]),
                "city": str(pop.new_city[i] if moved else pop.city[i]),
                "birth_date": str(pop.birth_date[i]),
                "age": _age_at(pop.birth_date[i], extracted_at.date()),
                "gender": str(pop.gender[i]),
                "home_ownership": str(pop.home_ownership[i]),
                "occupation": str(pop.occupation[i]),
                "marital_status": str(pop.new_marital_status[i] if moved else pop.marital_status[i]),
                "head_of_household_flag": str(pop.head_of_household[i]),
                "income_band": str(pop.new_income_band[i] if moved else pop.income_band[i]),
                "cars_owned": int(pop.cars_owned[i]),
                "client_created_date": str(pop.created_at[i]) + "Z",
                "updated_at": str(updated) + "Z",
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
    """Write the CRM history up to the end date: a full snapshot, then the incremental extract of the end date.

    Returns ``(uri, records)`` for each file written. Same seed, scale and end date: byte-identical files.
    """
    pop = build_population(settings.seed, settings.scale, settings.end_date)
    full_at = start_of_day(settings.end_date - timedelta(days=FULL_EXTRACT_LAG_DAYS))
    last_at = start_of_day(settings.end_date)
    written = []
    full = records_at(pop, full_at, since=None)
    written.append((write_extract(lake, full, full_at), len(full)))
    delta = records_at(pop, last_at, since=full_at)
    written.append((write_extract(lake, delta, last_at), len(delta)))
    return written


def lambda_handler(event: dict, context: object) -> dict:
    """c360viewGetCRMApi: on an EventBridge schedule, land the CRM changes of the event's day in the raw bucket."""
    settings = Settings()
    day = event_day(event)
    lake = Lake(settings.lake)
    pop = build_population(settings.seed, settings.scale, settings.end_date)
    at = start_of_day(day)
    records = records_at(
        pop, at, since=datetime.combine(day - timedelta(days=1), at.timetz()).replace(tzinfo=UTC)
    )
    uri = write_extract(lake, records, at)
    return {"source": SOURCE, "uri": uri, "records": len(records)}
