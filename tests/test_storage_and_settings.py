from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from c360.settings import Settings, normalize_lake
from c360.storage import Lake, LakeError, gzip_lines


def test_lake_defaults_to_env_then_local_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("C360_LAKE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings().lake == str(tmp_path / "lake")
    monkeypatch.setenv("C360_LAKE", "s3://bucket/prefix/")
    assert Settings().lake == "s3://bucket/prefix"
    assert Settings().with_overrides(lake="other").lake == str(tmp_path / "other")


def test_bad_numeric_env_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SCALE", "lots")
    with pytest.raises(ValueError, match="C360_SCALE='lots' is not a number"):
        Settings()


def test_zones_and_uris(tmp_path: Path) -> None:
    lake = Lake(normalize_lake(tmp_path / "lk"))
    lake.ensure_zones()
    assert sorted(p.name for p in (tmp_path / "lk").iterdir()) == ["analytics", "logs", "raw", "stage"]
    assert lake.uri("raw", "crm", "a.jsonl") == str(tmp_path / "lk" / "raw" / "crm" / "a.jsonl")
    with pytest.raises(LakeError, match="unknown lake zone 'bronze'"):
        lake.uri("bronze")


def test_s3_lake_reads_and_writes_through_s3_over_http(aws_env: str) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket="c360-lake")
    lake = Lake("s3://c360-lake/dev")
    assert not lake.is_local
    target = lake.uri("raw", "crm", "ingest_date=2024-12-31", "a.jsonl")
    assert target == "s3://c360-lake/dev/raw/crm/ingest_date=2024-12-31/a.jsonl"
    lake.write_bytes(target, b'{"client_id": 1}\n')
    assert lake.read_bytes(target) == b'{"client_id": 1}\n'
    assert [(f.uri, f.size) for f in lake.list_files(lake.uri("raw"))] == [(target, 17)]
    body = boto3.client("s3").get_object(Bucket="c360-lake", Key="dev/raw/crm/ingest_date=2024-12-31/a.jsonl")
    assert body["Body"].read() == b'{"client_id": 1}\n'


def test_unsupported_scheme_is_a_clear_error() -> None:
    with pytest.raises(LakeError, match="unsupported lake URI"):
        Lake("ftp://host/lake")


def test_write_is_atomic_and_listing_skips_hidden_files(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    target = lake.uri("raw", "crm", "x.jsonl")
    lake.write_bytes(target, b"one\n")
    lake.write_bytes(target, b"two\n")
    (tmp_path / "raw" / "crm" / ".partial.tmp").write_text("half")
    (tmp_path / "raw" / "crm" / "_SUCCESS").write_text("")
    assert lake.read_bytes(target) == b"two\n"
    assert [f.uri for f in lake.list_files(lake.uri("raw", "crm"))] == [target]


def test_gzip_lines_are_deterministic() -> None:
    data, count = gzip_lines(iter(["x", "y"]))
    assert count == 2 and gzip.decompress(data) == b"x\ny\n"
    assert data[4:8] == bytes(4)  # no timestamp in the gzip header: the same lines give the same bytes
    assert gzip_lines(["x", "y"]) == (data, 2)


def test_missing_file_is_a_lake_error(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    with pytest.raises(LakeError, match="does not exist"):
        lake.read_bytes(lake.uri("raw", "nope"))
