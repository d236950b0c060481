"""Small file operations through Hadoop's FileSystem API, so the same job code works on local paths, ``s3://``
(EMRFS, Glue) and ``s3a://``: listing inputs, writing audit records, and the atomic swap of a finished output."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class RemoteFile:
    uri: str
    size: int


class HadoopFS:
    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        # Resolved once: py4j looks a class up one name at a time (org, apache, hadoop, fs, Path), a round trip to
        # the JVM each, which made every path five calls (3 s of a scale-1 stage's 121 month swaps).
        self._path_class = self._jvm.org.apache.hadoop.fs.Path
        self._file_systems: dict[str, object] = {}

    def _path(self, uri: str):
        return self._path_class(_hadoop_uri(uri))

    def _fs(self, uri: str):
        """The file system of ``uri``'s scheme and authority (Hadoop caches them too; this saves the calls)."""
        hadoop_uri = _hadoop_uri(uri)
        parts = urlsplit(hadoop_uri)
        key = f"{parts.scheme}://{parts.netloc}"
        fs = self._file_systems.get(key)
        if fs is None:
            fs = self._file_systems[key] = self._path_class(hadoop_uri).getFileSystem(self._conf)
        return fs

    def exists(self, uri: str) -> bool:
        return bool(self._fs(uri).exists(self._path(uri)))

    def list_files(self, uri: str, suffixes: tuple[str, ...] = ()) -> list[RemoteFile]:
        """Files below ``uri``, recursively, skipping hidden and ``_``-prefixed names, sorted by URI."""
        if not self.exists(uri):
            return []
        iterator = self._fs(uri).listFiles(self._path(uri), True)
        root = self._path(uri).toUri().getPath().rstrip("/")
        found = []
        while iterator.hasNext():
            status = iterator.next()
            path = status.getPath()
            relative = path.toUri().getPath()[len(root) :].lstrip("/")
            if any(part.startswith((".", "_")) for part in relative.split("/")):
                continue
            text = _plain_uri(path.toString())
            if suffixes and not text.endswith(suffixes):
                continue
            found.append(RemoteFile(uri=text, size=int(status.getLen())))
        return sorted(found, key=lambda f: f.uri)

    def write_text(self, uri: str, text: str) -> None:
        """Write a small text file: to a temporary name first, then renamed into place."""
        fs = self._fs(uri)
        target = self._path(uri)
        tmp = self._path(uri + ".tmp")
        out = fs.create(tmp, True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()
        if fs.exists(target):
            fs.delete(target, False)
        if not fs.rename(tmp, target):
            raise OSError(f"could not move {uri}.tmp into place")

    def read_text(self, uri: str) -> str:
        fs = self._fs(uri)
        stream = fs.open(self._path(uri))
        try:
            data = self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
        finally:
            stream.close()
        return bytes(data).decode("utf-8")

    def delete(self, uri: str) -> None:
        fs = self._fs(uri)
        if fs.exists(self._path(uri)):
            fs.delete(self._path(uri), True)

    def rename(self, source: str, target: str) -> None:
        fs = self._fs(target)
        fs.mkdirs(self._path(target).getParent())
        if not fs.rename(self._path(source), self._path(target)):
            raise OSError(f"could not rename {source} to {target}")

    def replace_dir(self, staged: str, target: str) -> None:
        """Publish a finished output directory: the old one is moved aside, the new one moved in, the old one
        removed. Readers never see a half-written directory; a crash between the two renames leaves the previous
        version under ``<target>.old`` for the next run to restore."""
        old = target.rstrip("/") + ".old"
        self.delete(old)
        if self.exists(target):
            self.rename(target, old)
        self.rename(staged, target)
        self.delete(old)


def _hadoop_uri(uri: str) -> str:
    return uri if "://" in uri else "file://" + uri


def _plain_uri(text: str) -> str:
    return text[len("file:") :] if text.startswith("file:") else text
