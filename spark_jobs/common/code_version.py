"""The version of a stage job's code, as incremental jobs record it beside what they staged: a job whose code
changed since stages every file again, so that a new rule reaches the rows staged before (as dbt's incremental
models here rebuild when their logic changed: ``macros/incremental.sql``)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

PACKAGES = ("spark_jobs", "ingestion.copybooks")
"""The stage code: the modules of the jobs, and the copybooks that lay out the mainframe records."""
JOB_PREFIX = "stage_"
"""The jobs are the modules ``spark_jobs/stage_<source>.py``; they import only the shared code, not each other."""


@cache
def stage_code_fingerprint(source: str) -> str:
    """A digest of the code that stages ``source``: its job ``spark_jobs/stage_<source>.py`` and everything the
    jobs share (``spark_jobs/common``, the copybooks), but not the other jobs, so that an edit of one job
    restages that source alone. Read through the import system, so that it is the same from a checkout and from
    the library zip Glue and EMR import the jobs from. (A source without a job module of its own, as in tests:
    the shared code.)"""
    job = f"spark_jobs/{JOB_PREFIX}{source}.py"
    digest = hashlib.sha256()
    for package in PACKAGES:
        for name, data in _package_files(resources.files(package), package.replace(".", "/")):
            is_job = name.count("/") == 1 and name.startswith(f"spark_jobs/{JOB_PREFIX}")
            if not is_job or name == job:
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
