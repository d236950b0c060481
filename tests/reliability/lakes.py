"""Helpers of the reliability tests: content hashes of lake tables, lake copies, and file systems mounted to fail
(a full disk, a read-only lake)."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

HIDDEN = ("_", ".")


def _parquet_view(folder: Path) -> duckdb.DuckDBPyConnection:
    files = [p for p in folder.rglob("*.parquet") if not p.name.startswith(HIDDEN)]
    assert files, f"no Parquet files under {folder}"
    con = duckdb.connect()
    con.sql(
        f"create view t as select * from read_parquet({[str(p) for p in files]!r}, hive_partitioning = true, "
        "union_by_name = true)"
    )
    return con


def table_hash(folder: Path, exclude: tuple[str, ...] = ()) -> str:
    """An order-insensitive hash of a Parquet table's rows (every column but ``exclude``, every bit), read with
    DuckDB: the same rows in any file layout or row order give the same hash."""
    con = _parquet_view(folder)
    columns = [f'"{name}"' for name, *_ in con.sql("describe t").fetchall() if name not in exclude]
    (digest,) = con.sql(
        "select md5(string_agg(row_hash, '' order by row_hash)) "
        f"from (select md5(cast(row({', '.join(columns)}) as varchar)) as row_hash from t)"
    ).fetchone()
    return digest


RELATIVE_TOLERANCE = 1e-9
"""How close two numbers of exported items must be (the DynamoDB JSON writes them as decimal text)."""

Rows = tuple[list[str], list[tuple[Any, ...]]]
"""A table's column names and its rows."""


def table_rows(folder: Path) -> Rows:
    """A table's rows sorted by every column, for :func:`assert_same_rows`."""
    con = _parquet_view(folder)
    columns = [name for name, *_ in con.sql("describe t").fetchall()]
    order = ", ".join(f'"{name}"' for name in columns)
    return columns, con.sql(f"select * from t order by {order} nulls first").fetchall()


def assert_same_rows(name: str, before: Rows, after: Rows) -> None:
    """The same columns and the same rows, value for value (NaN equal to NaN)."""
    assert after[0] == before[0], f"{name}: the columns changed"
    assert len(after[1]) == len(before[1]), f"{name}: {len(before[1])} rows, then {len(after[1])}"
    for old, new in zip(before[1], after[1], strict=True):
        same = all(
            a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
            for a, b in zip(old, new, strict=True)
        )
        assert same, f"{name}: {old} != {new}"


def zone_hashes(zone: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """The :func:`table_hash` of every table folder of a zone (stage/, analytics/), hidden folders excluded; none
    for a zone that is not there (``stage/_quarantine`` of a lake without a bad record)."""
    if not zone.is_dir():
        return {}
    return {
        folder.name: table_hash(folder, exclude)
        for folder in sorted(zone.iterdir())
        if folder.is_dir() and not folder.name.startswith(HIDDEN) and any(folder.rglob("*.parquet"))
    }


MARTS_IGNORED = ("exports", "dashboard")


def mart_folders(lake: Path) -> dict[str, Path]:
    analytics = lake / "analytics"
    return {
        folder.name: folder
        for folder in sorted(analytics.iterdir())
        if folder.is_dir()
        and folder.name not in MARTS_IGNORED
        and not folder.name.startswith(HIDDEN)
        and any(folder.glob("*.parquet"))
    }


def mart_hashes(lake: Path) -> dict[str, str]:
    return {name: table_hash(folder) for name, folder in mart_folders(lake).items()}


def mart_rows(lake: Path) -> dict[str, Rows]:
    return {name: table_rows(folder) for name, folder in mart_folders(lake).items()}


def assert_same_marts(before: dict[str, Rows], after: dict[str, Rows]) -> None:
    assert sorted(after) == sorted(before)
    for name, rows in before.items():
        assert_same_rows(name, rows, after[name])


def file_bytes(zone: Path) -> dict[str, str]:
    """sha256 of every file below ``zone``, by relative path."""
    return {
        str(p.relative_to(zone)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(zone.rglob("*"))
        if p.is_file()
    }


def export_folders(lake: Path) -> list[str]:
    root = lake / "analytics" / "exports" / "dynamodb"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def export_items(lake: Path, run_id: str) -> dict[str, dict[str, Any]]:
    """The items of one DynamoDB JSON export, by client_id."""
    items = {}
    for data in sorted((lake / "analytics" / "exports" / "dynamodb" / run_id / "data").glob("*.json.gz")):
        for line in gzip.decompress(data.read_bytes()).decode().splitlines():
            item = json.loads(line)["Item"]
            items[item["client_id"]["N"]] = item
    return items


def assert_same_items(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    """The same items, attribute by attribute; numbers within :data:`RELATIVE_TOLERANCE`."""
    assert sorted(after) == sorted(before), "not the same client_ids"
    for key, item in before.items():
        other = after[key]
        assert sorted(other) == sorted(item), f"client_id {key}: not the same attributes"
        for name, value in item.items():
            if "N" in value:
                assert math.isclose(
                    float(value["N"]), float(other[name]["N"]), rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9
                ), f"client_id {key}, {name}: {value} != {other[name]}"
            else:
                assert other[name] == value, f"client_id {key}, {name}: {value} != {other[name]}"


def copy_lake(source: Path, target: Path) -> Path:
    """A copy of a built lake without its local PostgreSQL cluster (the copy cannot run `c360 generate`)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_services"), symlinks=True)
    return target


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


def can_mount(scratch: Path) -> bool:
    """Whether this process may mount file systems (root with CAP_SYS_ADMIN, as in the project's container)."""
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(scratch))
    except (OSError, subprocess.CalledProcessError):
        return False
    _run("umount", str(scratch))
    return True


def used_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@contextmanager
def tmpfs_in_place(folder: Path, size_bytes: int) -> Iterator[Path]:
    """Replace ``folder`` by a tmpfs of ``size_bytes`` holding a copy of its files: the disk fills up at that size.
    On exit the tmpfs content is copied back and the tmpfs is removed."""
    saved = folder.with_name(folder.name + ".saved")
    if folder.exists():
        folder.rename(saved)
    folder.mkdir()
    _run("mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder))
    try:
        if saved.exists():
            shutil.copytree(saved, folder, dirs_exist_ok=True, symlinks=True)
        yield folder
    finally:
        keep = folder.with_name(folder.name + ".after")
        try:
            _run("mount", "-o", "remount,size=1g", str(folder))
            shutil.copytree(folder, keep, symlinks=True)
        finally:
            try:
                _run("umount", str(folder))
            except (
                subprocess.CalledProcessError
            ):  # a file still open (Spark's failed writer): detach it lazily
                _run("umount", "--lazy", str(folder))
        folder.rmdir()
        keep.rename(folder)
        shutil.rmtree(saved, ignore_errors=True)


def grow_tmpfs(folder: Path, size: str = "1g") -> None:
    """Free space on a :func:`tmpfs_in_place` (the user freed some disk)."""
    _run("mount", "-o", f"remount,size={size}", str(folder))


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """Make ``folder`` read-only for everyone, root included: a read-only bind mount onto itself."""
    _run("mount", "--bind", str(folder), str(folder))
    try:
        _run("mount", "-o", "remount,bind,ro", str(folder))
        yield folder
    finally:
        _run("umount", str(folder))
