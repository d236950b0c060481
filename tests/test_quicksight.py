"""QuickSight from the dbt manifest: the requests (typed from the contracts, no direct identifiers, valid against
QuickSight's API model) and the push, over HTTP to a moto server.

moto 5.2.5 implements CreateDataSource, DescribeDataSource, UpdateDataSource and CreateDataSet (which keeps only
the id and name). It has no DescribeDataSet, UpdateDataSet, Describe/UpdateDataSourcePermissions or
Describe/UpdateDataSetPermissions (its server answers 404). :class:`MotoGaps` answers exactly those six
operations from what the test saw being sent, through botocore's ``before-call`` hook: botocore still builds and
validates each of those requests, only the HTTP round trip is replaced.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.model import ListShape, MapShape, Shape, StructureShape

from c360.errors import ExportError
from c360.export.dynamodb import DIRECT_IDENTIFIERS
from c360.export.quicksight import (
    ALLOW_META_KEY,
    DATA_SET_ACTIONS,
    DATA_SOURCE_ACTIONS,
    QuickSightConfig,
    build_requests,
    input_column_type,
    push,
)

ACCOUNT = "123456789012"
PRINCIPAL = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/c360-analysts"


def column(name: str, data_type: str, **meta: str) -> dict[str, Any]:
    return {"name": name, "data_type": data_type, "description": name, "meta": meta}


def model(name: str, columns: list[dict[str, Any]], enforced: bool = True) -> dict[str, Any]:
    return {
        "resource_type": "model",
        "name": name,
        "alias": name,
        "database": "awsdatacatalog",
        "schema": "c360_analytics",
        "config": {"contract": {"enforced": enforced, "alias_types": True}},
        "contract": {"enforced": enforced, "alias_types": True},
        "columns": {c["name"]: c for c in columns},
    }


def exposure(name: str, kind: str, *nodes: str) -> dict[str, Any]:
    return {"name": name, "type": kind, "depends_on": {"nodes": list(nodes)}, "owner": {"name": "analytics"}}


@pytest.fixture
def manifest() -> dict[str, Any]:
    return {
        "metadata": {"adapter_type": "athena", "dbt_version": "1.11.16"},
        "nodes": {
            "model.c360.customer_360": model(
                "customer_360",
                [
                    column("client_id", "bigint"),
                    column("as_of_date", "date"),
                    column("age", "integer"),
                    column("tenure_years", "double"),
                    column("balance", "decimal(18, 2)"),
                    column("is_head_of_household", "boolean"),
                    column("occupation", "varchar"),
                    column("last_seen_at", "timestamp(3)"),
                    column("birth_date", "date"),
                    column("email", "varchar"),
                    column("first_name", "varchar"),
                ],
            ),
            "model.c360.retail_orders": model(
                "retail_orders",
                [
                    column("order_id", "varchar"),
                    column("sales", "double"),
                    column("contact_name", "varchar", **{ALLOW_META_KEY: "B2B contact of a company account"}),
                    column("phone", "varchar", **{ALLOW_META_KEY: "  "}),  # no reason given: still excluded
                ],
            ),
            "model.c360.stg_crm__customers": model(
                "stg_crm__customers", [column("client_id", "bigint")], False
            ),
        },
        "exposures": {
            "exposure.c360.customer_overview": exposure(
                "customer_overview", "dashboard", "model.c360.customer_360", "source.c360.crm.customers"
            ),
            "exposure.c360.retail_analysis": exposure(
                "retail_analysis", "analysis", "model.c360.retail_orders", "model.c360.customer_360"
            ),
            "exposure.c360.crm_app": exposure("crm_app", "application", "model.c360.stg_crm__customers"),
        },
    }


def config(**overrides: Any) -> QuickSightConfig:
    return QuickSightConfig(account_id=ACCOUNT, principal_arn=PRINCIPAL, **overrides)


def input_columns(request: dict[str, Any]) -> dict[str, str]:
    (table,) = request["PhysicalTableMap"].values()
    return {c["Name"]: c["Type"] for c in table["RelationalTable"]["InputColumns"]}


@pytest.mark.parametrize(
    ("data_type", "expected"),
    [
        ("bigint", "INTEGER"),
        ("integer", "INTEGER"),
        ("INT", "INTEGER"),
        ("double", "DECIMAL"),
        ("decimal(18,2)", "DECIMAL"),
        ("date", "DATETIME"),
        ("timestamp(6) with time zone", "DATETIME"),
        ("boolean", "BOOLEAN"),
        ("varchar", "STRING"),
        ("varchar(20)", "STRING"),
        ("string", "STRING"),
    ],
)
def test_contract_types_map_to_quicksight_input_columns(data_type: str, expected: str) -> None:
    assert input_column_type(data_type) == expected


def test_a_type_quicksight_cannot_read_is_a_clear_error() -> None:
    with pytest.raises(ExportError, match=r"column m\.tags: data_type 'array<varchar>' has no QuickSight"):
        input_column_type("array<varchar>", where="column m.tags: ")


def test_requests_follow_the_exposures_and_contracts_without_identifiers(manifest: dict[str, Any]) -> None:
    requests = build_requests(manifest, config(workgroup="c360"))
    source = requests.data_source
    assert source["Type"] == "ATHENA"
    assert source["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "c360"}}
    assert source["Permissions"] == [{"Principal": PRINCIPAL, "Actions": list(DATA_SOURCE_ACTIONS)}]

    plans = {plan.model: plan for plan in requests.data_sets}
    assert set(plans) == {"customer_360", "retail_orders"}  # not the application's staging model
    customers = plans["customer_360"]
    assert customers.exposures == ("customer_overview", "retail_analysis")
    assert input_columns(customers.request) == {
        "client_id": "INTEGER",
        "as_of_date": "DATETIME",
        "age": "INTEGER",
        "tenure_years": "DECIMAL",
        "balance": "DECIMAL",
        "is_head_of_household": "BOOLEAN",
        "occupation": "STRING",
        "last_seen_at": "DATETIME",
    }
    assert customers.excluded_columns == ("birth_date", "email", "first_name")
    (table,) = customers.request["PhysicalTableMap"].values()
    relational = table["RelationalTable"]
    assert (relational["Catalog"], relational["Schema"], relational["Name"]) == (
        "AwsDataCatalog",
        "c360_analytics",
        "customer_360",
    )
    assert relational["DataSourceArn"] == f"arn:aws:quicksight:us-east-1:{ACCOUNT}:datasource/c360-athena"
    assert customers.request["ImportMode"] == "DIRECT_QUERY"
    assert customers.request["Permissions"] == [{"Principal": PRINCIPAL, "Actions": list(DATA_SET_ACTIONS)}]

    retail = plans["retail_orders"]
    assert set(input_columns(retail.request)) == {
        "order_id",
        "sales",
        "contact_name",
    }  # documented allow-list
    assert retail.excluded_columns == ("phone",)
    for plan in requests.data_sets:
        allowed = {"contact_name"} if plan.model == "retail_orders" else set()
        assert not (set(input_columns(plan.request)) & DIRECT_IDENTIFIERS) - allowed


def test_a_dashboard_on_a_model_without_a_contract_is_refused(manifest: dict[str, Any]) -> None:
    manifest["exposures"]["exposure.c360.crm_app"]["type"] = "dashboard"
    with pytest.raises(ExportError, match=r"stg_crm__customers feeds exposure.*no enforced contract"):
        build_requests(manifest, config())


def test_a_manifest_parsed_for_duckdb_needs_the_glue_database(manifest: dict[str, Any]) -> None:
    manifest["metadata"]["adapter_type"] = "duckdb"
    with pytest.raises(ExportError, match="does not name the Glue database"):
        build_requests(manifest, config())
    requests = build_requests(manifest, config(glue_database="c360_gold"))
    (table,) = requests.data_sets[0].request["PhysicalTableMap"].values()
    assert table["RelationalTable"]["Schema"] == "c360_gold"


def test_config_refuses_a_malformed_account_or_principal() -> None:
    with pytest.raises(ExportError, match="12 digits"):
        QuickSightConfig(account_id="12345", principal_arn=PRINCIPAL)
    with pytest.raises(ExportError, match="must be an ARN"):
        QuickSightConfig(account_id=ACCOUNT, principal_arn="c360-analysts")


# --- validation against the API model (botocore checks required members, types and minimums only) --------------
def model_errors(shape: Shape, value: Any, path: str = "") -> list[str]:
    errors: list[str] = []
    if isinstance(shape, StructureShape):
        for name in shape.required_members:
            if name not in value:
                errors.append(f"{path}.{name} is required")
        for name, inner in value.items():
            if name not in shape.members:
                errors.append(f"{path}.{name} is not in the model")
            else:
                errors += model_errors(shape.members[name], inner, f"{path}.{name}")
    elif isinstance(shape, ListShape):
        errors += _bounds(shape, len(value), path)
        for n, inner in enumerate(value):
            errors += model_errors(shape.member, inner, f"{path}[{n}]")
    elif isinstance(shape, MapShape):
        errors += _bounds(shape, len(value), path)
        for key, inner in value.items():
            errors += model_errors(shape.key, key, f"{path}<key {key}>")
            errors += model_errors(shape.value, inner, f"{path}[{key}]")
    elif shape.type_name == "string":
        errors += _bounds(shape, len(value), path)
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}={value!r} is not one of {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            errors.append(f"{path}={value!r} does not match {pattern}")
    return errors


def _bounds(shape: Shape, size: int, path: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        return [f"{path} has size {size}, outside [{low}, {high}]"]
    return []


def test_every_request_is_valid_against_the_quicksight_api_model(manifest: dict[str, Any]) -> None:
    service = boto3.client("quicksight", region_name="us-east-1")  # only its API model is used
    requests = build_requests(manifest, config())
    operation = service.meta.service_model.operation_model("CreateDataSource")
    assert model_errors(operation.input_shape, requests.data_source) == []
    for plan in requests.data_sets:
        operation = service.meta.service_model.operation_model("CreateDataSet")
        assert model_errors(operation.input_shape, plan.request) == []
    broken = copy.deepcopy(requests.data_sets[0].request)
    broken["PhysicalTableMap"]["customer_360"] = broken["PhysicalTableMap"].pop("customer-360")
    next(iter(broken["PhysicalTableMap"].values()))["RelationalTable"]["InputColumns"][0]["Type"] = "BIGINT"
    assert len(model_errors(operation.input_shape, broken)) == 2  # the check itself can fail


# --- pushing to moto over HTTP -----------------------------------------------------------------------------------
class MotoGaps:
    """Answers the QuickSight operations moto 5.2.5 lacks, from the requests seen on the wire; counts every call."""

    MISSING = (
        "DescribeDataSet",
        "UpdateDataSet",
        "DescribeDataSetPermissions",
        "UpdateDataSetPermissions",
        "DescribeDataSourcePermissions",
        "UpdateDataSourcePermissions",
    )

    def __init__(self, client: Any) -> None:
        self.data_sets: dict[str, dict[str, Any]] = {}
        self.permissions: dict[str, dict[str, set[str]]] = {}
        self.calls: Counter[str] = Counter()
        self.sent: dict[str, list[dict[str, Any]]] = {}
        client.meta.events.register("before-call.quicksight", self.answer)

    @staticmethod
    def _reply(status: int, body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("http://127.0.0.1", status, {}, None), {**body, "Status": status}

    def answer(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        operation = model.name
        self.calls[operation] += 1
        body = json.loads(params["body"]) if params.get("body") else {}
        self.sent.setdefault(operation, []).append(body)
        parts = params["url_path"].split("?")[0].split("/")  # /accounts/<id>/<kind>[/<resource id>[/...]]
        resource_id = parts[4] if len(parts) > 4 else ""
        key = f"{parts[3]}/{resource_id}"
        if operation == "CreateDataSet":  # sent to moto; remembered for the operations moto lacks
            self.data_sets[body["DataSetId"]] = body
            self.permissions[f"data-sets/{body['DataSetId']}"] = self._grant({}, body["Permissions"])
        if operation == "CreateDataSource":
            self.permissions[f"data-sources/{body['DataSourceId']}"] = self._grant({}, body["Permissions"])
        if operation not in self.MISSING:
            return None
        if operation == "DescribeDataSet":
            if resource_id not in self.data_sets:
                error = {"Code": "ResourceNotFoundException", "Message": f"{resource_id} not found"}
                return self._reply(404, {"Error": error})
            return self._reply(200, {"DataSet": {"DataSetId": resource_id, **self.data_sets[resource_id]}})
        if operation == "UpdateDataSet":
            self.data_sets[resource_id].update(body)
            return self._reply(200, {"DataSetId": resource_id})
        if operation.startswith("Describe"):
            current = [{"Principal": p, "Actions": sorted(a)} for p, a in self.permissions[key].items()]
            return self._reply(200, {"Permissions": current})
        self.permissions[key] = self._grant(self.permissions[key], body.get("GrantPermissions", []))
        return self._reply(200, {})

    @staticmethod
    def _grant(current: dict[str, set[str]], grants: list[dict[str, Any]]) -> dict[str, set[str]]:
        merged = {principal: set(actions) for principal, actions in current.items()}
        for grant in grants:
            merged.setdefault(grant["Principal"], set()).update(grant["Actions"])
        return merged


@pytest.fixture
def quicksight(aws_env: str) -> tuple[Any, MotoGaps]:
    client = boto3.client("quicksight", region_name="us-east-1")
    return client, MotoGaps(client)


def moto_data_sets() -> dict[str, Any]:
    from moto.quicksight.models import quicksight_backends

    return quicksight_backends[ACCOUNT]["us-east-1"].data_sets


def test_push_creates_then_changes_nothing_then_updates(
    manifest: dict[str, Any], quicksight: tuple[Any, MotoGaps]
) -> None:
    client, gaps = quicksight
    source_id = f"c360-athena-{uuid.uuid4().hex[:8]}"
    prefix = f"c360-{uuid.uuid4().hex[:6]}"
    requests = build_requests(manifest, config(data_source_id=source_id, id_prefix=prefix, workgroup="c360"))
    data_set_ids = [plan.request["DataSetId"] for plan in requests.data_sets]

    first = push(requests, client)
    assert set(first.created) == {f"data source {source_id}", *(f"dataset {i}" for i in data_set_ids)}
    described = client.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=source_id)["DataSource"]
    assert described["Type"] == "ATHENA"
    assert described["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "c360"}}
    assert set(data_set_ids) <= set(moto_data_sets())  # CreateDataSet reached moto over HTTP
    for sent in gaps.sent["CreateDataSet"]:  # and carried typed columns, no direct identifiers
        (table,) = sent["PhysicalTableMap"].values()
        names = {c["Name"] for c in table["RelationalTable"]["InputColumns"]}
        assert not names & (DIRECT_IDENTIFIERS - {"contact_name"})
        assert sent["Permissions"][0]["Principal"] == PRINCIPAL
    assert gaps.calls["CreateDataSource"] == 1 and gaps.calls["CreateDataSet"] == 2

    gaps.calls.clear()
    second = push(requests, client)
    assert second.created == second.updated == second.granted == ()
    assert len(second.unchanged) == 3
    writes = {op for op in gaps.calls if op.startswith(("Create", "Update"))}
    assert writes == set()

    changed = build_requests(
        manifest,
        config(data_source_id=source_id, id_prefix=prefix, workgroup="analysts", glue_database="c360_v2"),
    )
    third = push(changed, client)
    assert set(third.updated) == {f"data source {source_id}", *(f"dataset {i}" for i in data_set_ids)}
    described = client.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=source_id)["DataSource"]
    assert described["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "analysts"}}
    (table,) = gaps.sent["UpdateDataSet"][0]["PhysicalTableMap"].values()
    assert table["RelationalTable"]["Schema"] == "c360_v2"
    assert push(changed, client).unchanged and not push(changed, client).updated


def test_push_grants_permissions_that_went_missing(
    manifest: dict[str, Any], quicksight: tuple[Any, MotoGaps]
) -> None:
    client, gaps = quicksight
    source_id = f"c360-athena-{uuid.uuid4().hex[:8]}"
    requests = build_requests(
        manifest, config(data_source_id=source_id, id_prefix=f"c360-{uuid.uuid4().hex[:6]}")
    )
    push(requests, client)
    gaps.permissions[f"data-sources/{source_id}"][PRINCIPAL].discard("quicksight:PassDataSource")
    result = push(requests, client)
    assert result.granted == (f"data source {source_id}",)
    (grant,) = gaps.sent["UpdateDataSourcePermissions"][-1]["GrantPermissions"]
    assert grant == {"Principal": PRINCIPAL, "Actions": ["quicksight:PassDataSource"]}


def test_push_reports_quicksight_errors_clearly(manifest: dict[str, Any], aws_env: str) -> None:
    client = boto3.client("quicksight", region_name="us-east-1")  # no stand-in: DescribeDataSet is a moto 404
    requests = build_requests(manifest, config(data_source_id=f"c360-athena-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(ExportError, match="QuickSight DescribeDataSet failed: 404"):
        push(requests, client)
