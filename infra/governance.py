"""Lake Formation: the lake buckets registered, LF-tags for the layer and for personal data, every database
tagged (columns default to not-PII; the state machine tags the PII columns of each crawled or built table), and
each role granted what its component needs, by tag expression where tables come and go."""

from __future__ import annotations

from infra import spec
from infra.analytics import QUICKSIGHT_ROLE, RUNNER_ROLE
from infra.catalog import CRAWLER_ROLE, database_name
from infra.cfn import ACCOUNT, Json, Template, get_att, ref, s3_arn, sub
from infra.model import BUCKETS, DATABASES, Build

PII_TAG = "LakeFormationPiiTag"
LAYER_TAG = "LakeFormationLayerTag"
STATE_MACHINE_ROLE = "PipelineStateMachineRole"
TABLE_ADMIN = ["ALTER", "DELETE", "DESCRIBE", "DROP", "INSERT", "SELECT"]


def pii_tag_key() -> Json:
    return sub(f"c360_${{StageName}}_{spec.PII_TAG.removeprefix('c360_')}")


def layer_tag_key() -> Json:
    return sub(f"c360_${{StageName}}_{spec.LAYER_TAG.removeprefix('c360_')}")


def add_governance(t: Template, build: Build) -> None:
    t.add(
        "LakeFormationSettings",
        "AWS::LakeFormation::DataLakeSettings",
        {
            "Admins": [{"DataLakePrincipalIdentifier": ref("LakeFormationAdminArn")}],
            "MutationType": "APPEND",
        },
        condition="ManageLakeFormationAdmins",
    )
    for layer in spec.LAYERS:
        t.add(
            f"{BUCKETS[layer]}Registration",
            "AWS::LakeFormation::Resource",
            {
                "ResourceArn": s3_arn(BUCKETS[layer]),
                "UseServiceLinkedRole": True,
                "HybridAccessEnabled": True,  # IAM-only principals keep working while grants move to Lake Formation
            },
        )
    t.add(
        PII_TAG,
        "AWS::LakeFormation::Tag",
        {"CatalogId": ACCOUNT, "TagKey": pii_tag_key(), "TagValues": ["true", "false"]},
    )
    t.add(
        LAYER_TAG,
        "AWS::LakeFormation::Tag",
        {"CatalogId": ACCOUNT, "TagKey": layer_tag_key(), "TagValues": list(spec.LAYERS)},
    )
    for layer in spec.LAYERS:
        t.add(
            f"{DATABASES[layer]}Tags",
            "AWS::LakeFormation::TagAssociation",
            {
                "Resource": {"Database": {"CatalogId": ACCOUNT, "Name": ref(DATABASES[layer])}},
                "LFTags": [
                    {"CatalogId": ACCOUNT, "TagKey": layer_tag_key(), "TagValues": [layer]},
                    {"CatalogId": ACCOUNT, "TagKey": pii_tag_key(), "TagValues": ["false"]},
                ],
            },
            depends_on=[PII_TAG, LAYER_TAG],
        )
    add_grants(t)


def grant(
    t: Template,
    logical_id: str,
    role: str,
    resource: dict[str, Json],
    permissions: list[str],
    *,
    grantable: list[str] | None = None,
    condition: str | None = None,
    depends_on: tuple[str, ...] = (),
) -> None:
    t.add(
        logical_id,
        "AWS::LakeFormation::PrincipalPermissions",
        {
            "Principal": {"DataLakePrincipalIdentifier": get_att(role, "Arn")},
            "Resource": resource,
            "Permissions": sorted(permissions),
            "PermissionsWithGrantOption": sorted(grantable or []),
        },
        condition=condition,
        depends_on=depends_on,
    )


def location(layer: str) -> dict[str, Json]:
    return {"DataLocation": {"CatalogId": ACCOUNT, "ResourceArn": s3_arn(BUCKETS[layer])}}


def database(layer: str) -> dict[str, Json]:
    return {"Database": {"CatalogId": ACCOUNT, "Name": database_name(layer)}}


def tables(layers: list[str], pii: list[str] | None = None) -> dict[str, Json]:
    expression = [{"TagKey": layer_tag_key(), "TagValues": layers}]
    if pii is not None:
        expression.append({"TagKey": pii_tag_key(), "TagValues": pii})
    return {"LFTagPolicy": {"CatalogId": ACCOUNT, "ResourceType": "TABLE", "Expression": expression}}


def add_grants(t: Template) -> None:
    tagged = tuple(f"{DATABASES[layer]}Tags" for layer in spec.LAYERS)
    registered = tuple(f"{BUCKETS[layer]}Registration" for layer in spec.LAYERS)
    # Crawlers: create and update the tables of the raw and stage layers.
    for layer in ("raw", "stage"):
        short = layer.capitalize()
        grant(
            t,
            f"Crawler{short}Location",
            CRAWLER_ROLE,
            location(layer),
            ["DATA_LOCATION_ACCESS"],
            depends_on=registered,
        )
        grant(
            t,
            f"Crawler{short}Database",
            CRAWLER_ROLE,
            database(layer),
            ["ALTER", "CREATE_TABLE", "DESCRIBE"],
            depends_on=(DATABASES[layer],),
        )
    grant(
        t,
        "CrawlerTables",
        CRAWLER_ROLE,
        tables(["raw", "stage"]),
        ["ALTER", "DESCRIBE", "SELECT"],
        depends_on=tagged,
    )
    # The dbt runner: read every column of the stage layer, own the analytics layer.
    grant(
        t,
        "RunnerAnalyticsLocation",
        RUNNER_ROLE,
        location("analytics"),
        ["DATA_LOCATION_ACCESS"],
        depends_on=registered,
    )
    grant(
        t,
        "RunnerAnalyticsDatabase",
        RUNNER_ROLE,
        database("analytics"),
        ["ALTER", "CREATE_TABLE", "DESCRIBE", "DROP"],
        depends_on=(DATABASES["analytics"],),
    )
    grant(t, "RunnerAnalyticsTables", RUNNER_ROLE, tables(["analytics"]), TABLE_ADMIN, depends_on=tagged)
    grant(
        t,
        "RunnerStageDatabase",
        RUNNER_ROLE,
        database("stage"),
        ["DESCRIBE"],
        depends_on=(DATABASES["stage"],),
    )
    grant(t, "RunnerStageTables", RUNNER_ROLE, tables(["stage"]), ["DESCRIBE", "SELECT"], depends_on=tagged)
    # QuickSight: the analytics layer, never a column tagged PII.
    grant(
        t,
        "QuickSightAnalyticsDatabase",
        QUICKSIGHT_ROLE,
        database("analytics"),
        ["DESCRIBE"],
        condition="HasQuickSight",
        depends_on=(DATABASES["analytics"],),
    )
    grant(
        t,
        "QuickSightAnalyticsTables",
        QUICKSIGHT_ROLE,
        tables(["analytics"], pii=["false"]),
        ["DESCRIBE", "SELECT"],
        condition="HasQuickSight",
        depends_on=tagged,
    )
    # The state machine tags PII columns: ASSOCIATE on the tag, and the table permissions with grant option
    # that Lake Formation requires of whoever assigns a tag (it has no S3 access, so it cannot read the data).
    grant(
        t,
        "StateMachinePiiTag",
        STATE_MACHINE_ROLE,
        {"LFTag": {"CatalogId": ACCOUNT, "TagKey": pii_tag_key(), "TagValues": ["true", "false"]}},
        ["ASSOCIATE", "DESCRIBE"],
        depends_on=(PII_TAG,),
    )
    grant(
        t,
        "StateMachineTables",
        STATE_MACHINE_ROLE,
        tables(list(spec.LAYERS)),
        TABLE_ADMIN,
        grantable=TABLE_ADMIN,
        depends_on=tagged,
    )
