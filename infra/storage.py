"""The lake's storage: one customer-managed KMS key and the four buckets of the design (Raw, Stage, Analytics, Log),
versioned, encrypted, private, TLS-only, access-logged into Log, with lifecycle rules."""

from __future__ import annotations

from infra.cfn import (
    ACCOUNT,
    Template,
    arn,
    checkov_skip,
    get_att,
    policy_document,
    ref,
    s3_arn,
    statement,
    sub,
    tags,
)
from infra.model import BUCKETS, KEY, Build

BUCKET_NAME = "c360-${StageName}-%s-${AWS::AccountId}-${AWS::Region}"
ACCESS_LOG_PREFIX = "s3-access-logs"

LIFECYCLE = {
    "raw": [
        # Sources are re-read by the stage jobs; cold batches move to cheaper tiers by themselves.
        {
            "Id": "tier-older-batches",
            "Status": "Enabled",
            "Transitions": [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}],
        },
        {
            "Id": "expire-replaced-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
        },
    ],
    "stage": [
        {
            "Id": "expire-replaced-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
        },
        {
            "Id": "expire-abandoned-staging",
            "Status": "Enabled",
            "Prefix": "stage/_staging/",
            "ExpirationInDays": 7,
        },
    ],
    "analytics": [
        {
            "Id": "expire-replaced-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
        },
    ],
    "log": [
        {
            "Id": "expire-access-logs",
            "Status": "Enabled",
            "Prefix": f"{ACCESS_LOG_PREFIX}/",
            "ExpirationInDays": 365,
        },
        {"Id": "expire-flow-logs", "Status": "Enabled", "Prefix": "vpc-flow-logs/", "ExpirationInDays": 365},
        {
            "Id": "expire-athena-results",
            "Status": "Enabled",
            "Prefix": "athena-results/",
            "ExpirationInDays": 30,
        },
        {"Id": "expire-glue-temp", "Status": "Enabled", "Prefix": "glue-temp/", "ExpirationInDays": 7},
        {
            "Id": "expire-replaced-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
        },
    ],
}
ABORT_MULTIPART = {
    "Id": "abort-incomplete-uploads",
    "Status": "Enabled",
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
}


def add_storage(t: Template, build: Build) -> None:
    add_key(t)
    add_bucket(t, "log")
    for layer in ("raw", "stage", "analytics"):
        add_bucket(t, layer)
    for name, logical_id in BUCKETS.items():
        t.output(f"{logical_id}Name", ref(logical_id), f"The {name} bucket")


def add_key(t: Template) -> None:
    t.add(
        KEY,
        "AWS::KMS::Key",
        {
            "Description": sub(
                "c360 ${StageName}: encrypts the lake, logs, queues, the profile table and secrets"
            ),
            "EnableKeyRotation": True,
            "PendingWindowInDays": 30,
            "KeyPolicy": policy_document(
                [
                    {
                        "Sid": "AccountAdministersTheKeyThroughIam",
                        "Effect": "Allow",
                        "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                        "Effect": "Allow",
                        "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")},
                        "Action": [
                            "kms:Encrypt*",
                            "kms:Decrypt*",
                            "kms:ReEncrypt*",
                            "kms:GenerateDataKey*",
                            "kms:Describe*",
                        ],
                        "Resource": "*",
                        "Condition": {
                            "ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn("logs", "log-group:*")}
                        },
                    },
                ]
            ),
            "Tags": tags(),
        },
        retain=True,
    )
    t.add(
        "DataKeyAlias",
        "AWS::KMS::Alias",
        {"AliasName": sub("alias/c360-${StageName}"), "TargetKeyId": ref(KEY)},
    )
    t.output("DataKeyArn", get_att(KEY, "Arn"), "The KMS key of the lake, logs, queues and the profile table")


def add_bucket(t: Template, layer: str) -> None:
    logical_id = BUCKETS[layer]
    is_log = layer == "log"
    encryption = (
        # S3 server access logs can only be delivered to a bucket whose default encryption is SSE-S3.
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        if is_log
        else {
            "ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": get_att(KEY, "Arn"),
            },
            "BucketKeyEnabled": True,
        }
    )
    properties = {
        "BucketName": sub(BUCKET_NAME % layer),
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [encryption]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LifecycleConfiguration": {"Rules": [*LIFECYCLE[layer], ABORT_MULTIPART]},
        "Tags": tags(layer=layer),
    }
    if not is_log:
        properties["LoggingConfiguration"] = {
            "DestinationBucketName": ref(BUCKETS["log"]),
            "LogFilePrefix": f"{ACCESS_LOG_PREFIX}/{layer}/",
        }
    skips = (
        [
            (
                "CKV_AWS_18",
                "The Log bucket is the access-log destination of the other three; logging it into "
                "itself would loop. CloudTrail data events cover it where required.",
            )
        ]
        if is_log
        else []
    )
    t.add(
        logical_id,
        "AWS::S3::Bucket",
        properties,
        retain=True,
        metadata=checkov_skip(*skips) if skips else None,
    )
    t.add(
        f"{logical_id}Policy",
        "AWS::S3::BucketPolicy",
        {
            "Bucket": ref(logical_id),
            "PolicyDocument": policy_document(bucket_policy(layer)),
        },
    )


def bucket_policy(layer: str) -> list[dict]:
    logical_id = BUCKETS[layer]
    everything = [s3_arn(logical_id), s3_arn(logical_id, "*")]
    statements = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": everything,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutdatedTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": everything,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]
    if layer == "log":
        statements += [
            {
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": s3_arn(logical_id, f"{ACCESS_LOG_PREFIX}/*"),
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnLike": {"aws:SourceArn": [s3_arn(BUCKETS[b]) for b in ("raw", "stage", "analytics")]},
                },
            },
            {
                "Sid": "VpcFlowLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": s3_arn(logical_id, "vpc-flow-logs/AWSLogs/${AWS::AccountId}/*"),
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": ACCOUNT,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    },
                    "ArnLike": {"aws:SourceArn": arn("logs", "*")},
                },
            },
            {
                "Sid": "VpcFlowLogAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": s3_arn(logical_id),
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnLike": {"aws:SourceArn": arn("logs", "*")},
                },
            },
        ]
    return statements


def read_bucket(layer: str, prefix: str = "*") -> list[dict]:
    """IAM statements: list a bucket and read the objects under ``prefix``."""
    logical_id = BUCKETS[layer]
    return [
        statement(["s3:ListBucket", "s3:GetBucketLocation"], s3_arn(logical_id), sid=f"List{logical_id}"),
        statement(
            ["s3:GetObject", "s3:GetObjectVersion"], s3_arn(logical_id, prefix), sid=f"Read{logical_id}"
        ),
    ]


def write_objects(layer: str, *prefixes: str, delete: bool = False) -> dict:
    """IAM statement: read and write (and optionally delete) the objects under ``prefixes`` of one bucket."""
    logical_id = BUCKETS[layer]
    actions = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    if delete:
        actions.append("s3:DeleteObject")
    return statement(actions, [s3_arn(logical_id, p) for p in prefixes], sid=f"Write{logical_id}")


def use_key(*services: str) -> dict:
    """IAM statement: use the data key, only through the given services (``s3``, ``dynamodb``...)."""
    condition = None
    if services:
        condition = {
            "StringEquals": {"kms:ViaService": [sub(f"{s}.${{AWS::Region}}.amazonaws.com") for s in services]}
        }
    return statement(
        ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        get_att(KEY, "Arn"),
        sid="UseDataKey" + "".join(s.capitalize().replace("-", "") for s in services),
        condition=condition,
    )
