"""Job bookmarks (the AWS Glue idea, kept in the lake): the highest key of a source already committed to the stage
zone, so that the next run extracts only what came after it.

``<logs>/bookmarks/<source>.json`` holds ``last_value``. It is written only after the stage data of the batch is
committed, so a run that fails anywhere before leaves it where it was and the next run extracts the same rows again
(the stage merge deduplicates them): no row is skipped, none is staged twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from spark_jobs.common.hadoopfs import HadoopFS


class BookmarkError(ValueError):
    """The bookmark file exists but does not hold a valid bookmark."""


@dataclass(frozen=True)
class Bookmark:
    source: str
    table: str
    column: str
    last_value: int
    """The highest ``column`` value committed to the stage zone."""
    batch_id: str
    committed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    code: str = ""
    """The fingerprint of the stage code that committed it (``""``: unknown, as in bookmarks written before it
    was recorded); the job extracts the whole source again when its code differs, so that a new rule reaches
    every row (:mod:`spark_jobs.common.code_version`)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def bookmark_uri(logs_uri: str, source: str) -> str:
    return f"{logs_uri.rstrip('/')}/bookmarks/{source}.json"


def read_bookmark(fs: HadoopFS, logs_uri: str, source: str) -> Bookmark | None:
    """The source's bookmark, or None before its first committed batch."""
    uri = bookmark_uri(logs_uri, source)
    if not fs.exists(uri):
        return None
    try:
        data = json.loads(fs.read_text(uri))
        last_value = data["last_value"]
        if isinstance(last_value, bool) or not isinstance(last_value, int) or last_value < 0:
            raise TypeError(f"last_value {last_value!r} is not a non-negative integer")
        return Bookmark(
            source=str(data["source"]),
            table=str(data["table"]),
            column=str(data["column"]),
            last_value=last_value,
            batch_id=str(data["batch_id"]),
            committed_at=str(data.get("committed_at", "")),
            code=str(data.get("code", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BookmarkError(
            f"{uri} is not a valid bookmark ({exc}); delete it to extract the whole source again "
            "(rows already staged are deduplicated)"
        ) from exc


def write_bookmark(fs: HadoopFS, logs_uri: str, bookmark: Bookmark) -> str:
    uri = bookmark_uri(logs_uri, bookmark.source)
    fs.write_text(uri, bookmark.to_json())
    return uri
