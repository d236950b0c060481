"""The export step on AWS: customer_360 found through the Glue catalog, loaded by the export Lambda handler."""

from __future__ import annotations

import datetime as dt

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360.errors import ExportError
from c360.export import dynamodb_loader
from c360.export.dynamodb import mart_uri, read_mart
from c360.storage import Lake


@pytest.fixture
def athena_built_lake(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """A lake on S3 whose customer_360 sits where dbt-athena put it (its own prefix), registered in Glue."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{aws_env}/moto-api/reset", method="POST"), timeout=10)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="c360-analytics")
    location = "s3://c360-analytics/dbt/c360_analytics/customer_360/3f0c9a/"
    table = pa.table({"client_id": [1, 2], "as_of_date": [dt.date(2024, 12, 31)] * 2, "district_id": [3, 3]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    s3.put_object(
        Bucket="c360-analytics",
        Key="dbt/c360_analytics/customer_360/3f0c9a/part-0.parquet",
        Body=sink.getvalue().to_pybytes(),
    )
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": "c360_analytics"})
    glue.create_table(
        DatabaseName="c360_analytics",
        TableInput={"Name": "customer_360", "StorageDescriptor": {"Location": location}},
    )
    monkeypatch.setenv("C360_GLUE_DATABASE", "c360_analytics")
    monkeypatch.setenv("C360_LAKE", "s3://c360-analytics/lake")
    return Lake("s3://c360-analytics/lake")


def test_mart_location_comes_from_the_glue_catalog(athena_built_lake: Lake) -> None:
    assert mart_uri(athena_built_lake) == "s3://c360-analytics/dbt/c360_analytics/customer_360/3f0c9a"
    assert read_mart(athena_built_lake).column("client_id").to_pylist() == [1, 2]


def test_export_lambda_exports_and_loads(athena_built_lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_DYNAMODB_TABLE", "profiles-dev")
    result = dynamodb_loader.lambda_handler({"source": "aws.states"}, None)
    assert result["items"] == 2 and result["table"] == "profiles-dev"
    item = boto3.client("dynamodb").get_item(TableName="profiles-dev", Key={"client_id": {"N": "2"}})["Item"]
    assert item["district_id"] == {"N": "3"}
    assert result["export_uri"].startswith("s3://c360-analytics/lake/analytics/exports/dynamodb/")


def test_missing_glue_table_is_a_clear_error(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_GLUE_DATABASE", "nope")
    with pytest.raises(ExportError, match=r"cannot find nope\.customer_360 in the Glue catalog"):
        mart_uri(Lake("s3://c360-analytics/lake"))
