"""Mainframe extracts (the design's c360viewMFgenAccount, c360viewMFgenCard, c360viewMFgenGBank): fixed-width
text files in the raw zone, one record layout per COBOL copybook (:mod:`ingestion.copybooks`).

Sources and their copybooks: ``account`` (account.cpy), ``card`` (card.cpy), ``gbank`` (disposition.cpy),
``loan`` (loan.cpy), ``standing_order`` (standing_order.cpy) and ``district`` (district.cpy). Files land in
``raw/<source>/ingest_date=YYYY-MM-DD/<source>_<YYYYMMDDTHHMMSSZ>.dat``.

The history (:func:`generate`) is a full unload taken at 00:00 of ``end_date - INCREMENT_DAYS + 1`` (everything
created before that day, and the districts), followed by the nightly increments of the last ``INCREMENT_DAYS``
days up to ``end_date``. A nightly increment (:func:`generate_day`) is cut at 23:00 UTC and carries what was created
that day: accounts, dispositions, cards, loans and standing orders. So every record is in exactly one file, and a
stage job must union the full unload with the increments. Days after ``end_date`` have increments too: clients
keep joining and opening accounts (see :mod:`ingestion.bank`).

All content comes from :func:`ingestion.bank.build_keyspace`: same seed, scale and end date, byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from c360.settings import Settings
from c360.storage import Lake
from ingestion import bank
from ingestion.bank import BankKeyspace, day_number, to_days, yyyymmdd
from ingestion.common import batch_stamp, event_day, start_of_day
from ingestion.copybooks import DEFAULT_ENCODING, load_layout

COPYBOOKS = {
    "account": "account",
    "card": "card",
    "gbank": "disposition",
    "loan": "loan",
    "standing_order": "standing_order",
    "district": "district",
}
"""Raw source name -> copybook (``ingestion/copybooks/<name>.cpy``) describing its records."""
SOURCES = tuple(COPYBOOKS)
DAILY_SOURCES = ("account", "gbank", "card", "loan", "standing_order")
"""Sources with nightly increments (districts are reference data: full unloads only)."""
INCREMENT_DAYS = 7
"""The history ends with this many nightly increments, after the full unload."""
NIGHTLY_CUTOFF = time(23, 0)
"""When the nightly increment of a day is cut (UTC); full unloads are taken at 00:00, so names never collide."""

Record = dict[str, object]


def _cents(values: np.ndarray) -> list[Decimal]:
    return [Decimal(int(v)).scaleb(-2) for v in values]


def _in_window(days: np.ndarray, first: date | None, last: date) -> np.ndarray:
    """Mask of day numbers within ``[first, last]`` (``first`` None: from the beginning)."""
    upper = days <= day_number(last)
    if first is None:
        return upper
    return upper & (days >= day_number(first))


def account_records(ks: BankKeyspace, first: date | None, last: date) -> list[Record]:
    """Accounts opened in ``[first, last]``."""
    a = ks.accounts
    pick = np.flatnonzero(_in_window(to_days(a.open_date), first, last))
    return [
        {"account_id": i, "district_id": d, "frequency": f, "open_date": o}
        for i, d, f, o in zip(
            a.account_id[pick].tolist(),
            a.district_id[pick].tolist(),
            a.frequency[pick].tolist(),
            yyyymmdd(a.open_date[pick]).tolist(),
            strict=True,
        )
    ]


def disposition_records(ks: BankKeyspace, first: date | None, last: date) -> list[Record]:
    """Dispositions (the gbank extract) granted in ``[first, last]``."""
    d = ks.dispositions
    pick = np.flatnonzero(_in_window(to_days(d.valid_from), first, last))
    return [
        {"disp_id": i, "client_id": c, "account_id": a, "disp_type": t, "valid_from": v}
        for i, c, a, t, v in zip(
            d.disp_id[pick].tolist(),
            d.client_id[pick].tolist(),
            d.account_id[pick].tolist(),
            d.type[pick].tolist(),
            yyyymmdd(d.valid_from[pick]).tolist(),
            strict=True,
        )
    ]


def card_records(ks: BankKeyspace, first: date | None, last: date) -> list[Record]:
    """Cards issued in ``[first, last]``."""
    c = ks.cards
    pick = np.flatnonzero(_in_window(to_days(c.issued_at), first, last))
    issued = c.issued_at[pick]
    seconds = (issued - issued.astype("datetime64[D]")).astype(np.int64)
    hhmmss = seconds // 3600 * 10_000 + seconds // 60 % 60 * 100 + seconds % 60
    return [
        {"card_id": i, "disp_id": d, "card_type": t, "issued_date": day, "issued_time": clock}
        for i, d, t, day, clock in zip(
            c.card_id[pick].tolist(),
            c.disp_id[pick].tolist(),
            c.type[pick].tolist(),
            yyyymmdd(issued).tolist(),
            hhmmss.tolist(),
            strict=True,
        )
    ]


def loan_records(ks: BankKeyspace, first: date | None, last: date) -> list[Record]:
    """Loans granted in ``[first, last]``, with their status as of ``end_date``."""
    loans = ks.loans
    pick = np.flatnonzero(_in_window(to_days(loans.granted_date), first, last))
    return [
        {
            "loan_id": i,
            "account_id": a,
            "granted_date": g,
            "amount": amount,
            "duration": d,
            "payments": payments,
            "loan_status": s,
        }
        for i, a, g, amount, d, payments, s in zip(
            loans.loan_id[pick].tolist(),
            loans.account_id[pick].tolist(),
            yyyymmdd(loans.granted_date[pick]).tolist(),
            _cents(loans.amount_cents[pick]),
            loans.duration[pick].tolist(),
            _cents(loans.payments_cents[pick]),
            loans.status[pick].tolist(),
            strict=True,
        )
    ]


def standing_order_records(ks: BankKeyspace, first: date | None, last: date) -> list[Record]:
    """Standing orders created in ``[first, last]`` (a blank purpose is written as spaces)."""
    o = ks.orders
    pick = np.flatnonzero(_in_window(to_days(o.start_date), first, last))
    return [
        {
            "order_id": i,
            "account_id": a,
            "bank_to": b,
            "account_to": to,
            "amount": amount,
            "k_symbol": k or None,
            "start_date": s,
        }
        for i, a, b, to, amount, k, s in zip(
            o.order_id[pick].tolist(),
            o.account_id[pick].tolist(),
            o.bank_to[pick].tolist(),
            o.account_to[pick].tolist(),
            _cents(o.amount_cents[pick]),
            o.k_symbol[pick].tolist(),
            yyyymmdd(o.start_date[pick]).tolist(),
            strict=True,
        )
    ]


def district_records(ks: BankKeyspace, first: date | None = None, last: date | None = None) -> list[Record]:
    """All districts (reference data, not dated); values not reported are None (spaces on the record)."""
    d = ks.districts

    def reported(value: float, digits: int) -> Decimal | int | None:
        if np.isnan(value):
            return None
        return Decimal(f"{value:.{digits}f}") if digits else int(value)

    return [
        {
            "district_id": int(d.district_id[i]),
            "district_name": str(d.name[i]),
            "region": str(d.region[i]),
            "inhabitants": int(d.inhabitants[i]),
            "urban_ratio": Decimal(f"{d.urban_ratio[i]:.1f}"),
            "average_salary": int(d.average_salary[i]),
            "unemployment_95": reported(float(d.unemployment_95[i]), 2),
            "unemployment_96": Decimal(f"{d.unemployment_96[i]:.2f}"),
            "entrepreneurs_per_1000": int(d.entrepreneurs_per_1000[i]),
            "crimes_95": reported(float(d.crimes_95[i]), 0),
            "crimes_96": int(d.crimes_96[i]),
        }
        for i in range(d.district_id.size)
    ]


RECORD_BUILDERS: dict[str, Callable[[BankKeyspace, date | None, date], list[Record]]] = {
    "account": account_records,
    "card": card_records,
    "gbank": disposition_records,
    "loan": loan_records,
    "standing_order": standing_order_records,
    "district": district_records,
}


# --- files -----------------------------------------------------------------------------------------------


def raw_uri(lake: Lake, source: str, extracted_at: datetime) -> str:
    """``raw/<source>/ingest_date=YYYY-MM-DD/<source>_<stamp>.dat``."""
    return lake.uri(
        "raw",
        source,
        f"ingest_date={extracted_at.date().isoformat()}",
        f"{source}_{batch_stamp(extracted_at)}.dat",
    )


def encode_extract(source: str, records: list[Record], encoding: str = DEFAULT_ENCODING) -> bytes:
    """The file content of ``records`` for ``source``, laid out by its copybook."""
    return load_layout(COPYBOOKS[source]).encode_records(records, encoding)


def write_extract(
    lake: Lake, source: str, records: list[Record], extracted_at: datetime, encoding: str = DEFAULT_ENCODING
) -> str:
    """Write one extract file through the lake and return its URI (an empty day gives an empty file)."""
    uri = raw_uri(lake, source, extracted_at)
    lake.write_bytes(uri, encode_extract(source, records, encoding))
    return uri


def nightly_cutoff(day: date) -> datetime:
    """When the nightly increment of ``day`` is taken."""
    return datetime.combine(day, NIGHTLY_CUTOFF, tzinfo=UTC)


def write_day_source(
    lake: Lake, ks: BankKeyspace, source: str, day: date, encoding: str = DEFAULT_ENCODING
) -> tuple[str, int]:
    """The nightly increment of one source for ``day``: what was created that day."""
    if source not in DAILY_SOURCES:
        raise ValueError(f"{source!r} has no nightly increment; daily sources: {', '.join(DAILY_SOURCES)}")
    records = RECORD_BUILDERS[source](ks, day, day)
    return write_extract(lake, source, records, nightly_cutoff(day), encoding), len(records)


def generate(settings: Settings, lake: Lake, encoding: str = DEFAULT_ENCODING) -> list[tuple[str, int]]:
    """Write the mainframe history up to the end date: a full unload of every source, then the nightly
    increments of the last ``INCREMENT_DAYS`` days. Returns ``(uri, records)`` per file written."""
    ks = bank.build_keyspace(settings.seed, settings.scale, settings.end_date)
    first_increment = settings.end_date - timedelta(days=INCREMENT_DAYS - 1)
    unload_at = start_of_day(first_increment)
    before = first_increment - timedelta(days=1)
    written = []
    for source in SOURCES:
        records = RECORD_BUILDERS[source](ks, None, before)
        written.append((write_extract(lake, source, records, unload_at, encoding), len(records)))
    for offset in range(INCREMENT_DAYS):
        day = first_increment + timedelta(days=offset)
        written.extend(write_day_source(lake, ks, source, day, encoding) for source in DAILY_SOURCES)
    return written


def generate_day(
    settings: Settings, lake: Lake, day: date, encoding: str = DEFAULT_ENCODING
) -> list[tuple[str, int]]:
    """Write the nightly increments of ``day`` (accounts, dispositions, cards, loans, standing orders)."""
    ks = bank.build_keyspace(settings.seed, settings.scale, settings.end_date)
    return [write_day_source(lake, ks, source, day, encoding) for source in DAILY_SOURCES]


# --- Lambda handlers (EventBridge scheduled events) ------------------------------------------------------------


def _handle(source: str, event: dict) -> dict:
    settings = Settings()
    day = event_day(event)
    ks = bank.build_keyspace(settings.seed, settings.scale, settings.end_date)
    uri, count = write_day_source(Lake(settings.lake), ks, source, day)
    return {"source": source, "day": day.isoformat(), "uri": uri, "records": count}


def c360view_mf_gen_account(event: dict, context: object) -> dict:
    """c360viewMFgenAccount: land the accounts opened on the event's day in the raw bucket."""
    return _handle("account", event)


def c360view_mf_gen_card(event: dict, context: object) -> dict:
    """c360viewMFgenCard: land the cards issued on the event's day in the raw bucket."""
    return _handle("card", event)


def c360view_mf_gen_gbank(event: dict, context: object) -> dict:
    """c360viewMFgenGBank: land the dispositions granted on the event's day in the raw bucket."""
    return _handle("gbank", event)
