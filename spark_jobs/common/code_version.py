"""The version of the stage code, as incremental jobs record it beside what they staged: a job whose code changed
since stages every file again, so that a new rule reaches the rows staged before (as dbt's incremental models here
rebuild when their logic changed: ``macros/incremental.sql``)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

PACKAGES = ("spark_jobs", "ingestion.copybooks")
"""The stage code: every module of the jobs, and the copybooks that lay out the mainframe records."""


@cache
def stage_code_fingerprint() -> str:
    """A digest of the files of ``PACKAGES``, read through the import system, so that it is the same from a
    checkout and from the library zip Glue and EMR import the jobs from."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for name, data in _package_files(resources.files(package), package):
            digest.update(f"{name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()[:16]


def _package_files(folder: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir() and entry.name != "__pycache__":
            found.extend(_package_files(entry, f"{prefix}/{entry.name}"))
        elif entry.is_file() and entry.name.endswith((".py", ".cpy")):
            found.append((f"{prefix}/{entry.name}", entry.read_bytes()))
    return found
