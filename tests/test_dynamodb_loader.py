"""The DynamoDB loader against a moto server over real HTTP: the table and its index, BatchWriteItem with
UnprocessedItems resent (faults injected with botocore event hooks), the full refresh through ImportTable or
BatchWriteItem, and the SSM switch readers follow."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import threading
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.awsrequest import AWSResponse

from c360.errors import ExportError, ServiceError
from c360.export import dynamodb_loader as loader
from c360.export.dynamodb import DIRECT_IDENTIFIERS, export_items
from c360.export.dynamodb_loader import (
    BATCH_SIZE,
    DISTRICT_INDEX,
    Backoff,
    check_items,
    dynamodb_client,
    ensure_table,
    full_refresh,
    item_size,
    load_profiles,
    local_endpoint,
    measure_local_items_once,
    resolve_table,
    ssm_parameter_name,
)
from c360.storage import Lake

AS_OF = dt.date(2024, 12, 31)


def mart_rows(count: int, *, start: int = 1, age_offset: int = 0) -> list[dict[str, Any]]:
    """customer_360 rows with direct identifiers and nulls in them, as a careless upstream might deliver."""
    return [
        {
            "client_id": client_id,
            "as_of_date": AS_OF,
            "age": None if client_id % 10 == 0 else 20 + client_id % 50 + age_offset,
            "gender": "female" if client_id % 2 else "male",
            "tenure_years": round(client_id / 7, 2),
            "is_head_of_household": client_id % 3 == 0,
            "occupation": None if client_id % 4 == 0 else "engineer",
            "district_id": None if client_id % 11 == 0 else 1 + client_id % 5,
            "first_name": f"Name{client_id}",
            "email": f"c{client_id}@example.com",
            "birth_date": dt.date(1980, 1, 1),
            "street_address": "1 Main St",
        }
        for client_id in range(start, start + count)
    ]


def write_mart(lake: Lake, rows: list[dict[str, Any]]) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    lake.write_bytes(lake.uri("analytics", "customer_360", "data_0.parquet"), buffer.getvalue())


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(page["Items"])
    deserializer = TypeDeserializer()
    return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]


def assert_protected(client: Any, table: str, key: str | None = None, sse: dict | None = None) -> None:
    """Point-in-time recovery on and KMS encryption at rest (the given key, else the AWS managed one). ``sse``:
    the table's SSE description when the endpoint does not report it (moto ignores ImportTable's)."""
    backups = client.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED", table
    sse = sse or client.describe_table(TableName=table)["Table"].get("SSEDescription", {})
    assert (sse.get("Status"), sse.get("SSEType")) == ("ENABLED", "KMS"), sse
    if key:
        assert sse.get("KMSMasterKeyArn") == key, sse


def unique(prefix: str = "profiles") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def local_lake(tmp_path: Path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    lake.ensure_zones()
    return lake


@pytest.fixture
def ddb(aws_env: str) -> Any:
    return dynamodb_client(aws_env)


def test_client_uses_adaptive_retries_with_ten_attempts(aws_env: str) -> None:
    client = dynamodb_client(aws_env, workers=8)
    # botocore stores retries={"max_attempts": 10} (10 retries) as 11 attempts in all
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}
    assert client.meta.config.max_pool_connections >= 8
    assert client.meta.endpoint_url == aws_env


def test_ensure_table_creates_key_index_and_on_demand_billing(ddb: Any) -> None:
    name = unique()
    assert ensure_table(ddb, name) is True
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "client_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == DISTRICT_INDEX == "by_district"
    assert index["KeySchema"] == [
        {"AttributeName": "district_id", "KeyType": "HASH"},
        {"AttributeName": "client_id", "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types == {"client_id": "N", "district_id": "N"}
    assert ensure_table(ddb, name) is False  # idempotent: the existing table is kept


def test_ensure_table_refuses_a_table_with_other_keys(ddb: Any) -> None:
    name = unique()
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ExportError, match="key schema"):
        ensure_table(ddb, name)


def test_load_writes_every_profile_without_placeholders_or_identifiers(local_lake: Lake, ddb: Any) -> None:
    write_mart(local_lake, mart_rows(60))
    name = unique()
    result = load_profiles(local_lake, name, client=ddb, workers=3)
    assert (result.items, result.batches, result.table) == (60, 3, name)
    items = {int(item["client_id"]): item for item in scan(ddb, name)}
    assert sorted(items) == list(range(1, 61))
    for item in items.values():
        assert not set(item) & DIRECT_IDENTIFIERS
        assert "_" not in item.values() and "" not in item.values()
    assert "age" not in items[10] and "occupation" not in items[4]  # nulls omitted, not 0 or '_'
    assert "district_id" not in items[11]
    assert items[1]["age"] == Decimal(21) and items[7]["tenure_years"] == Decimal("1.0")
    assert items[3]["is_head_of_household"] is True and items[3]["as_of_date"] == "2024-12-31"

    again = load_profiles(local_lake, name, client=ddb)  # upserts: a rerun changes nothing
    assert again.items == 60 and len(scan(ddb, name)) == 60


def test_a_load_after_an_export_writes_the_exported_items_not_the_mart_again(
    local_lake: Lake, ddb: Any
) -> None:
    write_mart(local_lake, mart_rows(30))
    from_mart = unique()
    load_profiles(local_lake, from_mart, client=ddb)
    exported = export_items(local_lake)
    write_mart(
        local_lake, mart_rows(5, start=100)
    )  # the mart changes after the export: the load reads the file

    from_export = unique()
    result = load_profiles(local_lake, from_export, client=ddb, export=exported)
    assert (result.items, result.batches) == (30, 2)

    def by_client(table: str) -> list[dict[str, Any]]:
        return sorted(scan(ddb, table), key=lambda item: item["client_id"])

    assert [int(item["client_id"]) for item in by_client(from_export)] == list(range(1, 31))
    assert by_client(from_export) == by_client(from_mart)  # the same items as the mart gave at export time

    wrong = dataclasses.replace(exported, items=31)
    with pytest.raises(ExportError, match="holds 30 items, but its export wrote 31"):
        load_profiles(local_lake, unique(), client=ddb, export=wrong)


def test_a_load_holds_one_chunk_of_items_at_a_time(
    local_lake: Lake, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mart(local_lake, mart_rows(70))
    name = unique()
    produced: list[int] = []  # items written when each chunk of the write pass was produced
    written = 0

    def count(items: int) -> None:
        nonlocal written
        written += items

    real = loader.profile_chunks

    def watched(lake: Lake, size: int = 20) -> Any:
        chunks = real(lake, size)
        passes = 0

        def again() -> Any:
            nonlocal passes
            passes += 1
            for chunk in chunks():
                if passes == 2:
                    produced.append(written)
                yield chunk

        return again

    monkeypatch.setattr(loader, "profile_chunks", watched)
    result = load_profiles(local_lake, name, client=ddb, workers=3, progress=count)
    assert (result.items, result.batches) == (70, 4)  # chunks of 20, 20, 20, 10: one batch of 25 or less each
    assert produced == [0, 20, 40, 60], "each chunk is produced after the one before it is written"
    assert sorted(int(item["client_id"]) for item in scan(ddb, name)) == list(range(1, 71))


def test_a_duplicate_key_in_a_later_chunk_writes_nothing(
    local_lake: Lake, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader.profile_chunks, "__defaults__", (5,))
    rows = mart_rows(50)
    write_mart(local_lake, [*rows, {**rows[4], "age": 99}])  # sorted by client_id: chunks 1-5, then 5-9
    name = unique()
    with pytest.raises(ExportError, match=r"1 client_id values occur more than once \(e.g. \['5'\]\)"):
        load_profiles(local_lake, name, client=ddb)
    assert name not in ddb.list_tables()["TableNames"], "checked before the table is made"
    chunks = lambda: iter([[{"client_id": {"N": str(i)}} for i in range(1, 4)], [{"client_id": {"N": "2"}}]])  # noqa: E731
    with pytest.raises(ExportError, match=r"occur more than once \(e.g. \['2'\]\)"):
        loader.write_chunks(ddb, unique(), chunks)
    assert loader.check_chunks(lambda: iter([[{"client_id": {"N": "1"}}], [{"client_id": {"N": "2"}}]])) == 2


def test_the_index_answers_customers_of_a_district(local_lake: Lake, ddb: Any) -> None:
    write_mart(local_lake, mart_rows(30))
    name = unique()
    load_profiles(local_lake, name, client=ddb)
    reply = ddb.query(
        TableName=name,
        IndexName=DISTRICT_INDEX,
        KeyConditionExpression="district_id = :d",
        ExpressionAttributeValues={":d": {"N": "3"}},
    )
    ids = [int(item["client_id"]["N"]) for item in reply["Items"]]
    assert ids == [i for i in range(1, 31) if i % 11 and 1 + i % 5 == 3]


class UnprocessedInjector:
    """Botocore hooks that make DynamoDB answer part of each of the first ``faulty_calls`` BatchWriteItem calls
    as ``UnprocessedItems`` (as it does under throttling), and count which items each call really accepted."""

    def __init__(self, client: Any, faulty_calls: int, every: int = 3, stuck: set[str] | None = None) -> None:
        self.faulty_calls = faulty_calls
        self.every = every
        self.stuck = stuck or set()
        self.calls = 0
        self.accepted: Counter[str] = Counter()
        self.batch_sizes: list[int] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()
        client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", self.remember)
        client.meta.events.register("after-call.dynamodb.BatchWriteItem", self.degrade)

    def remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        ((table, requests),) = params["RequestItems"].items()
        context["injector"] = (table, requests)

    def degrade(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        table, requests = context["injector"]
        with self.lock:
            self.calls += 1
            call = self.calls
            self.batch_sizes.append(len(requests))
            self.threads.add(threading.current_thread().name)
        unprocessed = [
            r
            for n, r in enumerate(requests)
            if r["PutRequest"]["Item"]["client_id"]["N"] in self.stuck
            or (call <= self.faulty_calls and n % self.every == 0)
        ]
        if unprocessed:
            parsed["UnprocessedItems"] = {table: unprocessed}
        with self.lock:
            for request in requests:
                if request not in unprocessed:
                    self.accepted[request["PutRequest"]["Item"]["client_id"]["N"]] += 1


def test_unprocessed_items_are_resent_with_backoff_and_written_exactly_once(
    local_lake: Lake, aws_env: str
) -> None:
    write_mart(local_lake, mart_rows(230))
    client = dynamodb_client(aws_env, workers=4)
    injector = UnprocessedInjector(client, faulty_calls=12)
    sleeps: list[float] = []
    backoff = Backoff(base=0.001, cap=0.01, max_attempts=8, sleep=sleeps.append)
    name = unique()
    result = load_profiles(local_lake, name, client=client, workers=4, backoff=backoff)

    assert result.items == 230 and result.resent_items > 0
    assert dict(injector.accepted) == {str(i): 1 for i in range(1, 231)}  # every item accepted exactly once
    assert max(injector.batch_sizes) == BATCH_SIZE and injector.calls > result.batches
    assert len(injector.threads) > 1  # the batches ran on several workers
    assert sleeps and all(0 <= s <= 0.01 for s in sleeps)
    assert sorted(int(i["client_id"]) for i in scan(client, name)) == list(range(1, 231))


def test_items_unprocessed_after_the_last_attempt_fail_with_a_count(local_lake: Lake, aws_env: str) -> None:
    write_mart(local_lake, mart_rows(60))
    client = dynamodb_client(aws_env)
    injector = UnprocessedInjector(client, faulty_calls=0, stuck={"7", "42"})
    sleeps: list[float] = []
    with pytest.raises(ExportError, match=r"2 of 60 items were not written .* after 3 attempts") as failure:
        load_profiles(
            local_lake,
            unique(),
            client=client,
            backoff=Backoff(base=0.001, max_attempts=3, sleep=sleeps.append),
        )
    assert "'42', '7'" in str(failure.value)
    assert len(sleeps) == 4  # two stuck items in two batches, two waits each
    assert sum(injector.accepted.values()) == 58 and "7" not in injector.accepted


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    backoff = Backoff(base=0.1, cap=1.0)
    for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (6, 1.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the range, not a fixed wait


def test_items_over_400_kb_with_identifiers_or_duplicate_keys_are_refused() -> None:
    big = {"client_id": {"N": "1"}, "notes": {"S": "x" * (400 * 1024)}}
    assert item_size(big) > 400 * 1024
    with pytest.raises(ExportError, match=r"client_id=1 is .* over DynamoDB's 400 KB item limit"):
        check_items([big])
    with pytest.raises(ExportError, match=r"client_id=3 carries direct identifiers \['email'\]"):
        check_items([{"client_id": {"N": "3"}, "email": {"S": "a@b.c"}}])
    small = {"client_id": {"N": "2"}, "age": {"N": "40"}}
    assert item_size(small) == len("client_id") + 2 + len("age") + 2
    with pytest.raises(ExportError, match="occur more than once"):
        check_items([small, dict(small)])


def test_full_refresh_from_a_local_lake_loads_a_new_table_and_switches_the_parameter(
    local_lake: Lake, aws_env: str, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = boto3.client("kms").create_key(Description="c360 data key")["KeyMetadata"]["Arn"]
    monkeypatch.setenv("C360_DYNAMODB_KMS_KEY", key)
    env = unique("env")
    parameter = ssm_parameter_name(env)
    base = unique("c360-profiles")
    write_mart(local_lake, mart_rows(40))

    first = full_refresh(local_lake, base, aws_env, env=env, client=ddb)
    assert first.method == "batch" and first.items == 40 and first.previous_table is None
    assert (
        first.table == f"{base}-{first.run_id}"
        and first.parameter == parameter == f"/c360/{env}/dynamodb/profile-table"
    )
    assert resolve_table(env=env, endpoint_url=aws_env) == first.table
    assert len(scan(ddb, first.table)) == 40
    assert_protected(ddb, first.table, key)

    again = full_refresh(
        local_lake, base, aws_env, env=env, client=ddb
    )  # same content: same table, no reload
    assert (again.table, again.method, again.previous_table) == (first.table, "existing", first.table)

    write_mart(local_lake, mart_rows(35, age_offset=1))
    second = full_refresh(local_lake, base, aws_env, env=env, client=ddb)
    assert second.table != first.table and second.previous_table == first.table
    assert resolve_table(env=env, endpoint_url=aws_env) == second.table
    assert len(scan(ddb, second.table)) == 35
    assert len(scan(ddb, first.table)) == 40  # the previous table stays intact for a rollback


def test_full_refresh_from_s3_imports_with_import_table(aws_env: str, ddb: Any) -> None:
    bucket = unique("lake")
    boto3.client("s3").create_bucket(Bucket=bucket)
    lake = Lake(f"s3://{bucket}/c360")
    write_mart(lake, mart_rows(55))
    calls: list[str] = []
    ddb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    requested: list[dict[str, Any]] = []
    ddb.meta.events.register(
        "provide-client-params.dynamodb.ImportTable", lambda params, **_: requested.append(params)
    )
    env = unique("env")

    result = full_refresh(
        lake, unique("c360-profiles"), aws_env, env=env, client=ddb, import_poll_seconds=0.05
    )

    assert result.method == "import" and result.items == 55
    assert "ImportTable" in calls and "BatchWriteItem" not in calls
    items = scan(ddb, result.table)
    assert len(items) == 55 and not any(set(i) & DIRECT_IDENTIFIERS for i in items)
    table = ddb.describe_table(TableName=result.table)["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == DISTRICT_INDEX
    assert resolve_table(env=env, endpoint_url=aws_env) == result.table
    (request,) = requested
    wanted = request["TableCreationParameters"]["SSESpecification"]
    assert wanted == {"Enabled": True, "SSEType": "KMS"}  # no C360_DYNAMODB_KMS_KEY: the AWS managed key
    assert_protected(ddb, result.table, sse={"Status": "ENABLED", "SSEType": wanted["SSEType"]})


def test_full_refresh_falls_back_to_batch_writes_without_import_table(aws_env: str, ddb: Any) -> None:
    """An endpoint without ImportTable (DynamoDB Local, for one) answers UnknownOperationException."""
    bucket = unique("lake")
    boto3.client("s3").create_bucket(Bucket=bucket)
    lake = Lake(f"s3://{bucket}/c360")
    write_mart(lake, mart_rows(30))

    def no_import_table(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "UnknownOperationException", "Message": "ImportTable is not supported"}
        return AWSResponse("http://127.0.0.1", 400, {}, None), {"Error": error}

    ddb.meta.events.register("before-call.dynamodb.ImportTable", no_import_table)
    result = full_refresh(lake, unique("c360-profiles"), aws_env, env=unique("env"), client=ddb)
    assert result.method == "batch" and len(scan(ddb, result.table)) == 30
    with pytest.raises(ExportError, match="does not support ImportTable"):
        full_refresh(lake, unique("c360-profiles"), aws_env, env=unique("env"), client=ddb, method="import")


def test_readers_without_a_table_or_parameter_get_a_clear_error(aws_env: str) -> None:
    assert resolve_table("explicit-table") == "explicit-table"
    with pytest.raises(ExportError, match=r"/c360/nowhere/dynamodb/profile-table does not exist"):
        resolve_table(env="nowhere", endpoint_url=aws_env)


def test_the_local_endpoint_serves_a_load_without_any_aws_credentials(
    local_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `c360 run` does on a laptop: a moto server on 127.0.0.1, no AWS account, the profiles loaded."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    write_mart(local_lake, mart_rows(30))
    with local_endpoint() as url:
        assert url.startswith("http://127.0.0.1:")
        name = unique()
        result = load_profiles(local_lake, name, url)
        assert result.items == 30 and len(scan(dynamodb_client(url), name)) == 30


def _moto_accepts(attrs: dict[str, Any]) -> bool:
    """moto's own rule: the item built attribute by attribute, the whole item measured at every step."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    built = LimitedSizeDict()
    try:
        for key, value in attrs.items():
            built[key] = DynamoType(value)
    except ItemSizeTooLarge:
        return False
    return True


def test_the_local_endpoint_measures_an_item_once_with_moto_limit(local_lake: Lake) -> None:
    """The local stand-in stores an item with one size check instead of one per attribute (quadratic): the same
    items must be accepted and refused as by moto's own check, and stored items must be identical."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    assert measure_local_items_once() and measure_local_items_once()  # idempotent
    assert getattr(Item.__init__, "measured_once", False)
    decided = set()
    for total in (404_000, 404_950, 404_990, 405_000, 405_010, 405_100, 420_000):
        attrs = {"client_id": {"N": "1"}, "tags": {"SS": ["a", "b"]}, "n": {"N": "12.5"}}
        attrs["a"] = {"S": "x" * (total // 2)}
        attrs["b"] = {"S": "y" * (total - total // 2 - 40)}
        expected = _moto_accepts(attrs)
        try:
            item = Item(DynamoType({"N": "1"}), None, attrs)
        except ItemSizeTooLarge:
            accepted = False
        else:
            accepted = True
            assert item.attrs == {key: DynamoType(value) for key, value in attrs.items()}
        assert accepted == expected, total
        decided.add(expected)
    assert decided == {True, False}, "the sizes tried must straddle the limit"
    write_mart(local_lake, mart_rows(5))
    with local_endpoint() as url:
        client, name = dynamodb_client(url), unique()
        load_profiles(local_lake, name, url)
        assert sorted(item["client_id"] for item in scan(client, name)) == [1, 2, 3, 4, 5]
        with pytest.raises(client.exceptions.ClientError, match="Item size has exceeded"):
            client.put_item(TableName=name, Item={"client_id": {"N": "9"}, "blob": {"S": "z" * 410_000}})


def test_the_local_endpoint_runs_in_a_child_process_that_stops_with_the_block() -> None:
    """The server has a process (and a core) of its own, measures items once there too, and is gone after."""
    import socket
    import subprocess
    import sys

    from c360.services.postgres import free_port

    port = free_port()
    child = subprocess.run(
        [sys.executable, "-m", "c360.export.local_dynamodb", "--port", str(port)],
        input="",  # stdin closed at once: the server starts, reports, and stops
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[0]) == {"port": port, "measured_once": True}

    with local_endpoint() as url:
        port = int(url.rsplit(":", 1)[1])
        client, name = dynamodb_client(url), unique()
        ensure_table(client, name)
        client.put_item(TableName=name, Item={"client_id": {"N": "7"}})
        assert client.get_item(TableName=name, Key={"client_id": {"N": "7"}})["Item"]["client_id"] == {
            "N": "7"
        }
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_a_local_endpoint_that_cannot_listen_is_a_clear_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(
                ServiceError, match=f"cannot start the local DynamoDB endpoint on 127.0.0.1:{port}"
            ),
            local_endpoint(port),
        ):
            pass
