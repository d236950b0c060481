"""customer_360 profiles into a DynamoDB table: table creation, incremental upserts, and the full refresh.

- The table: partition key ``client_id`` (N), on-demand billing, and the global secondary index ``by_district``
  (partition ``district_id`` N, sort ``client_id`` N) behind "customers of a branch/district". Items without a
  ``district_id`` are simply absent from the index (a sparse index; no placeholder values).
- Incremental upserts (:func:`load_profiles`): BatchWriteItem, 25 puts per call, batches spread over a thread
  pool; ``UnprocessedItems`` are resent with exponential backoff and full jitter for a bounded number of attempts,
  then the load fails naming how many items were not written. Throttled *calls* are retried by botocore itself
  (``adaptive`` retry mode, 10 attempts), so this module only handles the partial successes botocore cannot see.
- Full refresh (:func:`full_refresh`): the export files (``analytics/exports/dynamodb/<run>/data/``, written by
  :func:`c360.export.dynamodb.export_items`) become a new table ``<base>-<run_id>``: through ``ImportTable`` when
  the export is on S3 and the endpoint supports it, else through the same BatchWriteItem loader. Only when the new
  table holds every item is the SSM parameter ``/c360/<env>/dynamodb/profile-table`` switched to it, so readers
  (the lookup API) move over at once and the previous table stays intact for a rollback.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from c360.errors import ExportError, ServiceError
from c360.export.dynamodb import (
    DIRECT_IDENTIFIERS,
    MAX_ITEM_BYTES,
    PARTITION_KEY,
    ExportResult,
    export_items,
    mart_item,
    read_mart,
)
from c360.storage import Lake, LakeError

log = logging.getLogger(__name__)

DISTRICT_INDEX = "by_district"
DISTRICT_KEY = "district_id"
BATCH_SIZE = 25
CHUNK_ITEMS = 5_000
"""Items converted and written at a time. A profile takes about 26 kB as Python objects (118 typed attributes):
scale 100's 500,000 profiles held at once took 13 GB and the load ran the machine out of memory; in chunks a load
holds about 130 MB of them, whatever the number of customers."""
"""BatchWriteItem's limit: at most 25 put or delete requests per call."""
DEFAULT_ENV = "local"
RETRY_CONFIG = {"mode": "adaptive", "max_attempts": 10}
LOADED_TAG = "c360:items"
RUN_TAG = "c360:run"
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
"""Error codes that mean "try again later": after botocore's own retries, the batch goes back in the queue."""
IMPORT_UNSUPPORTED_CODES = frozenset(
    {"UnknownOperationException", "NotImplementedException", "NotImplemented", "InvalidAction", "404", "501"}
)
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

Item = dict[str, Any]
"""A DynamoDB item in DynamoDB JSON (typed attribute values), as the low-level client reads and writes it."""


# --- names and clients -------------------------------------------------------------------------------------------
def ssm_parameter_name(env: str = DEFAULT_ENV) -> str:
    """The SSM parameter that names the table readers use: ``/c360/<env>/dynamodb/profile-table``."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", env):
        raise ExportError(
            f"environment name {env!r} is not valid in an SSM parameter name (use [A-Za-z0-9_.-])"
        )
    return f"/c360/{env}/dynamodb/profile-table"


def _is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and (urlsplit(endpoint_url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


def aws_client(
    service: str,
    endpoint_url: str | None = None,
    *,
    max_pool_connections: int = 10,
    region_name: str | None = None,
) -> BaseClient:
    """A boto3 client with botocore's adaptive retry mode (10 attempts) and a connection pool for the workers.

    ``endpoint_url`` points it at a DynamoDB-compatible endpoint (moto locally); without it boto3's usual
    resolution applies (``AWS_ENDPOINT_URL``, then AWS). A loopback endpoint without AWS_ACCESS_KEY_ID gets dummy
    ones (the local server does not check them, and a laptop need not have any).
    """
    session = boto3.session.Session()
    options: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "region_name": region_name or session.region_name or "us-east-1",
        "config": Config(retries=dict(RETRY_CONFIG), max_pool_connections=max_pool_connections),  # type: ignore[arg-type]
    }
    if _is_loopback(endpoint_url) and not os.environ.get("AWS_ACCESS_KEY_ID"):
        options.update(aws_access_key_id="local", aws_secret_access_key="local")
    return session.client(service, **options)


def dynamodb_client(endpoint_url: str | None = None, *, workers: int = 4) -> BaseClient:
    return aws_client("dynamodb", endpoint_url, max_pool_connections=max(10, workers * 2))


# --- the table ---------------------------------------------------------------------------------------------------
def sse_specification() -> dict[str, Any]:
    """Encryption at rest with KMS: the key named by ``C360_DYNAMODB_KMS_KEY`` (the deployment's customer managed
    key), else DynamoDB's AWS managed key; never the default owned key, like the template's profile table."""
    key = os.environ.get("C360_DYNAMODB_KMS_KEY", "").strip()
    return {"Enabled": True, "SSEType": "KMS", **({"KMSMasterKeyId": key} if key else {})}


def table_schema(name: str) -> dict[str, Any]:
    """The table's definition: the keys, the ``by_district`` index, on-demand billing, KMS encryption
    (CreateTable's arguments, and ImportTable's ``TableCreationParameters``)."""
    if not _TABLE_NAME.match(name):
        raise ExportError(f"{name!r} is not a valid DynamoDB table name (3-255 characters of [A-Za-z0-9_.-])")
    return {
        "TableName": name,
        "SSESpecification": sse_specification(),
        "AttributeDefinitions": [
            {"AttributeName": PARTITION_KEY, "AttributeType": "N"},
            {"AttributeName": DISTRICT_KEY, "AttributeType": "N"},
        ],
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": DISTRICT_INDEX,
                "KeySchema": [
                    {"AttributeName": DISTRICT_KEY, "KeyType": "HASH"},
                    {"AttributeName": PARTITION_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def _describe_table(client: BaseClient, name: str) -> dict[str, Any] | None:
    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise ExportError(f"cannot describe DynamoDB table {name!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise ExportError(f"cannot reach DynamoDB to describe table {name!r}: {exc}") from exc


def _check_schema(table: dict[str, Any]) -> None:
    name = table["TableName"]
    if table.get("KeySchema") != [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}]:
        raise ExportError(
            f"DynamoDB table {name!r} exists with key schema {table.get('KeySchema')}, not {PARTITION_KEY} (HASH); "
            "use another table name or delete that table"
        )
    indexes = {index["IndexName"]: index for index in table.get("GlobalSecondaryIndexes", [])}
    wanted = table_schema(name)["GlobalSecondaryIndexes"][0]["KeySchema"]
    if DISTRICT_INDEX not in indexes or indexes[DISTRICT_INDEX]["KeySchema"] != wanted:
        raise ExportError(
            f"DynamoDB table {name!r} has no index {DISTRICT_INDEX} ({DISTRICT_KEY} HASH, {PARTITION_KEY} RANGE); "
            "add it with UpdateTable or use another table name"
        )


def _wait_active(client: BaseClient, name: str, delay: int = 2, attempts: int = 300) -> None:
    try:
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
        )
    except WaiterError as exc:
        raise ExportError(f"DynamoDB table {name!r} did not become ACTIVE: {exc}") from exc


def ensure_table(client: BaseClient, name: str) -> bool:
    """Create the profile table when it is missing (and wait until it is ACTIVE); return whether it was created.

    An existing table must have the expected keys and index; it is never changed or emptied.
    """
    existing = _describe_table(client, name)
    if existing is not None:
        _check_schema(existing)
        if existing.get("TableStatus") != "ACTIVE":
            _wait_active(client, name)
        return False
    try:
        client.create_table(**table_schema(name))
        created = True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":  # someone else is creating it right now
            raise ExportError(f"cannot create DynamoDB table {name!r}: {exc}") from exc
        created = False
    _wait_active(client, name)
    if not created:
        table = _describe_table(client, name)
        if table is not None:
            _check_schema(table)
    return created


def enable_point_in_time_recovery(client: BaseClient, name: str) -> None:
    """Point-in-time recovery on ``name`` (idempotent), as on the template's profile table: a table a full refresh
    creates serves readers once the parameter switches to it, so it gets the same protection."""
    try:
        status = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        if status.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED":
            return
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    except ClientError as exc:
        raise ExportError(f"cannot enable point-in-time recovery on DynamoDB table {name!r}: {exc}") from exc


# --- items -------------------------------------------------------------------------------------------------------
def _value_size(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: member}) for member in raw)
    if kind == "L":
        return 3 + sum(_value_size(member) + 1 for member in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in raw.items())
    raise ExportError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(item: Item) -> int:
    """An item's size as DynamoDB counts it against the 400 KB limit: attribute names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _key(item: Item) -> str:
    return item[PARTITION_KEY]["N"]


def check_items(items: Sequence[Item]) -> None:
    """Every item has its key, carries no direct identifier, fits in 400 KB, and no key appears twice
    (BatchWriteItem rejects a batch with a duplicate key, and a duplicate means the mart is broken)."""
    for item in items:
        if PARTITION_KEY not in item:
            raise ExportError(f"an item has no {PARTITION_KEY}: {sorted(item)}")
        identifiers = sorted(set(item) & DIRECT_IDENTIFIERS)
        if identifiers:
            raise ExportError(
                f"the item for {PARTITION_KEY}={_key(item)} carries direct identifiers {identifiers}: "
                "they never leave the lake (see c360.export.dynamodb.DIRECT_IDENTIFIERS)"
            )
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise ExportError(
                f"the item for {PARTITION_KEY}={_key(item)} is {size:,} bytes, over DynamoDB's 400 KB item limit"
            )
    duplicates = [key for key, count in Counter(_key(item) for item in items).items() if count > 1]
    if duplicates:
        raise _duplicates(duplicates)


def _duplicates(keys: list[str]) -> ExportError:
    return ExportError(
        f"{len(keys)} {PARTITION_KEY} values occur more than once (e.g. {keys[:5]}); "
        "customer_360 must have one row per client: check its unique test"
    )


Chunks = Callable[[], Iterator[list[Item]]]
"""Items in chunks of at most :data:`CHUNK_ITEMS`, produced afresh at every call (a load reads them twice)."""


def check_chunks(chunks: Chunks) -> int:
    """:func:`check_items` over every chunk, keys unique across chunks too; returns how many items there are."""
    seen: set[str] = set()
    duplicates: list[str] = []
    count = 0
    for items in chunks():
        check_items(items)
        for item in items:
            key = _key(item)
            if key in seen:
                duplicates.append(key)
            seen.add(key)
        count += len(items)
    if duplicates:
        raise _duplicates(sorted(set(duplicates)))
    return count


def profile_chunks(lake: Lake, size: int = CHUNK_ITEMS) -> Chunks:
    """customer_360 as DynamoDB items (nulls omitted, no direct identifiers), ``size`` rows at a time."""
    table = read_mart(lake)

    def chunks() -> Iterator[list[Item]]:
        for batch in table.to_batches(max_chunksize=size):
            yield [mart_item(row) for row in batch.to_pylist()]

    return chunks


def export_file_chunks(lake: Lake, data_uris: Iterable[str], size: int = CHUNK_ITEMS) -> Chunks:
    """The items of export files (DynamoDB JSON, gzip: one ``{"Item": ...}`` per line), ``size`` at a time."""
    uris = list(data_uris)

    def chunks() -> Iterator[list[Item]]:
        items: list[Item] = []
        for uri in uris:
            try:
                with gzip.GzipFile(fileobj=io.BytesIO(lake.read_bytes(uri))) as stream:
                    for number, raw in enumerate(stream, start=1):
                        line = raw.decode()
                        if not line.strip():
                            continue
                        try:
                            items.append(json.loads(line)["Item"])
                        except (json.JSONDecodeError, KeyError, TypeError) as exc:
                            raise ExportError(
                                f"{uri} line {number} is not a DynamoDB JSON item: {exc}"
                            ) from exc
                        if len(items) == size:
                            yield items
                            items = []
            except (OSError, EOFError, UnicodeDecodeError) as exc:
                raise ExportError(
                    f"{uri} is not a gzip file of UTF-8 text ({exc}): rerun `c360 export`"
                ) from exc
        if items:
            yield items

    return chunks


# --- BatchWriteItem ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: before resend ``n`` (1, 2, ...) wait a uniform random time in
    ``[0, min(cap, base * 2**n)]``; give up after ``max_attempts`` calls for a batch."""

    base: float = 0.05
    cap: float = 5.0
    max_attempts: int = 8
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def delay(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.cap, self.base * 2**attempt))


@dataclass(frozen=True)
class LoadResult:
    table: str
    items: int
    batches: int
    resent_items: int
    """Resends of items DynamoDB had returned as unprocessed (an item resent twice counts twice): throttling."""


@dataclass
class _BatchOutcome:
    written: int = 0
    resent: int = 0
    failed: list[str] = field(default_factory=list)


def _write_batch(client: BaseClient, table: str, items: Sequence[Item], backoff: Backoff) -> _BatchOutcome:
    pending = [{"PutRequest": {"Item": item}} for item in items]
    outcome = _BatchOutcome()
    for attempt in range(1, backoff.max_attempts + 1):
        try:
            response = client.batch_write_item(RequestItems={table: pending})
            unprocessed = response.get("UnprocessedItems", {}).get(table, [])
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code not in THROTTLING_CODES:
                raise ExportError(f"BatchWriteItem into DynamoDB table {table!r} failed: {exc}") from exc
            unprocessed = pending  # botocore already retried this call; the whole batch goes round again
        except BotoCoreError as exc:
            raise ExportError(f"cannot reach DynamoDB to write into {table!r}: {exc}") from exc
        outcome.written += len(pending) - len(unprocessed)
        if not unprocessed:
            return outcome
        pending = unprocessed
        if attempt < backoff.max_attempts:
            outcome.resent += len(pending)
            backoff.sleep(backoff.delay(attempt))
    outcome.failed = [request["PutRequest"]["Item"][PARTITION_KEY]["N"] for request in pending]
    return outcome


def _chunks(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_items(
    client: BaseClient,
    table: str,
    items: Sequence[Item],
    *,
    workers: int = 4,
    backoff: Backoff | None = None,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Upsert ``items`` (DynamoDB JSON) into ``table``: batches of 25 over ``workers`` threads.

    Raises :class:`ExportError` naming how many items were still unprocessed after the last attempt; every other
    item is written (a rerun is safe: puts are idempotent).
    """
    return write_chunks(
        client, table, lambda: iter([list(items)]), workers=workers, backoff=backoff, progress=progress
    )


def write_chunks(
    client: BaseClient,
    table: str,
    chunks: Chunks,
    *,
    workers: int = 4,
    backoff: Backoff | None = None,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """:func:`write_items` for items that come in chunks: every chunk is checked before anything is written (a
    broken mart writes nothing), then the chunks are produced again and written one after the other, so only one
    chunk's items are in memory at a time."""
    total = check_chunks(chunks)
    return _write_checked(client, table, chunks, total, workers, backoff or Backoff(), progress)


def _write_checked(
    client: BaseClient,
    table: str,
    chunks: Chunks,
    total: int,
    workers: int,
    backoff: Backoff,
    progress: Callable[[int], None] | None,
) -> LoadResult:
    """Write chunks that :func:`check_chunks` passed (``total`` items)."""
    if workers < 1:
        raise ExportError(f"workers must be at least 1, got {workers}")
    written = resent = batches = 0
    failed: list[str] = []
    lock = threading.Lock()

    def run(batch: Sequence[Item]) -> None:
        nonlocal written, resent
        outcome = _write_batch(client, table, batch, backoff)
        with lock:
            written += outcome.written
            resent += outcome.resent
            failed.extend(outcome.failed)
        if progress is not None:
            progress(outcome.written)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="c360-ddb") as pool:
        for items in chunks():
            futures = [pool.submit(run, batch) for batch in _chunks(items, BATCH_SIZE)]
            batches += len(futures)
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            errors = [future.exception() for future in done if future.exception() is not None]
            if errors:
                for future in futures:
                    future.cancel()
                raise errors[0]  # type: ignore[misc]
    if failed:
        raise ExportError(
            f"{len(failed):,} of {total:,} items were not written to DynamoDB table {table!r}: still "
            f"unprocessed after {backoff.max_attempts} attempts (e.g. {PARTITION_KEY} {sorted(failed)[:5]}); "
            "the table is throttled or under-provisioned: rerun the load (puts are idempotent)"
        )
    return LoadResult(table=table, items=written, batches=batches, resent_items=resent)


def load_profiles(
    lake: Lake,
    table_name: str,
    endpoint_url: str | None = None,
    workers: int = 4,
    *,
    client: BaseClient | None = None,
    backoff: Backoff | None = None,
    progress: Callable[[int], None] | None = None,
    export: ExportResult | None = None,
) -> LoadResult:
    """Upsert every customer_360 profile into ``table_name`` (created when missing): the incremental load.

    With ``export`` (what :func:`~c360.export.dynamodb.export_items` just wrote), the items are read from its
    file rather than made from the mart again: the table gets exactly the exported items, and reading them back
    costs a quarter of turning the mart into items (0.34 s vs 1.22 s a pass for 5,000 profiles)."""
    chunks = export_file_chunks(lake, [export.uri]) if export else profile_chunks(lake)
    total = check_chunks(chunks)  # a broken mart or export fails here, before a table is made
    if export and total != export.items:
        raise ExportError(f"{export.uri} holds {total:,} items, but its export wrote {export.items:,}")
    client = client or dynamodb_client(endpoint_url, workers=workers)
    ensure_table(client, table_name)
    return _write_checked(client, table_name, chunks, total, workers, backoff or Backoff(), progress)


# --- full refresh ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FullRefreshResult:
    table: str
    previous_table: str | None
    items: int
    method: Literal["import", "batch", "existing"]
    """How the table was filled: ImportTable, BatchWriteItem, or already complete from an earlier run."""
    parameter: str
    run_id: str


def _s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def _table_tags(client: BaseClient, table_arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    token = None
    while True:
        kwargs = {"ResourceArn": table_arn, **({"NextToken": token} if token else {})}
        response = client.list_tags_of_resource(**kwargs)
        tags.update({tag["Key"]: tag["Value"] for tag in response.get("Tags", [])})
        token = response.get("NextToken")
        if not token:
            return tags


def _mark_loaded(client: BaseClient, name: str, run_id: str, items: int) -> None:
    table = _describe_table(client, name)
    if table is None:
        raise ExportError(f"DynamoDB table {name!r} disappeared while it was being loaded")
    client.tag_resource(
        ResourceArn=table["TableArn"],
        Tags=[{"Key": RUN_TAG, "Value": run_id}, {"Key": LOADED_TAG, "Value": str(items)}],
    )


def _import(
    client: BaseClient,
    name: str,
    data_prefix: str,
    expected: int,
    poll_seconds: float,
    timeout_seconds: float,
) -> bool:
    """ImportTable from the S3 export into the new table; False when the endpoint has no ImportTable."""
    bucket, prefix = _s3_location(data_prefix)
    schema = table_schema(name)
    try:
        response = client.import_table(
            ClientToken=hashlib.sha256(f"{name}|{data_prefix}".encode()).hexdigest()[:36],
            S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": prefix},
            InputFormat="DYNAMODB_JSON",
            InputCompressionType="GZIP",
            TableCreationParameters=schema,
        )
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in IMPORT_UNSUPPORTED_CODES:
            log.info("ImportTable is not supported by this endpoint (%s); loading with BatchWriteItem", code)
            return False
        raise ExportError(f"ImportTable into {name!r} from s3://{bucket}/{prefix} failed: {exc}") from exc
    arn = response["ImportTableDescription"]["ImportArn"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        description = client.describe_import(ImportArn=arn)["ImportTableDescription"]
        status = description["ImportStatus"]
        if status == "COMPLETED":
            break
        if status in ("FAILED", "CANCELLED", "CANCELLING"):
            raise ExportError(
                f"ImportTable into {name!r} {status.lower()}: {description.get('FailureCode')} "
                f"{description.get('FailureMessage')} (import {arn}; details in CloudWatch Logs)"
            )
        if time.monotonic() > deadline:
            raise ExportError(
                f"ImportTable into {name!r} still {status} after {timeout_seconds:.0f}s ({arn})"
            )
        time.sleep(poll_seconds)
    imported = description.get("ImportedItemCount", 0)
    if description.get("ErrorCount") or imported != expected:
        raise ExportError(
            f"ImportTable into {name!r} imported {imported:,} of {expected:,} items "
            f"({description.get('ErrorCount', 0)} errors; details in CloudWatch Logs for {arn})"
        )
    _wait_active(client, name)
    return True


def resolve_table(
    table_name: str | None = None,
    *,
    endpoint_url: str | None = None,
    env: str = DEFAULT_ENV,
    parameter: str | None = None,
    ssm_client: BaseClient | None = None,
) -> str:
    """The table readers use: ``table_name`` when given, else the value of the SSM parameter."""
    if table_name:
        return table_name
    parameter = parameter or ssm_parameter_name(env)
    ssm = ssm_client or aws_client("ssm", endpoint_url)
    try:
        return ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            raise ExportError(
                f"no DynamoDB table given and the SSM parameter {parameter} does not exist: pass the table name "
                "(--dynamodb-table) or run a full refresh, which sets the parameter"
            ) from exc
        raise ExportError(f"cannot read the SSM parameter {parameter}: {exc}") from exc
    except BotoCoreError as exc:
        raise ExportError(f"cannot reach SSM to read {parameter}: {exc}") from exc


def switch_table(ssm_client: BaseClient, parameter: str, table: str) -> str | None:
    """Point the SSM parameter at ``table``; return the table it named before (None when it did not exist)."""
    try:
        previous = ssm_client.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise ExportError(f"cannot read the SSM parameter {parameter}: {exc}") from exc
        previous = None
    if previous != table:
        try:
            ssm_client.put_parameter(
                Name=parameter,
                Value=table,
                Type="String",
                Overwrite=True,
                Description="The DynamoDB table that serves customer_360 profiles (set by c360's full refresh)",
            )
        except ClientError as exc:
            raise ExportError(f"cannot set the SSM parameter {parameter} to {table!r}: {exc}") from exc
    return previous


def full_refresh(
    lake: Lake,
    base_name: str,
    endpoint_url: str | None = None,
    ssm_parameter: str | None = None,
    *,
    env: str = DEFAULT_ENV,
    workers: int = 4,
    method: Literal["auto", "import", "batch"] = "auto",
    client: BaseClient | None = None,
    ssm_client: BaseClient | None = None,
    backoff: Backoff | None = None,
    progress: Callable[[int], None] | None = None,
    import_poll_seconds: float = 20.0,
    import_timeout_seconds: float = 4 * 3600.0,
) -> FullRefreshResult:
    """Export customer_360, fill a new table ``<base_name>-<run_id>`` with it, then switch the SSM parameter.

    ``method="auto"`` imports with ImportTable when the export is on S3 (ImportTable reads only S3) and falls back
    to BatchWriteItem when the export is local or the endpoint has no ImportTable; ``"import"`` insists on
    ImportTable. The run id is a hash of the content, so refreshing an unchanged mart finds its table already
    complete (tagged ``c360:items``) and only makes sure the parameter points at it.
    """
    if method not in ("auto", "import", "batch"):
        raise ExportError(f"unknown load method {method!r}: use auto, import or batch")
    parameter = ssm_parameter or ssm_parameter_name(env)
    exported = export_items(lake)
    name = f"{base_name}-{exported.run_id}"
    table_schema(name)  # validates the name before anything is created
    data_prefix = exported.uri.rsplit("/", 1)[0] + "/"
    client = client or dynamodb_client(endpoint_url, workers=workers)
    ssm_client = ssm_client or aws_client("ssm", endpoint_url)

    existing = _describe_table(client, name)
    used: Literal["import", "batch", "existing"]
    if existing is not None and _table_tags(client, existing["TableArn"]).get(LOADED_TAG) == str(
        exported.items
    ):
        _check_schema(existing)
        used = "existing"
    else:
        imported = False
        if method != "batch" and existing is None and not lake.is_local:
            # "data/part-", not "data/": ImportTable reads every object under the prefix, and S3 writers leave
            # an empty "data/" folder marker that is no gzip file
            imported = _import(
                client,
                name,
                f"{data_prefix}part-",
                exported.items,
                import_poll_seconds,
                import_timeout_seconds,
            )
        if not imported and method == "import":
            if lake.is_local:
                reason = "ImportTable reads from S3 only: put the lake on S3 (--lake s3://...)"
            elif existing is not None:
                reason = (
                    f"table {name!r} exists but is incomplete and ImportTable needs a new table: delete it"
                )
            else:
                reason = "this DynamoDB endpoint does not support ImportTable"
            raise ExportError(f"{reason}, or load with the batch method")
        if not imported:
            try:
                uris = [f.uri for f in lake.list_files(data_prefix, ".json.gz")]
            except LakeError as exc:
                raise ExportError(f"cannot read the export {data_prefix}: {exc}") from exc
            chunks = export_file_chunks(lake, uris)
            total = check_chunks(chunks)
            ensure_table(client, name)
            _write_checked(client, name, chunks, total, workers, backoff or Backoff(), progress)
        _mark_loaded(client, name, exported.run_id, exported.items)
        used = "import" if imported else "batch"
    enable_point_in_time_recovery(client, name)  # before readers are switched to the table
    previous = switch_table(ssm_client, parameter, name)
    return FullRefreshResult(
        table=name,
        previous_table=previous,
        items=exported.items,
        method=used,
        parameter=parameter,
        run_id=exported.run_id,
    )


# --- a local DynamoDB-compatible endpoint ------------------------------------------------------------------------
MOTO_ITEM_SIZE_LIMIT = 405_000
"""moto's limit on an item's size in bytes (DynamoDB's 400 KB; moto measured the real one between 409 and 410 KB)."""


def measure_local_items_once() -> bool:
    """Make the local stand-in store an item in one step with one size check.

    moto 5.2 builds each stored item attribute by attribute and re-measures the whole item at every step: a
    110-attribute profile costs about 12,000 attribute measurements, which bounds a local load at ~180 items/s (and
    a scale-10 ``c360 run`` at minutes of pure overhead). This replaces the construction of a stored item with one
    measurement of the total against the same limit: sizes only grow, so the total is within the limit exactly
    when every prefix is, and the same ``ItemSizeTooLarge`` is raised for the same items. Updates of stored items
    keep moto's own check. Applied once, and only to the pinned moto whose code it replaces; returns whether it
    is in effect."""
    import moto
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    item_class = dynamo_type.Item
    if getattr(item_class.__init__, "measured_once", False):
        return True
    if moto.__version__ != "5.2.5":  # another moto: its own code, unchanged
        return False

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in converted.items()) > MOTO_ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = dynamo_type.LimitedSizeDict()
        dict.update(self.attrs, converted)

    __init__.measured_once = True  # type: ignore[attr-defined]
    item_class.__init__ = __init__  # type: ignore[method-assign]
    return True


LOCAL_ENDPOINT_START_SECONDS = 60


@contextmanager
def local_endpoint(port: int = 0) -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port by default) for the block: DynamoDB, SSM and S3 over real HTTP.
    A port that is taken is a :class:`ServiceError` naming it.

    It runs in a child process (:mod:`c360.export.local_dynamodb`), so that the server and the loader's client
    work on two cores at once, and keeps its data in memory: what is loaded lives as long as the block.
    """
    import select
    import subprocess
    import sys
    import tempfile

    try:
        import moto.server  # noqa: F401
    except ImportError as exc:  # moto is a development dependency
        raise ServiceError(
            "the local DynamoDB endpoint needs moto[server]: pip install -e '.[dev]', or pass --dynamodb-endpoint"
        ) from exc
    with tempfile.TemporaryFile(mode="w+") as errors:
        server = subprocess.Popen(
            [sys.executable, "-m", "c360.export.local_dynamodb", "--port", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert server.stdin is not None and server.stdout is not None
        try:
            ready, _, _ = select.select([server.stdout], [], [], LOCAL_ENDPOINT_START_SECONDS)
            line = server.stdout.readline() if ready else ""
            if not line:
                server.kill()
                server.wait()
                errors.seek(0)
                tail = (errors.read().strip().splitlines() or ["no output"])[-1]
                raise ServiceError(f"cannot start the local DynamoDB endpoint on 127.0.0.1:{port}: {tail}")
            yield f"http://127.0.0.1:{json.loads(line)['port']}"
        finally:
            server.stdin.close()  # the server stops when its stdin closes
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The export step as a Lambda (Step Functions invokes it after the dbt build): export customer_360 as
    DynamoDB JSON under the lake and upsert the profiles into ``C360_DYNAMODB_TABLE`` (else the table the SSM
    parameter of ``C360_ENV`` names)."""
    from c360.export.dynamodb import export_items
    from c360.settings import Settings

    lake = Lake(Settings().lake)
    env = os.environ.get("C360_ENV", DEFAULT_ENV)
    table = os.environ.get("C360_DYNAMODB_TABLE") or resolve_table(env=env)
    exported = export_items(lake)
    loaded = load_profiles(lake, table)
    return {
        "run_id": exported.run_id,
        "export_uri": exported.uri,
        "table": loaded.table,
        "items": loaded.items,
    }
