"""Serving the profiles: the DynamoDB profile table (on demand, point-in-time recovery, the branch index) and the
SSM parameter that names the table readers use (a full refresh switches it to a freshly loaded table)."""

from __future__ import annotations

from infra import spec
from infra.cfn import Template, arn, get_att, if_, ref, statement, sub, tags
from infra.model import KEY, PROFILE_TABLE, Build
from infra.storage import read_bucket, use_key, write_objects

TABLE_NAME = "c360-${StageName}-profiles"
PARAMETER = "ProfileTableParameter"


def parameter_name() -> dict:
    return sub(spec.PROFILE_SSM_PARAMETER.replace("{stage}", "${StageName}"))


def add_serving(t: Template, build: Build) -> None:
    t.add(
        PROFILE_TABLE,
        "AWS::DynamoDB::Table",
        {
            "TableName": sub(TABLE_NAME),
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": build.profile_key, "AttributeType": "N"},
                {"AttributeName": build.profile_index_key, "AttributeType": "N"},
            ],
            "KeySchema": [{"AttributeName": build.profile_key, "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": build.profile_index,
                    "KeySchema": [
                        {"AttributeName": build.profile_index_key, "KeyType": "HASH"},
                        {"AttributeName": build.profile_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": get_att(KEY, "Arn")},
            "DeletionProtectionEnabled": if_("ProtectData", True, False),
            "Tags": tags(),
        },
        retain=True,
    )
    t.add(
        PARAMETER,
        "AWS::SSM::Parameter",
        {
            "Name": parameter_name(),
            "Type": "String",
            "Value": ref(PROFILE_TABLE),
            "Description": "The DynamoDB table that serves customer_360 profiles (a full refresh switches it)",
            "Tags": {"project": "c360", "stage": ref("StageName")},
        },
    )
    t.output("ProfileTableName", ref(PROFILE_TABLE), "The DynamoDB profile table")
    t.output("ProfileTableParameterName", ref(PARAMETER), "The SSM parameter naming the table readers use")


def table_arns(indexes: bool = False) -> list:
    """This stage's profile tables: the template's and those a full refresh creates (``<name>-<run id>``)."""
    arns = [arn("dynamodb", f"table/{TABLE_NAME}"), arn("dynamodb", f"table/{TABLE_NAME}-*")]
    if indexes:
        arns += [
            arn("dynamodb", f"table/{TABLE_NAME}/index/*"),
            arn("dynamodb", f"table/{TABLE_NAME}-*/index/*"),
        ]
    return arns


def parameter_arn() -> dict:
    return arn("ssm", "parameter" + spec.PROFILE_SSM_PARAMETER.replace("{stage}", "${StageName}"))


def reader_statements() -> list[dict]:
    return [
        statement(["ssm:GetParameter"], parameter_arn(), sid="ReadProfileTableName"),
        statement(
            ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"],
            table_arns(indexes=True),
            sid="ReadProfiles",
        ),
        use_key("dynamodb"),
    ]


def writer_statements() -> list[dict]:
    """Export customer_360 from the analytics zone and load it: upserts, or a full refresh into a new table
    (ImportTable from S3, or BatchWriteItem) and the switch of the SSM parameter."""
    return [
        *read_bucket("analytics", "analytics/*"),
        write_objects("analytics", "analytics/exports/*", delete=True),
        statement(
            [
                "dynamodb:BatchWriteItem",
                "dynamodb:PutItem",
                "dynamodb:DescribeTable",
                "dynamodb:CreateTable",
                "dynamodb:ImportTable",
                "dynamodb:TagResource",
                "dynamodb:ListTagsOfResource",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:UpdateContinuousBackups",
            ],
            table_arns(),
            sid="LoadProfiles",
        ),
        statement(
            ["dynamodb:DescribeImport"],
            [arn("dynamodb", f"table/{TABLE_NAME}-*/import/*")],
            sid="FollowImports",
        ),
        statement(["ssm:GetParameter", "ssm:PutParameter"], parameter_arn(), sid="SwitchProfileTable"),
        statement(
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:PutRetentionPolicy",
            ],
            [arn("logs", "log-group:/aws-dynamodb/*")],
            sid="ImportTableLogs",
        ),
        statement(
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
            get_att(KEY, "Arn"),
            sid="UseDataKeyForExportAndTables",
            condition={
                "StringEquals": {
                    "kms:ViaService": [
                        sub("s3.${AWS::Region}.amazonaws.com"),
                        sub("dynamodb.${AWS::Region}.amazonaws.com"),
                    ]
                }
            },
        ),
    ]
