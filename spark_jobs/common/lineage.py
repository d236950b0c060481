"""When a raw file was loaded, read from its path: the extract stamp in its name (``..._20241231T000000Z.csv``)
or, failing that, the ``ingest_date=YYYY-MM-DD`` folder it was landed in (the GA day files have no stamp).

The stage jobs use this as ``_ingested_at`` and to decide which load is the latest: it comes from the raw layout,
never from the wall clock or a file's modification time, so a rerun of the same files decides the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pyspark.sql import Column
from pyspark.sql import functions as F

STAMP = r"(\d{8}T\d{6}Z)"
INGEST_DATE = r"ingest_date=(\d{4}-\d{2}-\d{2})"


def ingested_at(path: Column) -> Column:
    """The load time of the file at ``path`` (a timestamp, UTC), null when the path carries neither."""
    stamp = F.regexp_extract(path, STAMP, 1)
    day = F.regexp_extract(path, INGEST_DATE, 1)
    return F.coalesce(
        F.when(stamp != "", F.to_timestamp(stamp, "yyyyMMdd'T'HHmmss'Z'")),
        F.when(day != "", F.to_timestamp(day, "yyyy-MM-dd")),
    )


def ingested_at_of(uri: str) -> datetime | None:
    """:func:`ingested_at` for a URI on the driver (the same rules)."""
    if stamp := re.search(STAMP, uri):
        return datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if day := re.search(INGEST_DATE, uri):
        return datetime.strptime(day.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
    return None


def load_order(uri: str) -> tuple[datetime, str]:
    """Sort key of files from the earliest load to the latest: load time (files without one first), then URI."""
    return ingested_at_of(uri) or datetime.min.replace(tzinfo=UTC), uri
