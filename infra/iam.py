"""One IAM role per component, each with an inline least-privilege policy. Statements that must name ``*`` (APIs
without resource-level permissions) say so where they are written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infra.cfn import (
    SOURCE_ACCOUNT,
    Json,
    Template,
    arn,
    assume_role,
    checkov_skip,
    get_att,
    statement,
    sub,
    tags,
)


def add_role(
    t: Template,
    logical_id: str,
    service: str,
    description: str,
    statements: Iterable[dict[str, Json]],
    *,
    managed_policies: Iterable[Json] = (),
    trust_condition: Mapping[str, Json] | None = SOURCE_ACCOUNT,
    condition: str | None = None,
    skips: Iterable[tuple[str, str]] = (),
) -> Json:
    """Add a role that ``service`` assumes; return its ARN."""
    body: dict[str, Json] = {
        "Description": description,
        "AssumeRolePolicyDocument": assume_role(service, trust_condition),
        "Policies": [
            {
                "PolicyName": "least-privilege",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": _merge(list(statements))},
            }
        ],
        "Tags": tags(),
    }
    managed = list(managed_policies)
    if managed:
        body["ManagedPolicyArns"] = managed
    skip_list = list(skips)
    t.add(
        logical_id,
        "AWS::IAM::Role",
        body,
        condition=condition,
        metadata=checkov_skip(*skip_list) if skip_list else None,
    )
    return get_att(logical_id, "Arn")


def _merge(statements: list[dict[str, Json]]) -> list[dict[str, Json]]:
    """Give every statement a unique Sid (IAM rejects duplicates) without losing any."""
    seen: dict[str, int] = {}
    merged = []
    for stmt in statements:
        sid = stmt.get("Sid")
        if sid:
            seen[sid] = seen.get(sid, 0) + 1
            if seen[sid] > 1:
                stmt = {**stmt, "Sid": f"{sid}{seen[sid]}"}
        merged.append(stmt)
    return merged


def write_logs(log_group_pattern: str, sid: str = "WriteOwnLogs") -> dict[str, Json]:
    """Create streams and put events in the log groups matching ``log_group_pattern`` (a ``Sub`` string)."""
    return statement(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [
            arn("logs", f"log-group:{log_group_pattern}"),
            arn("logs", f"log-group:{log_group_pattern}:log-stream:*"),
        ],
        sid=sid,
    )


def add_log_group(t: Template, logical_id: str, name: str, *, condition: str | None = None) -> Json:
    """A KMS-encrypted log group kept for a year; returns its name (a ``Ref``)."""
    t.add(
        logical_id,
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": sub(name),
            "RetentionInDays": 365,
            "KmsKeyId": get_att("DataKey", "Arn"),
            "Tags": tags(),
        },
        condition=condition,
    )
    return {"Ref": logical_id}


XRAY = statement(
    ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*", sid="XRayTracesHaveNoResourceArn"
)
