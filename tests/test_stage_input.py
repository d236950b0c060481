"""How much a stage will read, told from the lake before Spark starts (``c360 stage`` picks the JVM's compilers by
it). The bookmarks here are written in the jobs' formats by hand; ``tests/test_end_to_end.py`` checks the same on
the bookmarks real stage jobs write."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.pipeline import STAGE_JOBS, stage_input_is_small, unstaged_raw_bytes
from c360.storage import Lake
from spark_jobs.common.code_version import stage_code_fingerprint
from spark_jobs.common.session import SMALL_INPUT_BYTES


def write_raw(lake: Lake, relative: str, size: int) -> None:
    lake.write_bytes(lake.uri("raw", relative), b"x" * size)


def write_bookmarks(lake: Lake, staged: dict[str, dict[str, int]]) -> None:
    """A bookmark for every stage job: ``staged`` maps a file source to {path below its raw folder: size}; the
    database's job keeps a high-water mark instead of files."""
    for job in STAGE_JOBS:
        source = job.removeprefix("stage_")
        code = stage_code_fingerprint(source)
        if source == "transactions":
            document: dict = {"source": source, "table": "public.transactions", "last_value": 9, "code": code}
        else:
            files = {
                key: {"size": size, "modified_ms": 1, "partitions": [], "batch_id": "b"}
                for key, size in staged.get(source, {}).items()
            }
            document = {"version": 1, "source": source, "files": files, "inputs": {"code": code}}
        lake.write_json(lake.uri("logs", "bookmarks", f"{source}.json"), document)


def test_a_lake_without_bookmarks_is_read_whole(lake: Lake) -> None:
    write_raw(lake, "crm/ingest_date=2025-01-01/crm.jsonl", 10)
    assert unstaged_raw_bytes(lake) is None
    assert not stage_input_is_small(lake)


def test_a_job_without_its_bookmark_makes_the_input_unknown(lake: Lake) -> None:
    write_bookmarks(lake, {})
    Path(lake.uri("logs", "bookmarks", "transactions.json")).unlink()
    assert unstaged_raw_bytes(lake) is None
    assert not stage_input_is_small(lake)


@pytest.fixture(params=["local", "s3"])
def any_lake(request: pytest.FixtureRequest, lake: Lake) -> Lake:
    """The lake of the test, in a local folder or in S3 (moto over HTTP)."""
    if request.param == "local":
        return lake
    import boto3

    request.getfixturevalue("aws_env")
    boto3.client("s3").create_bucket(Bucket="c360-stage-input")
    return Lake("s3://c360-stage-input/lake")


@pytest.mark.parametrize(
    ("source", "document"),
    [
        ("accounts", "{not json"),  # unreadable: the job stages every file again
        (
            "crm_customers",
            '{"version": 1, "source": "crm_customers", "files": {}, "inputs": {"code": "old"}}',
        ),
        (
            "transactions",
            '{"source": "transactions", "last_value": 9, "code": "old"}',
        ),  # extracts every row again
    ],
)
def test_a_bookmark_unreadable_or_of_other_stage_code_makes_the_input_unknown(
    lake: Lake, source: str, document: str
) -> None:
    write_bookmarks(lake, {})
    assert unstaged_raw_bytes(lake) == 0
    lake.write_bytes(lake.uri("logs", "bookmarks", f"{source}.json"), document.encode())
    assert unstaged_raw_bytes(lake) is None
    assert not stage_input_is_small(lake)


def test_only_files_no_bookmark_holds_in_their_size_count(any_lake: Lake) -> None:
    lake = any_lake
    write_raw(lake, "crm/ingest_date=2025-01-01/crm_1.jsonl", 100)  # staged
    write_raw(lake, "crm/ingest_date=2025-01-02/crm_2.jsonl", 30)  # new
    write_raw(lake, "ga_sessions/ingest_date=2025-01-01/ga_1.json.gz", 70)  # staged at another size: changed
    write_raw(lake, "mainframe/account/ingest_date=2025-01-01/acct_1.dat", 50)  # staged, below two folders
    write_raw(lake, "crm/ingest_date=2025-01-01/_crm_1.jsonl.tmp", 1000)  # hidden: no job reads it
    write_bookmarks(
        lake,
        {
            "crm_customers": {"ingest_date=2025-01-01/crm_1.jsonl": 100},
            "ga_sessions": {"ingest_date=2025-01-01/ga_1.json.gz": 60},
            "accounts": {"ingest_date=2025-01-01/acct_1.dat": 50},
        },
    )
    assert unstaged_raw_bytes(lake) == 30 + 70
    assert stage_input_is_small(lake)
    assert not stage_input_is_small(lake, full_refresh=True)  # every file is read again


@pytest.mark.parametrize(("new_bytes", "small"), [(SMALL_INPUT_BYTES - 1, True), (SMALL_INPUT_BYTES, False)])
def test_small_means_below_the_small_input_bytes_of_the_jobs(lake: Lake, new_bytes: int, small: bool) -> None:
    write_raw(lake, "retail_orders/ingest_date=2025-01-02/retail_orders.csv", new_bytes)
    write_bookmarks(lake, {})
    assert stage_input_is_small(lake) is small


def test_a_batch_counts_with_the_whole_table_it_is_merged_into(lake: Lake) -> None:
    """A line source merges its batch with its whole stage table (a large table makes a large stage, however
    small the batch); GA and the transactions read back only the months a batch touches."""
    write_bookmarks(lake, {})
    lake.write_bytes(lake.uri("stage", "crm_customers", "part-0.parquet"), b"x" * SMALL_INPUT_BYTES)
    write_raw(lake, "ga_sessions/ingest_date=2025-01-02/ga_sessions_20250102.json.gz", 10)
    write_raw(lake, "mainframe/account/ingest_date=2025-01-02/account_20250102.dat", 0)  # an empty increment
    write_raw(lake, "account/ingest_date=2025-01-02/account_20250102.dat", 0)
    assert stage_input_is_small(lake)
    write_raw(lake, "crm/ingest_date=2025-01-02/crm_20250102.jsonl", 10)
    assert not stage_input_is_small(lake)


def test_a_stage_asks_only_when_its_caller_has_not_decided(
    settings, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pipeline.stage(small_input=...)` starts its JVM as told (the harness has decided already, for the JVM it
    times); without it, it asks :func:`stage_input_is_small` once."""
    import c360.spark
    from c360 import pipeline

    class Started(Exception):
        """Stops the stage where its session starts: the jobs are not what this is about."""

    started: list[bool] = []
    asked: list[bool] = []

    def session(settings: object, small_input: bool = False) -> object:
        started.append(small_input)
        raise Started

    def is_small(lake: Lake, full_refresh: bool = False) -> bool:
        asked.append(full_refresh)
        return True

    monkeypatch.setattr(c360.spark, "local_session", session)
    monkeypatch.setattr(pipeline, "stage_input_is_small", is_small)
    for small_input in (False, True):
        with pytest.raises(Started):
            pipeline.stage(settings, lake, small_input=small_input)
    assert (started, asked) == ([False, True], [])
    with pytest.raises(Started):
        pipeline.stage(settings, lake, full_refresh=True)
    assert (started, asked) == ([False, True, True], [True])
