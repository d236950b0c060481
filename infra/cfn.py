"""Small helpers for writing CloudFormation as Python data: intrinsic functions, IAM documents, checkov
suppressions, and a :class:`Template` that refuses duplicate logical ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Json = Any

NO_VALUE: Json = {"Ref": "AWS::NoValue"}
ACCOUNT: Json = {"Ref": "AWS::AccountId"}
REGION: Json = {"Ref": "AWS::Region"}
PARTITION: Json = {"Ref": "AWS::Partition"}


def ref(name: str) -> Json:
    return {"Ref": name}


def get_att(resource: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str, **variables: Json) -> Json:
    """``Fn::Sub``; ``${Name}`` refers to parameters, resources and pseudo parameters (``${AWS::Region}``)."""
    return {"Fn::Sub": [text, variables]} if variables else {"Fn::Sub": text}


def if_(condition: str, when_true: Json, when_false: Json) -> Json:
    return {"Fn::If": [condition, when_true, when_false]}


def equals(left: Json, right: Json) -> Json:
    return {"Fn::Equals": [left, right]}


def not_(condition: Json) -> Json:
    return {"Fn::Not": [condition]}


def select(index: int, values: Json) -> Json:
    return {"Fn::Select": [index, values]}


def join(delimiter: str, values: list[Json]) -> Json:
    return {"Fn::Join": [delimiter, values]}


def arn(service: str, resource: str, region: bool = True, account: bool = True) -> Json:
    """An ARN in this stack's partition, region and account (no hard-coded ids): ``arn(\"logs\", \"log-group:x\")``."""
    region_part = "${AWS::Region}" if region else ""
    account_part = "${AWS::AccountId}" if account else ""
    return sub(f"arn:${{AWS::Partition}}:{service}:{region_part}:{account_part}:{resource}")


def s3_arn(bucket_resource: str, key_pattern: str | None = None) -> Json:
    """The ARN of a bucket of this template (its logical id), or of objects under ``key_pattern`` in it."""
    if key_pattern is None:
        return sub(f"arn:${{AWS::Partition}}:s3:::${{{bucket_resource}}}")
    return sub(f"arn:${{AWS::Partition}}:s3:::${{{bucket_resource}}}/{key_pattern}")


def tags(**extra: str) -> list[dict[str, Json]]:
    """The tags every taggable resource carries (list form)."""
    base = {"project": "c360", "stage": ref("StageName")}
    base.update(extra)
    return [{"Key": key, "Value": value} for key, value in base.items()]


def tag_map(**extra: str) -> dict[str, Json]:
    """The same tags for resources that take a key/value map."""
    return {"project": "c360", "stage": ref("StageName"), **extra}


# --- IAM -----------------------------------------------------------------------------------------------------


def statement(
    actions: Iterable[str],
    resources: Json | Iterable[Json],
    *,
    sid: str | None = None,
    condition: Mapping[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Json]:
    acts = sorted(set(actions))
    if "*" in acts:
        raise ValueError("an IAM statement may not allow every action ('*')")
    res = [resources] if isinstance(resources, (str, dict)) else list(resources)
    body: dict[str, Json] = {}
    if sid:
        body["Sid"] = sid
    body["Effect"] = effect
    body["Action"] = acts
    body["Resource"] = res
    if condition:
        body["Condition"] = dict(condition)
    return body


def policy_document(statements: Iterable[dict[str, Json]]) -> dict[str, Json]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role(service: str, condition: Mapping[str, Any] | None = None) -> dict[str, Json]:
    """Trust policy for one AWS service principal, limited to this account where the service supports it."""
    stmt: dict[str, Json] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = dict(condition)
    return {"Version": "2012-10-17", "Statement": [stmt]}


SOURCE_ACCOUNT = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# --- checkov -------------------------------------------------------------------------------------------------


def checkov_skip(*checks: tuple[str, str]) -> dict[str, Json]:
    """Resource metadata that suppresses checkov checks; every suppression carries its reason."""
    for check_id, reason in checks:
        if len(reason.strip()) < 20:
            raise ValueError(f"checkov suppression {check_id} needs a written reason")
    return {"checkov": {"skip": [{"id": check_id, "comment": reason} for check_id, reason in checks]}}


# --- the template --------------------------------------------------------------------------------------------


@dataclass
class Template:
    description: str
    parameters: dict[str, Json] = field(default_factory=dict)
    conditions: dict[str, Json] = field(default_factory=dict)
    resources: dict[str, Json] = field(default_factory=dict)
    outputs: dict[str, Json] = field(default_factory=dict)
    metadata: dict[str, Json] = field(default_factory=dict)

    def parameter(self, name: str, **spec: Json) -> Json:
        self._unique(name, self.parameters)
        self.parameters[name] = spec
        return ref(name)

    def condition(self, name: str, expression: Json) -> str:
        self._unique(name, self.conditions)
        self.conditions[name] = expression
        return name

    def add(
        self,
        logical_id: str,
        resource_type: str,
        properties: Mapping[str, Json] | None = None,
        *,
        condition: str | None = None,
        depends_on: Iterable[str] = (),
        metadata: Mapping[str, Json] | None = None,
        retain: bool = False,
        snapshot: bool = False,
    ) -> Json:
        """Add a resource; return a ``Ref`` to it."""
        self._unique(logical_id, self.resources)
        if not logical_id.isalnum():
            raise ValueError(f"logical id {logical_id!r} must be alphanumeric")
        body: dict[str, Json] = {"Type": resource_type}
        if condition:
            body["Condition"] = condition
        deps = sorted(set(depends_on))
        if deps:
            body["DependsOn"] = deps
        if metadata:
            body["Metadata"] = dict(metadata)
        if retain or snapshot:
            policy = "Snapshot" if snapshot else "Retain"
            body["DeletionPolicy"] = policy
            body["UpdateReplacePolicy"] = policy
        body["Properties"] = dict(properties or {})
        self.resources[logical_id] = body
        return ref(logical_id)

    def output(self, name: str, value: Json, description: str, condition: str | None = None) -> None:
        self._unique(name, self.outputs)
        body: dict[str, Json] = {"Description": description, "Value": value}
        if condition:
            body["Condition"] = condition
        self.outputs[name] = body

    def to_dict(self) -> dict[str, Json]:
        body: dict[str, Json] = {"AWSTemplateFormatVersion": "2010-09-09", "Description": self.description}
        if self.metadata:
            body["Metadata"] = self.metadata
        body["Parameters"] = self.parameters
        if self.conditions:
            body["Conditions"] = self.conditions
        body["Resources"] = self.resources
        if self.outputs:
            body["Outputs"] = self.outputs
        return body

    @staticmethod
    def _unique(name: str, where: Mapping[str, Json]) -> None:
        if name in where:
            raise ValueError(f"{name!r} is defined twice in the template")
