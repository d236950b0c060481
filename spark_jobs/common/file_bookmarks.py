"""File bookmarks of incremental stage jobs: which raw files a job has staged, in which version (size and
modification time), and which stage partitions each produced, so that the next run stages only the files that are
new or changed and rewrites only the partitions they touch. (Sources extracted by key, such as a database table,
keep a high-water mark instead: :mod:`spark_jobs.common.jdbc_bookmark`.)

A bookmark is a small JSON document, ``<logs>/bookmarks/<source>.json``, written (atomically, by rename) only
after the stage partitions of a run are published: a run that dies earlier leaves the previous bookmark, and the
next run redoes the same files. Keys are paths relative to the source's raw folder, so a lake can be moved.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from spark_jobs.common.hadoopfs import HadoopFS

VERSION = 1


@dataclass(frozen=True)
class FileVersion:
    """A raw file as listed now."""

    uri: str
    size: int
    modified_ms: int
    """Modification time, milliseconds since the epoch (S3: the object's Last-Modified)."""


@dataclass(frozen=True)
class StagedFile:
    """What the bookmark remembers of a staged file."""

    size: int
    modified_ms: int
    partitions: tuple[str, ...]
    """The units its valid records belong to that an incremental run rebuilds (GA: ``session_date`` values)."""
    batch_id: str


@dataclass
class FileBookmark:
    source: str
    files: dict[str, StagedFile] = field(default_factory=dict)
    """Relative path -> the version staged."""
    inputs: dict[str, str] = field(default_factory=dict)
    """What else the staged rows were computed from (e.g. the stage code's fingerprint, the parent tables an
    orphan flag was checked against), name -> signature: a job compares them with the current ones."""

    @classmethod
    def load(cls, fs: HadoopFS, uri: str, source: str) -> FileBookmark | None:
        """The bookmark at ``uri``; None when there is none, or it is unreadable or of another format: the caller
        then rebuilds everything, which is always correct, only slower."""
        if not fs.exists(uri):
            return None
        try:
            text = fs.read_text(uri)
        except Py4JJavaError:  # e.g. a checksum error: unreadable
            return None
        try:
            document = json.loads(text)
            if document.get("version") != VERSION or document.get("source") != source:
                return None
            files = {
                key: StagedFile(
                    size=int(entry["size"]),
                    modified_ms=int(entry["modified_ms"]),
                    partitions=tuple(entry["partitions"]),
                    batch_id=str(entry["batch_id"]),
                )
                for key, entry in document["files"].items()
            }
            inputs = {str(name): str(value) for name, value in document.get("inputs", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return cls(source=source, files=files, inputs=inputs)

    def save(self, fs: HadoopFS, uri: str) -> None:
        document = {
            "version": VERSION,
            "source": self.source,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {key: asdict(entry) for key, entry in sorted(self.files.items())},
            "inputs": dict(sorted(self.inputs.items())),
        }
        fs.write_text(uri, json.dumps(document, indent=1, sort_keys=True) + "\n")

    def is_current(self, key: str, version: FileVersion) -> bool:
        """Whether the file ``key`` was staged in exactly this version."""
        staged = self.files.get(key)
        return staged is not None and (staged.size, staged.modified_ms) == (version.size, version.modified_ms)

    def partitions_of(self, keys: set[str]) -> set[str]:
        return {p for key in keys if key in self.files for p in self.files[key].partitions}

    def contributors(self, partitions: set[str], exclude: set[str]) -> tuple[set[str], set[str]]:
        """The staged files (not in ``exclude``) with records in ``partitions``, and ``partitions`` grown by every
        partition those files touch, until nothing is added: rebuilding exactly these partitions from exactly
        these files (plus the excluded ones) gives what rebuilding everything would give them."""
        partitions = set(partitions)
        files: set[str] = set()
        while found := {
            key
            for key, staged in self.files.items()
            if key not in exclude and key not in files and partitions.intersection(staged.partitions)
        }:
            files |= found
            partitions |= self.partitions_of(found)
        return files, partitions


def list_versions(spark: SparkSession, uri: str, suffixes: tuple[str, ...]) -> list[FileVersion]:
    """Files below ``uri`` (recursively, skipping hidden and ``_``-prefixed names), with size and modification
    time, sorted by URI (:meth:`HadoopFS.walk`)."""
    return [FileVersion(*found) for found in HadoopFS(spark).walk(uri, suffixes)]
