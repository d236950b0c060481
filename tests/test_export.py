from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from boto3.dynamodb.types import TypeDeserializer

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
