"""customer_360 -> DynamoDB JSON, the format DynamoDB's ``ImportTable`` reads (one ``{"Item": {...}}`` per line,
gzip-compressed). Nulls are omitted (never ``'_'`` or 0 placeholders), numbers are Decimals, dates ISO strings,
and no direct identifier leaves the lake."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer

from c360.build_state import require_successful_build
from c360.errors import ExportError
from c360.storage import Lake, LakeError, gzip_lines

MART = "customer_360"
PARTITION_KEY = "client_id"
MAX_ITEM_BYTES = 400 * 1024
DIRECT_IDENTIFIERS = frozenset(
    {"first_name", "last_name", "name", "email", "phone", "street_address", "birth_date", "contact_name"}
)
"""Columns that identify a person directly; they never enter an exported item."""

_serializer = TypeSerializer()


@dataclass(frozen=True)
class ExportResult:
    uri: str
    items: int
    run_id: str


def _number(value: int | Decimal) -> dict[str, str]:
    """boto3's number attribute: DynamoDB's 38-digit context, an inexact value refused (the context traps it)."""
    return {"N": str(DYNAMODB_CONTEXT.create_decimal(value))}


_EXACT_INT = 10**38
"""Integers of fewer than 39 digits fit DynamoDB's number context exactly, and their string is the decimal's."""


def _float_number(value: float) -> dict[str, str]:
    """A finite float's number attribute: the decimal of its shortest repr, in DynamoDB's context. A repr without an
    exponent (0.0001 <= |value| < 1e16, or 0) is that decimal's string already (at most 17 digits, an exponent of
    0 or below, no scientific form); the others (1e-05, 1e+16, ...) go through the context, which also refuses
    what DynamoDB cannot hold."""
    text = repr(value)
    return {"N": text} if "e" not in text else _number(Decimal(text))


def _attribute(value: Any) -> dict[str, Any] | None:
    """One value as a typed attribute value, or None for a value that is left out (null, empty, NaN, infinite).
    The mart's column types (strings, booleans, integers, doubles, dates) are converted here directly, as boto3's
    ``TypeSerializer`` would (same strings, same number context), at a fraction of its cost: its generic type
    checks (abstract base classes) were most of an export's time (1M calls at scale 1). Any other type, Decimal
    included (boto3 refuses its NaN and infinities), goes through boto3's serializer."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"S": value} if value else None
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)} if -_EXACT_INT < value < _EXACT_INT else _number(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else _float_number(value)
    if isinstance(value, dt.date):  # datetimes too: ISO strings
        return {"S": value.isoformat()}
    return _serializer.serialize(value)


def to_item(row: dict[str, Any]) -> dict[str, Any]:
    """One customer_360 row as a DynamoDB item in DynamoDB JSON (typed attribute values), nulls omitted."""
    item = {}
    for column, raw in row.items():
        if column in DIRECT_IDENTIFIERS:
            continue
        value = _attribute(raw)
        if value is not None:
            item[column] = value
    if PARTITION_KEY not in item:
        raise ExportError(f"a {MART} row has no {PARTITION_KEY}: {row!r}")
    return item


def mart_item(row: dict[str, Any]) -> dict[str, Any]:
    """:func:`to_item` for a row of the mart: a number DynamoDB cannot hold (more than 38 digits, or outside
    1E-130..9.99E+125) is an :class:`ExportError` naming the client and the column, not a decimal traceback."""
    try:
        return to_item(row)
    except ArithmeticError as exc:
        column = next((c for c, v in row.items() if c not in DIRECT_IDENTIFIERS and not _holds(v)), "?")
        raise ExportError(
            f"client_id={row.get(PARTITION_KEY)}: {column}={row.get(column)!r} is a number DynamoDB cannot hold "
            f"(38 digits, 1E-130 to 9.99E+125; {type(exc).__name__})"
        ) from exc


def _holds(value: Any) -> bool:
    try:
        _attribute(value)
    except ArithmeticError:
        return False
    return True


def item_lines(table: pa.Table) -> Iterator[str]:
    """One DynamoDB JSON line per row, converted a few thousand rows at a time (a profile weighs ~26 kB as Python
    objects: scale 100's 500,000 of them at once would take 13 GB)."""
    rows = (row for batch in table.to_batches(max_chunksize=5_000) for row in batch.to_pylist())
    for row in rows:
        line = json.dumps({"Item": mart_item(row)}, separators=(",", ":"), sort_keys=True)
        if len(line.encode()) > MAX_ITEM_BYTES:
            raise ExportError(
                f"item for client_id={row.get(PARTITION_KEY)} exceeds DynamoDB's 400 KB item limit"
            )
        yield line


def mart_uri(lake: Lake) -> str:
    """Where customer_360's files are: ``<lake>/analytics/customer_360`` locally; on AWS, where dbt-athena put
    the table (``s3_data_naming: schema_table_unique`` gives each build its own prefix), read from the Glue
    catalog when ``C360_GLUE_DATABASE`` names the analytics database."""
    database = os.environ.get("C360_GLUE_DATABASE")
    if not database:
        return lake.uri("analytics", MART)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        table = boto3.client("glue").get_table(DatabaseName=database, Name=MART)["Table"]
    except (BotoCoreError, ClientError) as exc:
        raise ExportError(f"cannot find {database}.{MART} in the Glue catalog: {exc}") from exc
    return table["StorageDescriptor"]["Location"].rstrip("/")


def read_mart(lake: Lake) -> pa.Table:
    uri = mart_uri(lake)
    try:
        table = lake.read_parquet(uri)
    except LakeError as exc:
        raise ExportError(f"{MART} is not built yet ({exc}); run `c360 build` first") from exc
    return table.sort_by([(PARTITION_KEY, "ascending")])


def export_items(lake: Lake) -> ExportResult:
    """Write customer_360 as DynamoDB JSON under ``analytics/exports/dynamodb/<run>/data/``.

    The run id is the as-of date plus a hash of the content, so exporting the same build twice writes the same
    bytes to the same place. A build that failed or never finished is not exported.
    """
    require_successful_build(lake)
    table = read_mart(lake)
    # One pass over the rows, none of them held: each line goes into the content hash (which names the folder)
    # and into the compressed file's bytes, written once the folder is known.
    content = hashlib.sha256()

    def hashed(lines: Iterator[str]) -> Iterator[str]:
        for number, line in enumerate(lines):
            content.update(f"\n{line}".encode() if number else line.encode())
            yield line

    data, count = gzip_lines(hashed(item_lines(table)))
    digest = content.hexdigest()[:12]
    as_of = (
        table.column("as_of_date")[0].as_py()
        if table.num_rows and "as_of_date" in table.column_names
        else None
    )
    run_id = f"{as_of.isoformat() if as_of else 'empty'}-{digest}"
    base = lake.uri("analytics", "exports", "dynamodb", run_id)
    data_uri = f"{base}/data/part-00000.json.gz"
    new_folder = not lake.exists(base)
    try:
        lake.write_bytes(data_uri, data)
        lake.write_json(
            f"{base}/manifest.json",
            {
                "table": MART,
                "run_id": run_id,
                "items": count,
                "partition_key": PARTITION_KEY,
                "files": [data_uri],
            },
        )
    except LakeError as exc:
        if new_folder:  # no half-written export folder: the previous exports stay the only ones
            with contextlib.suppress(OSError):
                lake.delete_dir(base)
        raise ExportError(f"{exc}; the previous exports are unchanged") from exc
    return ExportResult(uri=data_uri, items=count, run_id=run_id)
