"""The Glue side: a database per lake layer, the crawlers that keep them current, the JDBC connection to the
source database, one Glue 5.0 job per stage script, and their roles."""

from __future__ import annotations

import json

from infra import spec
from infra.cfn import Template, arn, get_att, ref, s3_arn, statement, sub, tag_map
from infra.database import secret_arn
from infra.iam import add_role
from infra.model import (
    BUCKETS,
    CRAWLERS,
    DATABASES,
    JDBC_CONNECTION,
    KEY,
    SOURCE_DB,
    SOURCE_DB_NAME,
    Build,
    GlueJob,
    zone_uri,
)
from infra.network import GLUE_SG, SUBNETS
from infra.storage import read_bucket, use_key, write_objects

SECURITY_CONFIGURATION = "GlueSecurityConfiguration"
JOB_ROLE = "GlueJobRole"
SOURCE_DB_JOB_ROLE = "GlueSourceDbJobRole"
CRAWLER_ROLE = "GlueCrawlerRole"


def database_name(layer: str) -> dict:
    return sub(f"c360_${{StageName}}_{layer}")


def glue_arns(layer: str) -> list:
    """The catalog, one layer's database and its tables."""
    return [
        arn("glue", "catalog"),
        arn("glue", f"database/c360_${{StageName}}_{layer}"),
        arn("glue", f"table/c360_${{StageName}}_{layer}/*"),
    ]


def artifact_uri(key: str) -> dict:
    return sub(f"s3://${{ArtifactBucket}}/${{ArtifactPrefix}}{key}")


def add_catalog(t: Template, build: Build) -> None:
    for layer in spec.LAYERS:
        t.add(
            DATABASES[layer],
            "AWS::Glue::Database",
            {
                "CatalogId": ref("AWS::AccountId"),
                "DatabaseInput": {
                    "Name": database_name(layer),
                    "Description": f"c360 {layer} layer",
                    "LocationUri": sub(f"s3://${{{BUCKETS[layer]}}}/{layer}/"),
                },
            },
        )
        t.output(
            f"{layer.capitalize()}DatabaseName",
            ref(DATABASES[layer]),
            f"The Glue database of the {layer} layer",
        )
    t.add(
        SECURITY_CONFIGURATION,
        "AWS::Glue::SecurityConfiguration",
        {
            "Name": sub("c360-${StageName}"),
            "EncryptionConfiguration": {
                "S3Encryptions": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": get_att(KEY, "Arn")}],
                "CloudWatchEncryption": {
                    "CloudWatchEncryptionMode": "SSE-KMS",
                    "KmsKeyArn": get_att(KEY, "Arn"),
                },
                "JobBookmarksEncryption": {
                    "JobBookmarksEncryptionMode": "CSE-KMS",
                    "KmsKeyArn": get_att(KEY, "Arn"),
                },
            },
        },
    )
    add_crawlers(t)
    add_connection(t)
    add_job_roles(t, build)
    for job in build.glue_jobs:
        add_job(t, build, job)


def add_crawlers(t: Template) -> None:
    exclusions = {
        "raw": ["**/_*/**", "**/.*"],
        "stage": ["_quarantine/**", "_staging/**", "**.old/**", "**/_*"],
    }
    for layer, logical_id in CRAWLERS.items():
        t.add(
            logical_id,
            "AWS::Glue::Crawler",
            {
                "Name": sub(f"c360-${{StageName}}-{layer}"),
                "Description": f"Catalogs every table folder of the {layer} zone (s3://<bucket>/{layer}/<table>/)",
                "Role": get_att(CRAWLER_ROLE, "Arn"),
                "DatabaseName": ref(DATABASES[layer]),
                "Targets": {
                    "S3Targets": [
                        {"Path": sub(f"s3://${{{BUCKETS[layer]}}}/{layer}/"), "Exclusions": exclusions[layer]}
                    ]
                },
                "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
                "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
                "CrawlerSecurityConfiguration": ref(SECURITY_CONFIGURATION),
                "Configuration": json.dumps(
                    {
                        "Version": 1.0,
                        # s3://bucket/<zone>/<table>/...: the table is the third level, below it are partitions.
                        "Grouping": {"TableLevelConfiguration": 3},
                        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
                    },
                    sort_keys=True,
                ),
                "Tags": tag_map(layer=layer),
            },
        )
    statements = [
        *read_bucket("raw", "raw/*"),
        *read_bucket("stage", "stage/*"),
        use_key("s3"),
        statement(
            [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
                "glue:CreatePartition",
                "glue:BatchCreatePartition",
                "glue:UpdatePartition",
                "glue:BatchUpdatePartition",
            ],
            [*glue_arns("raw"), *glue_arns("stage")],
            sid="CatalogRawAndStage",
        ),
        statement(["glue:GetSecurityConfiguration"], "*", sid="SecurityConfigurationsHaveNoResourceArn"),
        statement(["lakeformation:GetDataAccess"], "*", sid="LakeFormationDataAccessHasNoResourceArn"),
        statement(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
            [arn("logs", "log-group:/aws-glue/crawlers*")],
            sid="CrawlerLogs",
        ),
        statement(
            ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
            get_att(KEY, "Arn"),
            sid="EncryptCrawlerLogs",
            condition={"StringEquals": {"kms:ViaService": sub("logs.${AWS::Region}.amazonaws.com")}},
        ),
    ]
    add_role(
        t,
        CRAWLER_ROLE,
        "glue.amazonaws.com",
        "c360 crawlers: read the raw and stage zones, write their tables",
        statements,
    )


def add_connection(t: Template) -> None:
    t.add(
        JDBC_CONNECTION,
        "AWS::Glue::Connection",
        {
            "CatalogId": ref("AWS::AccountId"),
            "ConnectionInput": {
                "Name": sub("c360-${StageName}-sourcemf"),
                "Description": "JDBC to the Aurora PostgreSQL source database (credentials from Secrets Manager)",
                "ConnectionType": "JDBC",
                "ConnectionProperties": {
                    "JDBC_CONNECTION_URL": sub(
                        f"jdbc:postgresql://${{{SOURCE_DB}.Endpoint.Address}}:${{{SOURCE_DB}.Endpoint.Port}}/{SOURCE_DB_NAME}"
                    ),
                    "SECRET_ID": secret_arn(),
                    "JDBC_ENFORCE_SSL": "true",
                },
                "PhysicalConnectionRequirements": {
                    "SubnetId": ref(SUBNETS[0]),
                    "AvailabilityZone": get_att(SUBNETS[0], "AvailabilityZone"),
                    "SecurityGroupIdList": [ref(GLUE_SG)],
                },
            },
        },
    )


def job_statements() -> list[dict]:
    return [
        statement(
            ["s3:GetObject"],
            sub("arn:${AWS::Partition}:s3:::${ArtifactBucket}/${ArtifactPrefix}glue/*"),
            sid="ReadJobCode",
        ),
        *read_bucket("raw", "raw/*"),
        statement(
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [s3_arn(BUCKETS["stage"]), s3_arn(BUCKETS["log"])],
            sid="ListStageAndLog",
        ),
        write_objects("stage", "stage/*", delete=True),
        statement(
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            [s3_arn(BUCKETS["log"], p) for p in ("logs/audit/*", "glue-temp/*", "glue-spark-ui/*")],
            sid="WriteAuditTempAndSparkUi",
        ),
        statement(
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            get_att(KEY, "Arn"),
            sid="UseDataKeyForLakeAndLogs",
        ),
        statement(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
            [arn("logs", "log-group:/aws-glue/*")],
            sid="GlueJobLogs",
        ),
        statement(["glue:GetSecurityConfiguration"], "*", sid="SecurityConfigurationsHaveNoResourceArn"),
        statement(
            ["cloudwatch:PutMetricData"],
            "*",
            sid="MetricsHaveNoResourceArn",
            condition={"StringEquals": {"cloudwatch:namespace": "Glue"}},
        ),
    ]


def vpc_statements() -> list[dict]:
    """What Glue needs to place a job's workers in the VPC (AWS Glue developer guide, 'Setting up for VPC')."""
    return [
        statement(
            [
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeRouteTables",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcAttribute",
            ],
            "*",
            sid="Ec2DescribeCallsHaveNoResourceArn",
        ),
        statement(
            ["ec2:CreateNetworkInterface"],
            [arn("ec2", "network-interface/*"), arn("ec2", "subnet/*"), arn("ec2", "security-group/*")],
            sid="CreateWorkerInterfaces",
        ),
        statement(
            ["ec2:DeleteNetworkInterface"], arn("ec2", "network-interface/*"), sid="DeleteWorkerInterfaces"
        ),
        statement(
            ["ec2:CreateTags", "ec2:DeleteTags"],
            [arn("ec2", "network-interface/*"), arn("ec2", "security-group/*"), arn("ec2", "instance/*")],
            sid="TagGlueServiceResources",
            condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}},
        ),
        statement(
            ["glue:GetConnection"],
            [arn("glue", "catalog"), arn("glue", "connection/c360-${StageName}-sourcemf")],
            sid="ReadJdbcConnection",
        ),
        statement(
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            secret_arn(),
            sid="ReadSourceDbSecret",
        ),
    ]


def add_job_roles(t: Template, build: Build) -> None:
    add_role(
        t,
        JOB_ROLE,
        "glue.amazonaws.com",
        "c360 stage jobs: read the raw zone, write the stage zone and the audit records",
        job_statements(),
    )
    if build.source_db_jobs:
        add_role(
            t,
            SOURCE_DB_JOB_ROLE,
            "glue.amazonaws.com",
            "c360 stage jobs that read the source database through the JDBC connection",
            [*job_statements(), *vpc_statements()],
        )


def add_job(t: Template, build: Build, job: GlueJob) -> None:
    args = {
        "--job-language": "python",
        "--extra-py-files": artifact_uri(build.artifacts.glue_library),
        "--raw_uri": zone_uri("raw"),
        "--stage_uri": zone_uri("stage"),
        "--logs_uri": zone_uri("logs"),
        "--TempDir": sub(f"s3://${{{BUCKETS['log']}}}/glue-temp/{job.name}/"),
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
        "--enable-spark-ui": "true",
        "--spark-event-logs-path": sub(f"s3://${{{BUCKETS['log']}}}/glue-spark-ui/{job.name}/"),
        "--job-bookmark-option": "job-bookmark-disable",
    }
    properties = {
        "Name": sub(f"c360-${{StageName}}-{job.name}"),
        "Description": f"Stage job spark_jobs/{job.script}.py (the same code c360 stage runs locally)",
        "Role": get_att(SOURCE_DB_JOB_ROLE if job.options.source_db else JOB_ROLE, "Arn"),
        "GlueVersion": spec.GLUE_VERSION,
        "Command": {
            "Name": "glueetl",
            "PythonVersion": "3",
            "ScriptLocation": artifact_uri(build.artifacts.glue_scripts[job.script]),
        },
        "DefaultArguments": args,
        "WorkerType": job.options.worker_type,
        "NumberOfWorkers": job.options.workers,
        "Timeout": job.options.timeout_minutes,
        "MaxRetries": 0,  # the state machine retries, with backoff
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
        "SecurityConfiguration": ref(SECURITY_CONFIGURATION),
        "Tags": tag_map(script=job.script),
    }
    if job.options.source_db:
        properties["Connections"] = {"Connections": [ref(JDBC_CONNECTION)]}
        args["--source_db_connection"] = ref(JDBC_CONNECTION)
        args["--source_db_secret_arn"] = secret_arn()
    t.add(job.logical_id, "AWS::Glue::Job", properties)
