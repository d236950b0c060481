"""One storage abstraction for the lake: local paths and ``s3://`` URIs through pyarrow filesystems.

The lake has four zones that mirror the design's four buckets: ``raw`` (bronze), ``stage`` (silver),
``analytics`` (gold) and ``logs``. Code asks the :class:`Lake` for URIs and reads and writes through it; it never
branches on local versus S3 itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

ZONES = ("raw", "stage", "analytics", "logs")
GZIP_LINES_LEVEL = 6
"""Compression level of :func:`gzip_lines` (zlib's default)."""


def gzip_lines(lines: Iterable[str]) -> tuple[bytes, int]:
    """Text lines as a gzip file's bytes (deterministic: no timestamp in the header), and their count. The lines
    are compressed as they come: only the compressed bytes are held."""
    count = 0
    # gzip's format without a timestamp, at zlib's default level: a DynamoDB export at level 9 spent 3x the
    # time compressing (0.68 s vs 0.21 s for 5,000 profiles) for a file 10% smaller
    stream = zlib.compressobj(GZIP_LINES_LEVEL, zlib.DEFLATED, 31)
    parts = []
    for line in lines:
        parts.append(stream.compress(f"{line}\n".encode()))
        count += 1
    parts.append(stream.flush())
    return b"".join(parts), count


class LakeError(RuntimeError):
    """A lake operation failed in a way the user can act on."""


@dataclass(frozen=True)
class FileInfo:
    uri: str
    size: int


class Lake:
    """The data lake rooted at a local directory or an S3 prefix."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        scheme = self.root.split("://", 1)[0] if "://" in self.root else "file"
        self.is_local = scheme == "file"
        if self.is_local:
            self.fs: pafs.FileSystem = pafs.LocalFileSystem()
        elif scheme in ("s3", "s3a"):
            self.fs = s3_filesystem()
        else:
            raise LakeError(f"unsupported lake URI {self.root!r}: use a local folder or s3://bucket/prefix")

    # --- addressing -------------------------------------------------------------------------------
    def uri(self, zone: str, *parts: str) -> str:
        """The URI of ``parts`` inside ``zone`` (a plain absolute path for a local lake)."""
        if zone not in ZONES:
            raise LakeError(f"unknown lake zone {zone!r}; expected one of {', '.join(ZONES)}")
        return posixpath.join(self.root, zone, *parts)

    def _path(self, uri: str) -> str:
        if self.is_local:
            return uri[len("file://") :] if uri.startswith("file://") else uri
        scheme_less = uri.split("://", 1)[1]
        return scheme_less

    def _uri(self, path: str) -> str:
        if self.is_local:
            return path
        return f"{self.root.split('://', 1)[0]}://{path}"

    # --- queries ----------------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        return self.fs.get_file_info(self._path(uri)).type != pafs.FileType.NotFound

    def list_files(self, uri: str, suffix: str = "") -> list[FileInfo]:
        """Every file below ``uri`` (recursively) whose name ends with ``suffix``, sorted by URI.

        Hidden and temporary files (names starting with ``.`` or ``_``) are skipped, as Spark and Hive skip them.
        """
        selector = pafs.FileSelector(self._path(uri), recursive=True, allow_not_found=True)
        found = []
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File or not info.path.endswith(suffix):
                continue
            relative = info.path[len(self._path(uri)) :].lstrip("/")
            if any(part.startswith((".", "_")) for part in relative.split("/")):
                continue
            found.append(FileInfo(uri=self._uri(info.path), size=info.size))
        return sorted(found, key=lambda f: f.uri)

    # --- reads and writes -------------------------------------------------------------------------
    def read_bytes(self, uri: str) -> bytes:
        try:
            with self.fs.open_input_stream(self._path(uri), compression=None) as stream:
                return stream.read()
        except FileNotFoundError as exc:
            raise LakeError(f"{uri} does not exist") from exc

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write ``data`` to ``uri`` atomically: readers see the old file or the new one, never a part."""
        path = self._path(uri)
        parent = posixpath.dirname(path)
        try:
            self.fs.create_dir(parent, recursive=True)
            if self.is_local:
                tmp = posixpath.join(parent, f".{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp")
                try:
                    with self.fs.open_output_stream(tmp, compression=None) as out:
                        out.write(data)
                    self.fs.move(tmp, path)
                except OSError:
                    with contextlib.suppress(OSError):  # a full disk leaves no partial temporary file behind
                        self.fs.delete_file(tmp)
                    raise
            else:  # an S3 PUT is atomic by itself
                with self.fs.open_output_stream(path, compression=None) as out:
                    out.write(data)
        except OSError as exc:
            raise LakeError(f"cannot write {uri}: {exc}") from exc

    def read_json(self, uri: str) -> Any:
        return json.loads(self.read_bytes(uri))

    def write_json(self, uri: str, value: Any) -> None:
        self.write_bytes(uri, (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode())

    def read_parquet(self, uri: str) -> pa.Table:
        """Read a Parquet file or a directory of Parquet files (hive partitions included)."""
        try:
            return pq.read_table(self._path(uri), filesystem=self.fs)
        except (FileNotFoundError, pa.ArrowInvalid) as exc:
            raise LakeError(f"cannot read Parquet at {uri}: {exc}") from exc

    def delete_dir(self, uri: str) -> None:
        path = self._path(uri)
        if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
            self.fs.delete_dir(path)

    def ensure_zones(self) -> None:
        for zone in ZONES:
            self.fs.create_dir(self._path(self.uri(zone)), recursive=True)


def s3_filesystem() -> pafs.S3FileSystem:
    """S3 through pyarrow, configured like boto3: region from ``AWS_REGION``/``AWS_DEFAULT_REGION``, endpoint from
    ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` (moto or another S3-compatible store), credentials from the usual
    chain. Nothing is contacted until the first read or write."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {"region": region}
    if endpoint:
        options["endpoint_override"] = endpoint
        options["scheme"] = "https" if endpoint.startswith("https") else "http"
        options["force_virtual_addressing"] = False
    return pafs.S3FileSystem(**options)
