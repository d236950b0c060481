"""``c360 import ga DIR [--visitor-map FILE]``: a BigQuery Google Analytics export (``ga_sessions_YYYYMMDD`` as
NDJSON, ``.json`` or gzip-compressed ``.json.gz``) into ``raw/ga_sessions/``, one gzip file per session date,
lines kept byte for byte; and a visitor map
(``fullVisitorId,client_id``, with or without a header) into ``raw/visitor_map/``."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from c360.errors import C360Error
from c360.storage import Lake
from ingestion import ga_sessions, visitor_map
from ingestion.common import start_of_day
from ingestion.importers.report import TableImport, record

_DATE = re.compile(r"^\d{8}$")
_VISITOR_ROW = re.compile(r"^\s*(\d{1,25})\s*,\s*(\d{1,18})\s*$")


class GaImportError(C360Error):
    """The input is not what the importer reads (e.g. a folder without GA files)."""


def _ga_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz")))
    if not files:
        raise GaImportError(
            f"no .json or .json.gz files under {folder}: expected BigQuery ga_sessions_YYYYMMDD exports"
        )
    return files


def _read(path: Path) -> bytes:
    if not path.name.endswith(".gz"):
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise GaImportError(f"{path} is not a readable gzip file: {exc}") from exc


def import_sessions(lake: Lake, folder: Path) -> tuple[TableImport, list[tuple[str, int]]]:
    """Land every session line under its ``date``; lines that are not a GA session object are quarantined."""
    table = TableImport(source="import_ga_sessions")
    by_day: dict[str, list[bytes]] = defaultdict(list)
    for path in _ga_files(folder):
        table.files.append(str(path))
        for number, raw in enumerate(_read(path).splitlines(), start=1):
            table.input_rows += 1
            text = raw.decode("utf-8", errors="replace")
            try:
                session = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                table.reject(str(path), number, text, f"not JSON: {exc}")
                continue
            day = session.get("date") if isinstance(session, dict) else None
            if not isinstance(day, str) or not _DATE.match(day):
                table.reject(str(path), number, text, "not a GA session object with a YYYYMMDD date")
                continue
            by_day[day].append(raw)
            table.landed_rows += 1
    written = []
    for day in sorted(by_day):
        when = datetime.strptime(day, "%Y%m%d").date()
        uri = ga_sessions.write_raw(lake, when, b"".join(line + b"\n" for line in by_day[day]))
        written.append((uri, len(by_day[day])))
    return table, written


def import_visitor_map(lake: Lake, path: Path, as_of: date) -> tuple[TableImport, str]:
    """Land a visitor map as ``raw/visitor_map/ingest_date=<as_of>/...csv`` with our header; ids stay strings."""
    table = TableImport(source="import_visitor_map", files=[str(path)])
    rows = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        text = raw.decode("utf-8-sig", errors="replace")
        if number == 1 and text.replace(" ", "").lower().startswith("fullvisitorid"):
            continue  # a header, not a record
        table.input_rows += 1
        match = _VISITOR_ROW.match(text)
        if not match:
            table.reject(str(path), number, text, "expected fullVisitorId,client_id (digits)")
            continue
        rows.append(f"{match.group(1)},{int(match.group(2))}")
        table.landed_rows += 1
    uri = visitor_map.raw_uri(lake, start_of_day(as_of))
    lake.write_bytes(uri, ("fullVisitorId,client_id\n" + "".join(r + "\n" for r in rows)).encode())
    return table, uri


def run(
    lake: Lake, folder: Path, visitor_map_file: Path | None, fallback_day: date
) -> list[dict[str, object]]:
    """Import the sessions, and the visitor map as of the day after the last session day (``fallback_day`` when
    no session landed)."""
    sessions, written = import_sessions(lake, folder)
    audits = [record(lake, sessions)]
    if visitor_map_file is not None:
        days = [date.fromisoformat(Path(uri).parent.name.removeprefix("ingest_date=")) for uri, _ in written]
        as_of = max(days) + timedelta(days=1) if days else fallback_day
        mapping, _ = import_visitor_map(lake, visitor_map_file, as_of)
        audits.append(record(lake, mapping))
    return audits
