"""The web visitor map: which Google Analytics visitors (``fullVisitorId``) are which bank clients.

When a client logs into online banking from a browser, the bank links that browser's GA visitor id to the
client. The map is exported as a text file, ``raw/visitor_map/ingest_date=YYYY-MM-DD/visitor_map_<stamp>.csv``,
with the header ``fullVisitorId,client_id`` (LF line endings, UTF-8, no BOM). Each file is a full snapshot of
the links made before its extraction time (the start of its day, as for the CRM extracts).

What the file holds, and why:

- ``fullVisitorId`` is a string of 17 to 19 digits. About 8.5 % of them start with ``0`` (GA pads its 19-digit
  ids), so a reader that casts them to numbers loses the zeros and the join to GA: keep them strings.
- A client may have several visitors (one per browser or device): DIGITAL_SHARE of the clients use the
  website, with 1 to 3 devices each. Every ``client_id`` is a CRM client that existed when the link was made.
- AMBIGUOUS_SHARE of the linked visitors carry a second row with another client (a shared family computer,
  as in the workshop's many-to-many map). The stage layer must flag these visitors rather than fan out.
- Anonymous visitors (prospects, clients who never log in from that browser) are part of the visitor universe
  built here, so that their ids never collide with linked ones, but they never appear in the map: GA sessions
  from them stay unattributed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from c360.settings import Settings
from c360.storage import Lake
from ingestion.common import batch_stamp, event_day, rng_for, start_of_day
from ingestion.crm import FUTURE_DAYS, build_population

SOURCE = "visitor_map"
HEADER = "fullVisitorId,client_id"
DIGITAL_SHARE = 0.70
"""Share of clients who log into online banking from at least one browser."""
DEVICES = np.array([1, 2, 3])
DEVICES_P = [0.55, 0.30, 0.15]
FIRST_LINK_DELAY_DAYS = 5.0
"""Mean delay (exponential) between opening the relationship and the first online-banking login."""
AMBIGUOUS_SHARE = 0.02
"""Share of linked visitors that are also linked to a second client (one browser shared by two clients)."""
ANONYMOUS_VISITORS_PER_SCALE = 25_000
"""Visitors who never log in, per unit of scale (the GA generator draws their sessions)."""
PADDED_ID_SHARE = 0.85
"""Share of visitor ids that are 19-digit zero-padded numbers (a tenth of them start with 0); the rest have
17-18 digits, as in the real GA sample."""


@dataclass(frozen=True)
class Visitors:
    """Every web visitor of the simulation: linked ones first (``client_id`` > 0), then anonymous ones (0).

    ``linked_at`` is when the visitor was linked to ``client_id`` (NaT for anonymous visitors);
    ``second_client_id`` is the other client of an ambiguous visitor (0 for none).
    """

    visitor_id: np.ndarray  # str, 17-19 digits
    client_id: np.ndarray  # int64
    linked_at: np.ndarray  # datetime64[s]
    second_client_id: np.ndarray  # int64

    @property
    def known(self) -> np.ndarray:
        return self.client_id > 0

    def __len__(self) -> int:
        return len(self.visitor_id)


def horizon_end(end_date: date) -> np.datetime64:
    """The last instant the simulation covers: daily increments may run up to FUTURE_DAYS after the end date."""
    return np.datetime64(end_date.isoformat(), "s") + np.timedelta64((FUTURE_DAYS + 1) * 86400 - 1, "s")


def _repeated(text: np.ndarray) -> np.ndarray:
    """True for every entry equal to an earlier one."""
    _, first = np.unique(text, return_index=True)
    repeated = np.ones(len(text), dtype=bool)
    repeated[first] = False
    return repeated


def _draw_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct visitor ids as strings: mostly 19-digit zero-padded, some 17-18 digits."""
    padded = rng.random(n) < PADDED_ID_SHARE
    long_ids = np.char.zfill(rng.integers(0, 10**19, n, dtype=np.uint64).astype(str), 19)
    short_ids = rng.integers(10**16, 10**18, n, dtype=np.uint64).astype(str)
    text = np.where(padded, long_ids, short_ids)
    # A repeat is astronomically unlikely; redraw it (deterministically) rather than assume it away.
    while (repeated := _repeated(text)).any():
        text[repeated] = np.char.zfill(
            rng.integers(0, 10**19, int(repeated.sum()), dtype=np.uint64).astype(str), 19
        )
    return text


def _linked_devices(
    rng: np.random.Generator, created: np.ndarray, end: np.datetime64
) -> tuple[np.ndarray, ...]:
    """For the clients who bank online: which client each device belongs to and when it was linked."""
    digital = np.flatnonzero(rng.random(len(created)) < DIGITAL_SHARE)
    devices = rng.choice(DEVICES, len(digital), p=DEVICES_P)
    owner = np.repeat(digital, devices)
    is_first = np.zeros(len(owner), dtype=bool)
    is_first[np.cumsum(devices) - devices] = True
    owner_created = created[owner]
    remaining_s = np.maximum((end - owner_created).astype(np.int64), 1)
    delay_s = np.where(
        is_first,
        rng.exponential(FIRST_LINK_DELAY_DAYS * 86400, len(owner)).astype(np.int64),
        (rng.random(len(owner)) * remaining_s).astype(np.int64),
    )
    linked = owner_created + delay_s.astype("timedelta64[s]")
    keep = linked <= end
    return owner[keep], linked[keep]


def _second_clients(
    rng: np.random.Generator, owner: np.ndarray, linked: np.ndarray, created: np.ndarray
) -> np.ndarray:
    """Index of a second client for AMBIGUOUS_SHARE of the visitors (-1 for none): any other client who
    already existed when the visitor was linked (``created`` is sorted)."""
    existing = np.searchsorted(created, linked, side="right")
    ambiguous = (rng.random(len(owner)) < AMBIGUOUS_SHARE) & (existing > 1)
    pick = (rng.random(len(owner)) * np.maximum(existing - 1, 1)).astype(np.int64)
    pick = np.where(pick >= owner, pick + 1, pick)  # skip the owner itself
    return np.where(ambiguous, pick, -1)


def build_visitors(seed: int, scale: float, end_date: date) -> Visitors:
    """The visitor universe for a seed, scale and end date (deterministic, vectorized)."""
    pop = build_population(seed, scale, end_date)
    rng = rng_for(seed, SOURCE, "visitors")
    owner, linked = _linked_devices(rng, pop.created_at, horizon_end(end_date))
    second = _second_clients(rng, owner, linked, pop.created_at)
    anonymous = max(1, round(ANONYMOUS_VISITORS_PER_SCALE * scale))
    ids = _draw_ids(rng, len(owner) + anonymous)
    return Visitors(
        visitor_id=ids,
        client_id=np.concatenate([pop.client_id[owner], np.zeros(anonymous, dtype=np.int64)]),
        linked_at=np.concatenate([linked, np.full(anonymous, np.datetime64("NaT", "s"))]),
        second_client_id=np.concatenate(
            [np.where(second >= 0, pop.client_id[second], 0), np.zeros(anonymous, dtype=np.int64)]
        ),
    )


def map_rows(visitors: Visitors, as_of: datetime) -> list[tuple[str, int]]:
    """The ``(fullVisitorId, client_id)`` rows of a snapshot taken at ``as_of``, sorted by client then visitor."""
    at = np.datetime64(as_of.replace(tzinfo=None), "s")
    linked = visitors.known & (visitors.linked_at <= at)
    ambiguous = linked & (visitors.second_client_id > 0)
    ids = np.concatenate([visitors.visitor_id[linked], visitors.visitor_id[ambiguous]])
    clients = np.concatenate([visitors.client_id[linked], visitors.second_client_id[ambiguous]])
    order = np.lexsort((ids, clients))
    return list(zip(ids[order].tolist(), clients[order].tolist(), strict=True))


def render_csv(rows: list[tuple[str, int]]) -> bytes:
    """The file's bytes: the header, then one ``fullVisitorId,client_id`` line per row (LF)."""
    return "".join([HEADER, "\n", *(f"{visitor},{client}\n" for visitor, client in rows)]).encode("ascii")


def raw_uri(lake: Lake, extracted_at: datetime) -> str:
    return lake.uri(
        "raw",
        SOURCE,
        f"ingest_date={extracted_at.date().isoformat()}",
        f"visitor_map_{batch_stamp(extracted_at)}.csv",
    )


def write_snapshot(lake: Lake, visitors: Visitors, extracted_at: datetime) -> tuple[str, int]:
    rows = map_rows(visitors, extracted_at)
    uri = raw_uri(lake, extracted_at)
    lake.write_bytes(uri, render_csv(rows))
    return uri, len(rows)


def generate(settings: Settings, lake: Lake) -> list[tuple[str, int]]:
    """Write the visitor map as of the end date (a full snapshot). Returns ``[(uri, rows)]``."""
    visitors = build_visitors(settings.seed, settings.scale, settings.end_date)
    return [write_snapshot(lake, visitors, start_of_day(settings.end_date))]


def generate_day(settings: Settings, lake: Lake, day: date) -> list[tuple[str, int]]:
    """Write the snapshot of ``day``: every link made before the day started."""
    if day > settings.end_date + timedelta(days=FUTURE_DAYS):
        raise ValueError(
            f"{day} is more than {FUTURE_DAYS} days after the end date {settings.end_date}: "
            "set a later C360_END_DATE to simulate it"
        )
    visitors = build_visitors(settings.seed, settings.scale, settings.end_date)
    return [write_snapshot(lake, visitors, start_of_day(day))]


def c360view_visitor_map(event: dict, context: object) -> dict:
    """Lambda: on an EventBridge schedule, land the visitor map snapshot of the event's day in the raw zone."""
    settings = Settings()
    [(uri, rows)] = generate_day(settings, Lake(settings.lake), event_day(event))
    return {"source": SOURCE, "uri": uri, "records": rows}
