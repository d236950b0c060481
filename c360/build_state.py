"""What a build leaves behind when it fails: the previous marts, and a record that says it failed.

dbt-duckdb writes each mart as Parquet files in ``<lake>/analytics/<mart>/`` and replaces them model by model, so
a build that fails halfway (a broken model, a full disk) would leave some marts new, some old, and a mart whose
write was cut off half-written. Around ``c360 build``:

- :func:`recorded_build` writes ``<lake>/logs/build/latest.json``: ``running`` before dbt starts, then ``success``
  or ``failed`` with the error. The export reads it (:func:`require_successful_build`) and refuses to publish a
  build that failed or never finished (a killed build stays ``running``).
- :func:`preserved_marts` (local lakes) links every mart's files into ``analytics/_previous_build/`` before dbt
  starts (hard links: no copy, no extra space) and, if the build fails, puts the previous files back, so readers
  keep the last good marts; the snapshot is dropped once they are back, or after a good build. DuckDB's
  ``COPY ... (OVERWRITE)`` deletes the old files and writes new ones, which leaves the linked files intact. A
  snapshot that a killed build left behind is restored by the next build before it starts. On S3 (dbt-athena)
  each build writes to a new prefix (``s3_data_naming: schema_table_unique``) and the catalog moves only on
  success, so there is nothing to restore.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from c360.errors import BuildError, ExportError
from c360.storage import Lake, LakeError

SNAPSHOT = "_previous_build"
NOT_MARTS = frozenset({"exports", "dashboard"})
logger = logging.getLogger(__name__)


def record_uri(lake: Lake) -> str:
    return lake.uri("logs", "build", "latest.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_record(lake: Lake) -> dict[str, Any] | None:
    """The latest build's record, or None when no c360 build has run on this lake."""
    uri = record_uri(lake)
    if not lake.exists(uri):
        return None
    try:
        return lake.read_json(uri)
    except (LakeError, ValueError) as exc:
        raise ExportError(f"the build record {uri} is unreadable ({exc}); run `c360 build` again") from exc


@contextmanager
def recorded_build(lake: Lake) -> Iterator[None]:
    """Record the build around the block: ``running``, then ``success`` or ``failed`` (with the error)."""
    uri = record_uri(lake)
    started = _now()
    lake.write_json(uri, {"status": "running", "started": started, "pid": os.getpid()})
    try:
        yield
    except BaseException as exc:
        failed = {"status": "failed", "started": started, "finished": _now(), "error": str(exc)[:4000]}
        try:
            lake.write_json(uri, failed)
        except LakeError as write_error:  # the record then stays "running": the export refuses all the same
            logger.warning("could not record the failed build: %s", write_error)
        raise
    lake.write_json(uri, {"status": "success", "started": started, "finished": _now()})


def require_successful_build(lake: Lake) -> None:
    """Raise :class:`ExportError` unless the latest c360 build succeeded (no record: built some other way)."""
    record = read_record(lake)
    if record is None or record.get("status") == "success":
        return
    if record.get("status") == "running":
        what = f"the build started at {record.get('started')} has not finished (or was killed)"
    else:
        what = f"the latest build failed ({str(record.get('error', '')).splitlines()[0][:300]})"
    raise ExportError(
        f"{what}; refusing to export it. The previous marts and exports are unchanged; fix the build and run "
        f"`c360 build` (record: {record_uri(lake)})"
    )


def _mart_folders(analytics: Path) -> list[Path]:
    return sorted(
        folder
        for folder in analytics.iterdir()
        if folder.is_dir() and folder.name not in NOT_MARTS and not folder.name.startswith(("_", "."))
    )


def _link_tree(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source`` made of hard links (a real copy where links are impossible)."""
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:
            shutil.copy2(path, destination)


def _restore(snapshot: Path, analytics: Path) -> list[str]:
    restored = []
    for saved in sorted(p for p in snapshot.iterdir() if p.is_dir()):
        mart = analytics / saved.name
        shutil.rmtree(mart, ignore_errors=True)
        mart.mkdir()
        _link_tree(saved, mart)
        restored.append(saved.name)
    return restored


@contextmanager
def preserved_marts(lake: Lake) -> Iterator[None]:
    """Keep the marts of the last good build: restore them if the block fails (local lakes)."""
    if not lake.is_local:
        yield
        return
    analytics = Path(lake.uri("analytics"))
    snapshot = analytics / SNAPSHOT
    try:
        if (
            snapshot.exists()
        ):  # a build was killed: its marts may be half-written, the snapshot is the good state
            restored = _restore(snapshot, analytics)
            logger.warning("restored the marts of the last good build: %s", ", ".join(restored))
        else:
            work = analytics / f".{SNAPSHOT}.tmp"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            for mart in _mart_folders(analytics):
                _link_tree(mart, work / mart.name)
            work.rename(snapshot)
    except OSError as exc:
        raise BuildError(f"cannot keep the previous marts in {snapshot} before building: {exc}") from exc
    try:
        yield
    except BaseException:
        try:
            _restore(snapshot, analytics)
        except OSError as exc:  # the snapshot stays: the next build restores it before it starts
            logger.warning("could not restore the previous marts from %s: %s", snapshot, exc)
        else:
            shutil.rmtree(snapshot, ignore_errors=True)
        raise
    shutil.rmtree(snapshot, ignore_errors=True)
