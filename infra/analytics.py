"""Query and compute: the Athena workgroup (enforced result location, bytes-scanned cutoff), the dbt runner
(CodeBuild running ``dbt build --target athena`` and the export), the EMR Serverless application for the GA
advanced transformation, and the QuickSight Athena data source."""

from __future__ import annotations

import yaml

from infra import spec
from infra.catalog import database_name, glue_arns
from infra.cfn import NO_VALUE, Template, arn, get_att, if_, ref, s3_arn, statement, sub, tags
from infra.iam import add_log_group, add_role, write_logs
from infra.model import BUCKETS, EMR_APP, EMR_ROLE, KEY, RUNNER, WORKGROUP, Build
from infra.serving import writer_statements
from infra.storage import read_bucket, use_key, write_objects

RUNNER_ROLE = "DbtRunnerRole"
QUICKSIGHT_ROLE = "QuickSightAthenaRole"
ATHENA_RESULTS = "athena-results/"
BUILD_COMMAND = "dbt build --target athena --exclude-resource-type unit_test"  # see c360.dbt_runner


def add_analytics(t: Template, build: Build) -> None:
    add_workgroup(t)
    add_runner(t, build)
    add_emr(t, build)
    add_quicksight(t)


def add_workgroup(t: Template) -> None:
    t.add(
        WORKGROUP,
        "AWS::Athena::WorkGroup",
        {
            "Name": sub("c360-${StageName}"),
            "Description": "c360: dbt, QuickSight and analysts; results location and scan limit enforced",
            "State": "ENABLED",
            "RecursiveDeleteOption": True,
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": ref("AthenaBytesScannedCutoffPerQuery"),
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                "ResultConfiguration": {
                    "OutputLocation": sub(f"s3://${{{BUCKETS['log']}}}/{ATHENA_RESULTS}"),
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": get_att(KEY, "Arn")},
                },
            },
            "Tags": tags(),
        },
    )
    t.output("AthenaWorkGroupName", ref(WORKGROUP), "The Athena workgroup")


def athena_statements() -> list[dict]:
    """Run queries in the workgroup and write their results."""
    return [
        statement(
            [
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetQueryResultsStream",
                "athena:GetWorkGroup",
                "athena:BatchGetQueryExecution",
                "athena:ListQueryExecutions",
            ],
            arn("athena", "workgroup/c360-${StageName}"),
            sid="QueryInWorkGroup",
        ),
        statement(
            [
                "athena:GetDataCatalog",
                "athena:GetDatabase",
                "athena:ListDatabases",
                "athena:GetTableMetadata",
                "athena:ListTableMetadata",
            ],
            arn("athena", "datacatalog/AwsDataCatalog"),
            sid="ReadAthenaCatalog",
        ),
        statement(
            ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            s3_arn(BUCKETS["log"]),
            sid="ListResultsBucket",
        ),
        statement(
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            s3_arn(BUCKETS["log"], f"{ATHENA_RESULTS}*"),
            sid="QueryResults",
        ),
        statement(["lakeformation:GetDataAccess"], "*", sid="LakeFormationDataAccessHasNoResourceArn"),
        use_key("s3", "athena"),
    ]


def add_runner(t: Template, build: Build) -> None:
    log_group = "DbtRunnerLogGroup"
    add_log_group(t, log_group, "/aws/codebuild/c360-${StageName}-runner")
    export_statements = [] if build.export else writer_statements()
    add_role(
        t,
        RUNNER_ROLE,
        "codebuild.amazonaws.com",
        "c360 runner: dbt build on Athena (read stage, write analytics) and the profile export",
        [
            statement(
                ["s3:GetObject", "s3:GetObjectVersion"],
                sub("arn:${AWS::Partition}:s3:::${ArtifactBucket}/${ArtifactPrefix}runner/*"),
                sid="ReadSource",
            ),
            statement(
                ["s3:GetBucketAcl", "s3:GetBucketLocation"],
                sub("arn:${AWS::Partition}:s3:::${ArtifactBucket}"),
                sid="SourceBucket",
            ),
            write_logs("/aws/codebuild/c360-${StageName}-runner"),
            *athena_statements(),
            statement(
                [
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                ],
                [*glue_arns("stage"), *glue_arns("analytics"), arn("glue", "database/default")],
                sid="ReadCatalog",
            ),
            statement(
                [
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:DeleteTable",
                    "glue:BatchDeleteTable",
                    "glue:CreatePartition",
                    "glue:BatchCreatePartition",
                    "glue:UpdatePartition",
                    "glue:DeletePartition",
                    "glue:BatchDeletePartition",
                    "glue:GetTableVersions",
                    "glue:DeleteTableVersion",
                    "glue:BatchDeleteTableVersion",
                ],
                glue_arns("analytics"),
                sid="WriteAnalyticsCatalog",
            ),
            *read_bucket("stage", "stage/*"),
            statement(
                ["s3:ListBucket", "s3:GetBucketLocation"], s3_arn(BUCKETS["analytics"]), sid="ListAnalytics"
            ),
            write_objects("analytics", "analytics/*", delete=True),
            *export_statements,
        ],
    )
    buildspec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.11"},
                "commands": [
                    "python -m venv /tmp/c360",
                    "/tmp/c360/bin/pip install --quiet --disable-pip-version-check .",
                ],
            },
            "build": {
                "commands": [
                    "source /tmp/c360/bin/activate",
                    'case "$C360_STEP" in '
                    f"build) {BUILD_COMMAND} ;; "
                    f"export) {spec.EXPORT_COMMAND} ;; "
                    "*) echo \"C360_STEP must be build or export, not '$C360_STEP'\" >&2; exit 2 ;; esac",
                ]
            },
        },
    }
    environment = {
        "C360_STEP": "build",
        "C360_DBT_TARGET": "athena",
        "C360_AWS_REGION": ref("AWS::Region"),
        "C360_ATHENA_WORKGROUP": ref(WORKGROUP),
        "C360_ATHENA_STAGING_DIR": sub(f"s3://${{{BUCKETS['log']}}}/{ATHENA_RESULTS}dbt/"),
        "C360_ATHENA_DATA_DIR": sub(f"s3://${{{BUCKETS['analytics']}}}/analytics/"),
        "C360_ATHENA_SCHEMA": database_name("analytics"),
        "C360_STAGE_SCHEMA": database_name("stage"),
        "C360_LAKE": sub(f"s3://${{{BUCKETS['analytics']}}}"),
        "C360_ENV": ref("StageName"),
        "C360_DYNAMODB_TABLE": ref("ProfileTable"),
        "C360_DYNAMODB_KMS_KEY": get_att(KEY, "Arn"),
    }
    t.add(
        RUNNER,
        "AWS::CodeBuild::Project",
        {
            "Name": sub("c360-${StageName}-runner"),
            "Description": f"Runs the pipeline's build step ({BUILD_COMMAND}) and export step",
            "ServiceRole": get_att(RUNNER_ROLE, "Arn"),
            "EncryptionKey": get_att(KEY, "Arn"),
            "Source": {
                "Type": "S3",
                "Location": sub(f"${{ArtifactBucket}}/${{ArtifactPrefix}}{build.artifacts.runner_source}"),
                "BuildSpec": yaml.safe_dump(buildspec, sort_keys=False, width=200),
            },
            "Artifacts": {"Type": "NO_ARTIFACTS"},
            "Environment": {
                "Type": "LINUX_CONTAINER",
                "ComputeType": "BUILD_GENERAL1_MEDIUM",
                "Image": ref("RunnerImage"),
                "PrivilegedMode": False,
                "EnvironmentVariables": [
                    {"Name": k, "Type": "PLAINTEXT", "Value": v} for k, v in environment.items()
                ],
            },
            "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": ref(log_group)}},
            "TimeoutInMinutes": 60,
            "QueuedTimeoutInMinutes": 60,
            "ConcurrentBuildLimit": 1,
            "Tags": tags(),
        },
    )


def emr_statements() -> list[dict]:
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
            [s3_arn(BUCKETS["log"], p) for p in ("logs/audit/*", "emr-serverless/*")],
            sid="WriteAuditAndJobLogs",
        ),
        use_key("s3"),
    ]


def add_emr(t: Template, build: Build) -> None:
    t.add(
        EMR_APP,
        "AWS::EMRServerless::Application",
        {
            "Name": sub("c360-${StageName}-spark"),
            "ReleaseLabel": ref("EmrReleaseLabel"),
            "Type": "SPARK",
            "Architecture": "X86_64",
            "AutoStartConfiguration": {"Enabled": True},
            "AutoStopConfiguration": {"Enabled": True, "IdleTimeoutMinutes": 15},
            "MaximumCapacity": {"Cpu": "32 vCPU", "Memory": "128 GB", "Disk": "400 GB"},
            "ImageConfiguration": if_("HasEmrImage", {"ImageUri": ref("EmrImageUri")}, NO_VALUE),
            "MonitoringConfiguration": {
                "S3MonitoringConfiguration": {
                    "LogUri": sub(f"s3://${{{BUCKETS['log']}}}/emr-serverless/"),
                    "EncryptionKeyArn": get_att(KEY, "Arn"),
                }
            },
            "Tags": tags(),
        },
    )
    add_role(
        t,
        EMR_ROLE,
        "emr-serverless.amazonaws.com",
        "c360 EMR Serverless job runtime: the GA advanced transformation (raw to stage)",
        emr_statements(),
    )
    t.output("EmrApplicationId", get_att(EMR_APP, "ApplicationId"), "The EMR Serverless application")
    t.output("EmrJobRoleArn", get_att(EMR_ROLE, "Arn"), "The runtime role of EMR Serverless job runs")


def emr_job_driver(build: Build, script: str) -> dict:
    """The ``JobDriver`` of a stage script on EMR Serverless: the same script and library zip as on Glue."""
    library = f"s3://${{ArtifactBucket}}/${{ArtifactPrefix}}{build.artifacts.glue_library}"
    python = (
        "--conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON=${EmrPythonPath} "
        "--conf spark.executorEnv.PYSPARK_PYTHON=${EmrPythonPath}"
    )
    return {
        "SparkSubmit": {
            "EntryPoint": f"s3://${{ArtifactBucket}}/${{ArtifactPrefix}}{build.artifacts.glue_scripts[script]}",
            "EntryPointArguments": [
                "--raw_uri",
                "${RawZone}",
                "--stage_uri",
                "${StageZone}",
                "--logs_uri",
                "${LogsZone}",
            ],
            "SparkSubmitParameters": f"--py-files {library} {python}",
        }
    }


def add_quicksight(t: Template) -> None:
    condition = "HasQuickSight"
    add_role(
        t,
        QUICKSIGHT_ROLE,
        "quicksight.amazonaws.com",
        "QuickSight's Athena data source: query the analytics layer in the c360 workgroup",
        [
            *athena_statements(),
            statement(
                [
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                ],
                glue_arns("analytics"),
                sid="ReadAnalyticsCatalog",
            ),
            *read_bucket("analytics", "analytics/*"),
        ],
        condition=condition,
    )
    t.add(
        "QuickSightDataSource",
        "AWS::QuickSight::DataSource",
        {
            "AwsAccountId": ref("AWS::AccountId"),
            "DataSourceId": sub("c360-${StageName}-athena"),
            "Name": sub("c360 ${StageName} (Athena)"),
            "Type": "ATHENA",
            "DataSourceParameters": {
                "AthenaParameters": {"WorkGroup": ref(WORKGROUP), "RoleArn": get_att(QUICKSIGHT_ROLE, "Arn")}
            },
            "SslProperties": {"DisableSsl": False},
            "Permissions": [
                {
                    "Principal": ref("QuickSightPrincipalArn"),
                    "Actions": [
                        "quicksight:DescribeDataSource",
                        "quicksight:DescribeDataSourcePermissions",
                        "quicksight:PassDataSource",
                        "quicksight:UpdateDataSource",
                        "quicksight:DeleteDataSource",
                        "quicksight:UpdateDataSourcePermissions",
                    ],
                }
            ],
            "Tags": tags(),
        },
        condition=condition,
    )
