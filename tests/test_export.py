from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import random
import struct
from decimal import Decimal, Inexact, Overflow

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from c360.errors import ExportError
from c360.export.dynamodb import DIRECT_IDENTIFIERS, export_items, to_item
from c360.storage import Lake


def test_item_omits_nulls_uses_decimals_and_iso_dates() -> None:
    item = to_item(
        {
            "client_id": 7,
            "age": None,
            "tenure_years": 3.25,
            "as_of_date": dt.date(2024, 12, 31),
            "is_head_of_household": False,
            "occupation": "",
            "gender": "female",
        }
    )
    assert item == {
        "client_id": {"N": "7"},
        "tenure_years": {"N": "3.25"},
        "as_of_date": {"S": "2024-12-31"},
        "is_head_of_household": {"BOOL": False},
        "gender": {"S": "female"},
    }
    assert TypeDeserializer().deserialize(item["tenure_years"]) == Decimal("3.25")


def _boto3_item(row: dict) -> dict:
    """The reference: every value through boto3's own ``TypeSerializer``, as the export did before its direct
    conversions (numbers as Decimals in DynamoDB's context, dates as ISO strings, nulls, NaN and "" left out)."""
    serializer = TypeSerializer()
    item = {}
    for column, raw in row.items():
        if column in DIRECT_IDENTIFIERS or raw is None or raw == "":
            continue
        if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
            continue
        if isinstance(raw, (bool, str)):
            value = raw
        elif isinstance(raw, int):
            value = Decimal(raw)
        elif isinstance(raw, float):
            value = Decimal(repr(raw))
        elif isinstance(raw, dt.date):
            value = raw.isoformat()
        else:
            value = raw
        item[column] = serializer.serialize(value)
    return item


def _outcome(convert, row: dict) -> object:
    """What ``convert`` makes of ``row``: the item, or the kind of arithmetic error that refused it."""
    try:
        return convert(row)
    except ArithmeticError as exc:  # past DynamoDB's 38 digits or its exponent range
        return type(exc)


def test_items_are_what_boto3s_serializer_makes_of_every_value() -> None:
    values = [
        0,
        1,
        -7,
        2**31 - 1,
        -(2**63),
        10**20,
        0.0,
        -0.0,
        3.25,
        1e-07,
        1.5e300,
        -2.2250738585072014e-308,
        0.1 + 0.2,
        123456.789,
        float("nan"),
        float("inf"),
        float("-inf"),
        True,
        False,
        "",
        "a",
        "Zoë ✓",
        " ",
        dt.date(1900, 1, 1),
        dt.date(2024, 12, 31),
        dt.datetime(2024, 12, 31, 23, 59, 59, 123456, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 1),
        Decimal("12.50"),
        Decimal("-0.000001"),
        None,
        # where a number's string changes form (repr's exponent, the decimal's scientific notation), or leaves
        # DynamoDB's 38 digits and exponent range: the direct conversions take over or hand back here
        0.0001,
        -0.0001,
        9.999e-05,
        1e-05,
        1e15,
        9999999999999998.0,
        1e16,
        -1e16,
        123456789012345680.0,
        5e-324,
        1e-130,
        1e-131,
        9.99e125,
        1e126,
        10**38 - 1,
        -(10**38 - 1),
        10**38,
        -(10**38),
    ]

    rows = [{"client_id": i + 1, "value": value} for i, value in enumerate(values)]
    outcomes = [_outcome(to_item, row) for row in rows]
    assert outcomes == [_outcome(_boto3_item, row) for row in rows]
    assert outcomes[values.index(1.5e300)] is Overflow, "out of DynamoDB's range: refused, as boto3 does"
    assert to_item({"client_id": 1, "value": float("nan")}) == {"client_id": {"N": "1"}}
    with pytest.raises(Inexact):  # more digits than DynamoDB keeps: refused, never rounded
        to_item({"client_id": 1, "value": 10**40 + 1})


def test_numbers_are_what_boto3s_serializer_makes_of_them_across_the_doubles() -> None:
    """The direct number conversions against boto3's, on doubles of every magnitude (random bit patterns) and on
    integers of every length up to past DynamoDB's 38 digits."""
    rng = random.Random(20261127)
    doubles = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(20_000)]
    doubles += [rng.uniform(-1e6, 1e6) for _ in range(5_000)] + [
        round(rng.uniform(-1e4, 1e4), 2) for _ in range(5_000)
    ]
    integers = [
        rng.randrange(10 ** (digits - 1), 10**digits) * rng.choice((1, -1)) for digits in range(1, 42)
    ]

    def outcome(convert, value: object) -> object:
        return _outcome(convert, {"client_id": 1, "value": value})

    mismatches = [v for v in doubles + integers if outcome(to_item, v) != outcome(_boto3_item, v)]
    assert mismatches == []
    assert {type(outcome(to_item, v)) for v in doubles} >= {dict, type}, (
        "some doubles out of DynamoDB's range"
    )


def test_direct_identifiers_never_leave_the_lake() -> None:
    row = {"client_id": 1, **{name: "secret" for name in DIRECT_IDENTIFIERS}}
    assert set(to_item(row)) == {"client_id"}


def test_row_without_key_is_an_error() -> None:
    with pytest.raises(ExportError, match="no client_id"):
        to_item({"client_id": None, "age": 3})


def test_export_writes_dynamodb_json_and_is_repeatable(tmp_path) -> None:
    lake = Lake(str(tmp_path))
    folder = tmp_path / "analytics" / "customer_360"
    folder.mkdir(parents=True)
    table = pa.table({"client_id": [2, 1], "as_of_date": [dt.date(2024, 12, 31)] * 2, "age": [40, None]})
    pq.write_table(table, folder / "data_0.parquet")
    first = export_items(lake)
    second = export_items(lake)
    assert first == second and first.items == 2
    lines = gzip.decompress(lake.read_bytes(first.uri)).decode().splitlines()
    items = [json.loads(line)["Item"] for line in lines]
    assert [i["client_id"] for i in items] == [{"N": "1"}, {"N": "2"}]
    assert "age" not in items[0] and items[1]["age"] == {"N": "40"}
    manifest = lake.read_json(first.uri.rsplit("/data/", 1)[0] + "/manifest.json")
    assert manifest["items"] == 2 and manifest["partition_key"] == "client_id"


def test_export_before_build_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ExportError, match="run `c360 build` first"):
        export_items(Lake(str(tmp_path)))


def test_a_number_dynamodb_cannot_hold_is_a_clear_error_and_nothing_is_written(tmp_path) -> None:
    from typer.testing import CliRunner

    from c360.cli import app
    from c360.export.dynamodb_loader import profile_chunks

    lake = Lake(str(tmp_path))
    folder = tmp_path / "analytics" / "customer_360"
    folder.mkdir(parents=True)
    table = pa.table(
        {"client_id": [1, 2], "as_of_date": [dt.date(2024, 12, 31)] * 2, "avg_balance": [10.5, 1.5e300]}
    )
    pq.write_table(table, folder / "data_0.parquet")
    message = r"client_id=2: avg_balance=1.5e\+300 is a number DynamoDB cannot hold"
    with pytest.raises(ExportError, match=message):
        export_items(lake)
    with pytest.raises(ExportError, match=message):
        [item for chunk in profile_chunks(lake)() for item in chunk]
    result = CliRunner().invoke(app, ["export", "--lake", str(tmp_path)])
    assert result.exit_code == 1 and "avg_balance" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "analytics" / "exports").exists() or not any(
        (tmp_path / "analytics" / "exports").rglob("*.json.gz")
    )
