"""QuickSight over Athena, generated from the dbt manifest: one Athena data source, one dataset per contracted mart
that a dashboard or analysis exposure depends on.

Each dataset is a physical table on the mart's Glue table (``RelationalTable``), its input columns typed from the
mart's contract (``data_type``), in direct-query mode by default (the design's choice). Direct identifiers (the
names in :data:`c360.export.dynamodb.DIRECT_IDENTIFIERS`, and every column tagged ``meta: {pii: true}``) never
enter a dataset unless the column's YAML documents why it may, in its ``meta``::

    - name: email
      meta:
        c360_direct_identifier_allowed: "contact-centre dashboard; access limited to the CRM team (ticket 123)"

The requests are plain CreateDataSource/CreateDataSet arguments (:func:`build_requests`); :func:`push` applies
them idempotently: describe, create when missing, update only what differs, grant missing permissions.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from c360.errors import ExportError
from c360.export.dynamodb import DIRECT_IDENTIFIERS
from c360.export.dynamodb_loader import aws_client

EXPOSURE_TYPES = frozenset({"dashboard", "analysis"})
ALLOW_META_KEY = "c360_direct_identifier_allowed"
"""Column ``meta`` key whose non-empty value (the reason) lets a direct identifier into a dataset."""

DATA_SOURCE_ACTIONS = (
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:DeleteDataSource",
    "quicksight:UpdateDataSourcePermissions",
)
DATA_SET_ACTIONS = (
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:UpdateDataSet",
    "quicksight:DeleteDataSet",
    "quicksight:CreateIngestion",
    "quicksight:CancelIngestion",
    "quicksight:UpdateDataSetPermissions",
)
"""The owner's actions, as the QuickSight console grants them to a data source's or dataset's owner."""

_TYPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"(tinyint|smallint|int|integer|bigint|int2|int4|int8|hugeint|long|short)", "INTEGER"),
        (r"(double|double precision|float|float4|float8|real|decimal|numeric)(\(.*\))?", "DECIMAL"),
        (r"(date|timestamp|datetime|timestamptz)(\(\d+\))?( with(out)? time zone)?", "DATETIME"),
        (r"(boolean|bool)", "BOOLEAN"),
        (r"(varchar|char|character|character varying|string|text)(\(\d+\))?", "STRING"),
        (r"json", "JSON"),
    )
)


@dataclass(frozen=True)
class QuickSightConfig:
    """Where the QuickSight resources go and who owns them."""

    account_id: str
    principal_arn: str
    """The QuickSight user or group ARN granted the owner's actions on every resource."""
    region: str = "us-east-1"
    workgroup: str = "primary"
    glue_database: str | None = None
    """The Glue database of the marts; default: the manifest's schema when it was parsed for Athena."""
    catalog: str = "AwsDataCatalog"
    data_source_id: str = "c360-athena"
    data_source_name: str = "c360 (Athena)"
    import_mode: str = "DIRECT_QUERY"
    id_prefix: str = "c360"
    role_arn: str | None = None
    """An IAM role QuickSight assumes for this data source's Athena access (optional)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9]{12}", self.account_id):
            raise ExportError(f"the AWS account id must be 12 digits, got {self.account_id!r}")
        if not self.principal_arn.startswith("arn:"):
            raise ExportError(f"the QuickSight principal must be an ARN, got {self.principal_arn!r}")
        if self.import_mode not in ("DIRECT_QUERY", "SPICE"):
            raise ExportError(f"import mode must be DIRECT_QUERY or SPICE, got {self.import_mode!r}")

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def data_source_arn(self) -> str:
        return f"arn:{self.partition}:quicksight:{self.region}:{self.account_id}:datasource/{self.data_source_id}"


@dataclass(frozen=True)
class DataSetPlan:
    model: str
    exposures: tuple[str, ...]
    request: dict[str, Any]
    """CreateDataSet's arguments."""
    excluded_columns: tuple[str, ...]
    """Contract columns left out because they identify a person directly."""


@dataclass(frozen=True)
class QuickSightRequests:
    data_source: dict[str, Any]
    """CreateDataSource's arguments."""
    data_sets: tuple[DataSetPlan, ...]


@dataclass(frozen=True)
class PushResult:
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    granted: tuple[str, ...] = ()
    """Resources on which missing permissions were granted."""


# --- the manifest ------------------------------------------------------------------------------------------------
def read_manifest(path: str | Path = "target/manifest.json") -> dict[str, Any]:
    """dbt's manifest (``dbt parse`` writes it to ``target/manifest.json``)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ExportError(f"{path} does not exist: run `dbt parse` (or `c360 build`) first") from exc
    except json.JSONDecodeError as exc:
        raise ExportError(
            f"{path} is not valid JSON (line {exc.lineno}): regenerate it with `dbt parse`"
        ) from exc


def input_column_type(data_type: str, where: str = "") -> str:
    """QuickSight's InputColumn type for a contract's ``data_type`` (Athena/Trino and DuckDB spellings)."""
    normalized = " ".join(data_type.strip().lower().split())
    for pattern, kind in _TYPES:
        if pattern.fullmatch(normalized):
            return kind
    raise ExportError(
        f"{where}data_type {data_type!r} has no QuickSight input column type; use a scalar type "
        "(bigint, integer, double, decimal, date, timestamp, boolean, varchar)"
    )


def _contract_enforced(node: Mapping[str, Any]) -> bool:
    contract = node.get("contract") or (node.get("config") or {}).get("contract") or {}
    return bool(contract.get("enforced"))


def _identifier_allowed(column: Mapping[str, Any]) -> bool:
    meta = {**((column.get("config") or {}).get("meta") or {}), **(column.get("meta") or {})}
    reason = meta.get(ALLOW_META_KEY)
    return isinstance(reason, str) and bool(reason.strip())


def _tagged_pii(column: Mapping[str, Any]) -> bool:
    """Whether the column's YAML tags it ``meta: {pii: true}`` (or under ``config: {meta: ...}``)."""
    meta = {**((column.get("config") or {}).get("meta") or {}), **(column.get("meta") or {})}
    return meta.get("pii") is True


def _resource_id(text: str, limit: int = 64) -> str:
    return re.sub(r"[^0-9A-Za-z-]", "-", text)[:limit]


def _permissions(principal: str, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"Principal": principal, "Actions": list(actions)}]


def exposed_models(manifest: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The models dashboards and analyses depend on, each with the exposures that use it."""
    used: dict[str, list[str]] = {}
    for exposure in (manifest.get("exposures") or {}).values():
        if exposure.get("type") not in EXPOSURE_TYPES:
            continue
        for node_id in (exposure.get("depends_on") or {}).get("nodes", []):
            if node_id.startswith("model."):
                used.setdefault(node_id, []).append(exposure["name"])
    return {node_id: tuple(sorted(names)) for node_id, names in sorted(used.items())}


def build_requests(manifest: Mapping[str, Any], config: QuickSightConfig) -> QuickSightRequests:
    """The data source and dataset requests for every contracted mart a dashboard or analysis exposure uses."""
    athena_parameters: dict[str, Any] = {"WorkGroup": config.workgroup}
    if config.role_arn:
        athena_parameters["RoleArn"] = config.role_arn
    data_source = {
        "AwsAccountId": config.account_id,
        "DataSourceId": config.data_source_id,
        "Name": config.data_source_name,
        "Type": "ATHENA",
        "DataSourceParameters": {"AthenaParameters": athena_parameters},
        "Permissions": _permissions(config.principal_arn, DATA_SOURCE_ACTIONS),
        "Tags": [{"Key": "managed-by", "Value": "c360"}],
    }
    adapter = (manifest.get("metadata") or {}).get("adapter_type")
    nodes = manifest.get("nodes") or {}
    plans = []
    for node_id, exposures in exposed_models(manifest).items():
        node = nodes.get(node_id)
        if node is None:
            raise ExportError(
                f"exposure(s) {', '.join(exposures)} depend on {node_id}, which the manifest lacks"
            )
        name = node["name"]
        if not _contract_enforced(node):
            raise ExportError(
                f"model {name} feeds exposure(s) {', '.join(exposures)} but has no enforced contract: add "
                "`config: {contract: {enforced: true}}` and a data_type per column to its YAML"
            )
        database = config.glue_database or (node.get("schema") if adapter == "athena" else None)
        if not database:
            raise ExportError(
                f"the manifest was parsed for {adapter or 'an unknown adapter'}, so it does not name the Glue "
                "database: pass it (C360_ATHENA_SCHEMA) or parse with `dbt parse --target athena`"
            )
        columns, excluded = [], []
        for column in (node.get("columns") or {}).values():
            column_name = column["name"]
            if (column_name.lower() in DIRECT_IDENTIFIERS or _tagged_pii(column)) and not _identifier_allowed(
                column
            ):
                excluded.append(column_name)
                continue
            if not column.get("data_type"):
                raise ExportError(f"column {name}.{column_name} has no data_type in the contract")
            kind = input_column_type(column["data_type"], where=f"column {name}.{column_name}: ")
            columns.append({"Name": column_name, "Type": kind})
        if not columns:
            raise ExportError(f"model {name} has no columns to publish: document them in its contract")
        table_id = _resource_id(name)
        plans.append(
            DataSetPlan(
                model=name,
                exposures=exposures,
                excluded_columns=tuple(excluded),
                request={
                    "AwsAccountId": config.account_id,
                    "DataSetId": _resource_id(f"{config.id_prefix}-{name}", 128),
                    "Name": f"{config.id_prefix} {name}"[:128],
                    "PhysicalTableMap": {
                        table_id: {
                            "RelationalTable": {
                                "DataSourceArn": config.data_source_arn,
                                "Catalog": config.catalog,
                                "Schema": database,
                                "Name": node.get("alias") or name,
                                "InputColumns": columns,
                            }
                        }
                    },
                    "LogicalTableMap": {
                        table_id: {"Alias": name[:64], "Source": {"PhysicalTableId": table_id}},
                    },
                    "ImportMode": config.import_mode,
                    "Permissions": _permissions(config.principal_arn, DATA_SET_ACTIONS),
                    "Tags": [{"Key": "managed-by", "Value": "c360"}],
                },
            )
        )
    return QuickSightRequests(data_source=data_source, data_sets=tuple(plans))


# --- pushing -----------------------------------------------------------------------------------------------------
def _matches(desired: Any, actual: Any) -> bool:
    """Whether ``actual`` (a Describe answer) already has every value of ``desired`` (extra fields are fine)."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(_matches(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(desired) == len(actual)
            and all(_matches(d, a) for d, a in zip(desired, actual, strict=True))
        )
    return desired == actual


def _missing_permissions(wanted: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    have = {p["Principal"]: set(p.get("Actions", [])) for p in current}
    missing = []
    for permission in wanted:
        actions = [a for a in permission["Actions"] if a not in have.get(permission["Principal"], set())]
        if actions:
            missing.append({"Principal": permission["Principal"], "Actions": actions})
    return missing


def _describe(call: Any, key: str, **kwargs: Any) -> dict[str, Any] | None:
    try:
        return call(**kwargs)[key]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _wait_data_source(client: BaseClient, account_id: str, data_source_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        source = client.describe_data_source(AwsAccountId=account_id, DataSourceId=data_source_id)[
            "DataSource"
        ]
        status = source.get("Status") or ""
        if status.endswith("_SUCCESSFUL"):
            return
        if status.endswith("_FAILED"):
            raise ExportError(
                f"QuickSight data source {data_source_id} is {status}: {source.get('ErrorInfo')}; check that "
                "QuickSight may use Athena and the workgroup"
            )
        if time.monotonic() > deadline:
            raise ExportError(f"QuickSight data source {data_source_id} still {status} after {timeout:.0f}s")
        time.sleep(2)


def _push_data_source(client: BaseClient, request: dict[str, Any], result: dict[str, list[str]]) -> None:
    account, source_id = request["AwsAccountId"], request["DataSourceId"]
    label = f"data source {source_id}"
    current = _describe(
        client.describe_data_source, "DataSource", AwsAccountId=account, DataSourceId=source_id
    )
    if current is None:
        client.create_data_source(**request)
        result["created"].append(label)
        return
    desired = {"Name": request["Name"], "DataSourceParameters": request["DataSourceParameters"]}
    if _matches(desired, current):
        result["unchanged"].append(label)
    else:
        client.update_data_source(AwsAccountId=account, DataSourceId=source_id, **desired)
        result["updated"].append(label)
    permissions = client.describe_data_source_permissions(AwsAccountId=account, DataSourceId=source_id)
    missing = _missing_permissions(request["Permissions"], permissions.get("Permissions", []))
    if missing:
        client.update_data_source_permissions(
            AwsAccountId=account, DataSourceId=source_id, GrantPermissions=missing
        )
        result["granted"].append(label)


_DATA_SET_FIELDS = ("Name", "PhysicalTableMap", "LogicalTableMap", "ImportMode")


def _push_data_set(client: BaseClient, request: dict[str, Any], result: dict[str, list[str]]) -> None:
    account, data_set_id = request["AwsAccountId"], request["DataSetId"]
    label = f"dataset {data_set_id}"
    current = _describe(client.describe_data_set, "DataSet", AwsAccountId=account, DataSetId=data_set_id)
    if current is None:
        client.create_data_set(**request)
        result["created"].append(label)
        return
    desired = {name: request[name] for name in _DATA_SET_FIELDS if name in request}
    if _matches(desired, current):
        result["unchanged"].append(label)
    else:
        client.update_data_set(AwsAccountId=account, DataSetId=data_set_id, **desired)
        result["updated"].append(label)
    permissions = client.describe_data_set_permissions(AwsAccountId=account, DataSetId=data_set_id)
    missing = _missing_permissions(request["Permissions"], permissions.get("Permissions", []))
    if missing:
        client.update_data_set_permissions(
            AwsAccountId=account, DataSetId=data_set_id, GrantPermissions=missing
        )
        result["granted"].append(label)


def push(requests: QuickSightRequests, client: BaseClient, *, timeout_seconds: float = 300.0) -> PushResult:
    """Create or update the data source, then every dataset; a second push with the same requests changes
    nothing. A SPICE dataset is updated only when its definition changed (an update starts a new ingestion)."""
    result: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "granted": []}
    source = requests.data_source
    try:
        _push_data_source(client, source, result)
        _wait_data_source(client, source["AwsAccountId"], source["DataSourceId"], timeout_seconds)
        for plan in requests.data_sets:
            _push_data_set(client, plan.request, result)
    except ClientError as exc:
        raise ExportError(
            f"QuickSight {exc.operation_name} failed: {exc.response['Error'].get('Code')}: "
            f"{str(exc.response['Error'].get('Message'))[:300]}"
        ) from exc
    except BotoCoreError as exc:
        raise ExportError(f"cannot reach QuickSight: {exc}") from exc
    return PushResult(**{key: tuple(values) for key, values in result.items()})


def account_id(endpoint_url: str | None = None) -> str:
    """The AWS account of the current credentials (STS GetCallerIdentity)."""
    try:
        return aws_client("sts", endpoint_url).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        raise ExportError(f"cannot tell the AWS account (STS GetCallerIdentity failed: {exc})") from exc


def publish(
    config: QuickSightConfig,
    manifest_path: str | Path = "target/manifest.json",
    endpoint_url: str | None = None,
) -> PushResult:
    """Read the manifest, build the requests and push them to QuickSight in ``config.region``."""
    requests = build_requests(read_manifest(manifest_path), config)
    client = aws_client("quicksight", endpoint_url, region_name=config.region)
    return push(requests, client)
