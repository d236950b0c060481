"""Helpers shared by the generators: deterministic random streams, batch naming and the Lambda event shape."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime, time

import numpy as np

from c360.settings import DEFAULT_END_DATE


def rng_for(seed: int, *stream: str | int) -> np.random.Generator:
    """A random generator for one named stream: the same seed and stream always give the same numbers,
    and different streams never share state (adding a column to one source does not shift another)."""
    digest = hashlib.sha256(":".join([str(seed), *map(str, stream)]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def batch_stamp(moment: datetime) -> str:
    """The timestamp used in raw file names, e.g. ``20241231T000000Z``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def event_day(event: dict | None) -> date:
    """The business day of an EventBridge scheduled event (its ``time``), else the configured end date."""
    if event and event.get("time"):
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).date()
    configured = os.environ.get("C360_END_DATE")
    return date.fromisoformat(configured) if configured else DEFAULT_END_DATE
