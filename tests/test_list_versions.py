"""``list_versions``: the raw files an incremental stage job compares with its bookmark. A local folder is walked in
Python, any other URI through Hadoop's file system; both must give the same files, sizes and modification times,
or a bookmark written by one would restage everything when read by the other."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spark_jobs.common.file_bookmarks import FileVersion, list_versions
from spark_jobs.common.hadoopfs import HadoopFS, _local_path

SUFFIXES = (".json", ".json.gz")
MTIME_NS = 1_700_000_000_123_999_999
"""A modification time with sub-millisecond digits: both walks must truncate it to ...123 ms."""


def _walk_hadoop(spark, uri: str, suffixes: tuple[str, ...]) -> list[FileVersion]:
    """What Hadoop's file system lists (the walk every URI but a local one takes)."""
    return [FileVersion(*found) for found in sorted(HadoopFS(spark)._walk_hadoop(uri, suffixes))]


def _tree(root: Path) -> set[str]:
    """Write a raw folder with hidden files and folders, other suffixes and nested partitions; the files a listing
    must return."""
    files = {
        "ingest_date=2024-01-01/a.json.gz": b"\x1f\x8b" + b"x" * 40,
        "ingest_date=2024-01-01/b.json": b'{"k": 1}\n',
        "ingest_date=2024-01-01/c.txt": b"other suffix",
        "ingest_date=2024-01-01/.b.json.crc": b"checksum",
        "ingest_date=2024-01-01/_temporary.json": b"{}",
        "_staging/x.json": b"{}",
        ".spark/y.json": b"{}",
        "ingest_date=2024-01-02/nested/deeper/d.json": b"",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(MTIME_NS, MTIME_NS))
    (root / "ingest_date=2024-01-03").mkdir()
    return {
        str(root / "ingest_date=2024-01-01/a.json.gz"),
        str(root / "ingest_date=2024-01-01/b.json"),
        str(root / "ingest_date=2024-01-02/nested/deeper/d.json"),
    }


def test_the_local_walk_lists_what_hadoop_lists(spark, tmp_path: Path) -> None:
    root = tmp_path / "raw" / "ga_sessions"
    expected = _tree(root)
    listed = list_versions(spark, str(root), SUFFIXES)
    assert {f.uri for f in listed} == expected
    assert [f.uri for f in listed] == sorted(expected)
    assert listed == _walk_hadoop(spark, str(root), SUFFIXES)
    assert {f.modified_ms for f in listed} == {MTIME_NS // 1_000_000}
    assert {f.uri: f.size for f in listed}[str(root / "ingest_date=2024-01-01/a.json.gz")] == 42
    remote = HadoopFS(spark).list_files(str(root), SUFFIXES)
    assert [(f.uri, f.size) for f in remote] == [(f.uri, f.size) for f in listed]
    # Every spelling of the folder lists the same files; no suffixes lists every file that is not hidden.
    for spelling in (f"{root}/", root.as_uri(), f"{root.as_uri()}/", str(root).replace("/raw/", "//raw/")):
        assert list_versions(spark, spelling, SUFFIXES) == listed
    everything = list_versions(spark, str(root), ())
    assert {f.uri for f in everything} == expected | {str(root / "ingest_date=2024-01-01/c.txt")}
    assert everything == _walk_hadoop(spark, str(root), ())


def test_a_file_or_a_missing_folder_lists_as_hadoop_lists_it(spark, tmp_path: Path) -> None:
    root = tmp_path / "raw"
    _tree(root)
    single = root / "ingest_date=2024-01-01" / "b.json"
    assert list_versions(spark, str(single), SUFFIXES) == [FileVersion(str(single), 9, MTIME_NS // 1_000_000)]
    assert list_versions(spark, str(single), SUFFIXES) == _walk_hadoop(spark, str(single), SUFFIXES)
    assert list_versions(spark, str(single), (".csv",)) == [] == _walk_hadoop(spark, str(single), (".csv",))
    assert list_versions(spark, str(tmp_path / "missing"), SUFFIXES) == []
    assert _walk_hadoop(spark, str(tmp_path / "missing"), SUFFIXES) == []


def test_a_changed_file_lists_with_its_new_version(spark, tmp_path: Path) -> None:
    root = tmp_path / "raw"
    _tree(root)
    changed = root / "ingest_date=2024-01-01" / "b.json"
    changed.write_bytes(b'{"k": 2}\n{"k": 3}\n')
    os.utime(changed, ns=(MTIME_NS + 5_000_000, MTIME_NS + 5_000_000))
    versions = {f.uri: f for f in list_versions(spark, str(root), SUFFIXES)}
    assert versions[str(changed)] == FileVersion(str(changed), 18, MTIME_NS // 1_000_000 + 5)
    assert list(versions.values()) == _walk_hadoop(spark, str(root), SUFFIXES)


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("/lake/raw/crm", "/lake/raw/crm"),
        ("/lake/raw/crm/", "/lake/raw/crm"),
        ("//lake//raw/crm", "/lake/raw/crm"),
        ("file:///lake/raw/crm", "/lake/raw/crm"),
        ("file:/lake/raw/crm", "/lake/raw/crm"),
        ("file:///lake/raw/a%20b", "/lake/raw/a%20b"),
        ("file://host/lake/raw", None),
        ("s3://bucket/lake/raw/crm", None),
        ("s3a://bucket/raw", None),
        ("hdfs://namenode:8020/raw", None),
        ("lake/raw/crm", None),
    ],
)
def test_only_absolute_local_paths_are_walked_locally(uri: str, local: str | None) -> None:
    assert _local_path(uri) == local
