"""The pipeline on AWS: one Step Functions state machine whose top-level steps are ``c360.pipeline.STEPS``
(generate, stage, build, export), with native service integrations only (Lambda, Glue and EMR Serverless job
runs and CodeBuild builds with ``.sync``, Glue crawlers and Lake Formation through the AWS SDK integration),
retries with exponential backoff and jitter, and a failure path that notifies an SNS topic.

The ``stage`` step runs the stage jobs in parallel, then updates the catalog (the raw and stage crawlers) and tags
the PII columns of the tables; ``build`` runs ``dbt build --target athena`` and tags the analytics tables' PII
columns; ``export`` loads the profiles (the export Lambda when it exists, else the runner's ``c360 export``)."""

from __future__ import annotations

from collections.abc import Callable

from infra import spec
from infra.analytics import emr_job_driver
from infra.catalog import database_name
from infra.cfn import Json, Template, arn, get_att, ref, statement, sub, tags
from infra.discover import SpecError
from infra.functions import function_arn
from infra.governance import STATE_MACHINE_ROLE, pii_tag_key
from infra.iam import XRAY, add_log_group, add_role
from infra.model import ALERTS, BUCKETS, CRAWLERS, EMR_APP, EMR_ROLE, KEY, RUNNER, Build, zone_uri

STATE_MACHINE = "PipelineStateMachine"
# Task resources are service-integration identifiers (``arn:aws:states:::glue:startJobRun.sync``), written as the
# Step Functions documentation and cfn-lint's schema require; they name no account, region or resource.
FAILURE_STATE = "notify_failure"

BACKOFF = {"BackoffRate": 2, "JitterStrategy": "FULL"}
SERVICE_RETRY = {
    "ErrorEquals": [
        "States.Timeout",
        "ThrottlingException",
        "Lambda.TooManyRequestsException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Glue.ThrottlingException",
        "Glue.InternalServiceException",
        "Glue.ConcurrentRunsExceededException",
        "CodeBuild.AccountLimitExceededException",
        "LakeFormation.ConcurrentModificationException",
        "LakeFormation.InternalServiceException",
    ],
    "IntervalSeconds": 5,
    "MaxAttempts": 5,
    "MaxDelaySeconds": 300,
    **BACKOFF,
}
JOB_RETRY = {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 120, "MaxAttempts": 1, **BACKOFF}
"""A failed job or build run is tried once more after two minutes (a lost worker, a throttled dependency)."""


def run_time() -> str:
    """The business time a run is for: the execution input's ``time`` (a backfill), else its start time."""
    return (
        "{% $exists($states.context.Execution.Input.time) ? $states.context.Execution.Input.time "
        ": $states.context.Execution.StartTime %}"
    )


def catch(step: str) -> list[dict[str, Json]]:
    return [
        {
            "ErrorEquals": ["States.ALL"],
            "Next": FAILURE_STATE,
            "Output": "{% {'step': '" + step + "', 'error': $states.errorOutput.Error, "
            "'cause': $states.errorOutput.Cause} %}",
        }
    ]


def branch(states: dict[str, Json]) -> dict[str, Json]:
    return {"StartAt": next(iter(states)), "States": states}


def parallel(comment: str, branches: list[dict[str, Json]]) -> dict[str, Json]:
    return {"Type": "Parallel", "Comment": comment, "Branches": branches}


# --- steps ---------------------------------------------------------------------------------------------------


def generate_step(build: Build) -> dict[str, Json]:
    if not build.generators:
        return {"Type": "Pass", "Comment": "No generator handler exists in the repository yet"}
    branches = []
    for generator in build.generators:
        branches.append(
            branch(
                {
                    f"generate_{generator.name.replace('-', '_')}": {
                        "Type": "Task",
                        "Comment": generator.description,
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Arguments": {
                            "FunctionName": f"${{{generator.key}Function}}",
                            "Payload": {"time": run_time()},
                        },
                        "Output": "{% $states.result.Payload %}",
                        "Retry": [SERVICE_RETRY],
                        "End": True,
                    }
                }
            )
        )
    return parallel(
        "Every source lands its batch of the run's day in the raw zone (or the source database)", branches
    )


def stage_job_state(build: Build, script: str) -> dict[str, Json]:
    if script in spec.EMR_STAGE_JOBS:
        return {
            "Type": "Task",
            "Comment": f"spark_jobs/{script}.py on EMR Serverless",
            "Resource": "arn:aws:states:::emr-serverless:startJobRun.sync",
            "Arguments": {
                "ApplicationId": "${EmrApplicationId}",
                "ExecutionRoleArn": "${EmrJobRoleArn}",
                "Name": script,
                "ClientToken": "{% $uuid() %}",
                "JobDriver": emr_job_driver(build, script),
                "ConfigurationOverrides": {
                    "MonitoringConfiguration": {
                        "S3MonitoringConfiguration": {"LogUri": "s3://${LogBucket}/emr-serverless/"}
                    }
                },
            },
            "Output": "{% {'job': '" + script + "', 'state': $states.result.JobRun.State} %}",
            "Retry": [SERVICE_RETRY, JOB_RETRY],
            "End": True,
        }
    job = build.job(script)
    return {
        "Type": "Task",
        "Comment": f"spark_jobs/{script}.py on Glue",
        "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Arguments": {"JobName": f"${{{job.logical_id}}}"},
        "Output": "{% {'job': $states.result.JobName, 'run_id': $states.result.Id, "
        "'state': $states.result.JobRunState} %}",
        "Retry": [SERVICE_RETRY, JOB_RETRY],
        "End": True,
    }


def crawler_states(layer: str) -> dict[str, Json]:
    crawler = f"${{{CRAWLERS[layer]}}}"
    wait, get, done = f"wait_for_{layer}_crawler", f"get_{layer}_crawler", f"{layer}_crawler_finished"
    return {
        f"start_{layer}_crawler": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
            "Arguments": {"Name": crawler},
            "Retry": [SERVICE_RETRY],
            "Catch": [{"ErrorEquals": ["Glue.CrawlerRunningException"], "Next": wait}],
            "Next": wait,
        },
        wait: {"Type": "Wait", "Seconds": 30, "Next": get},
        get: {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
            "Arguments": {"Name": crawler},
            "Output": "{% $states.result.Crawler %}",
            "Retry": [SERVICE_RETRY],
            "Next": done,
        },
        done: {
            "Type": "Choice",
            "Choices": [
                {
                    "Condition": "{% $states.input.State = 'READY' and $states.input.LastCrawl.Status = 'SUCCEEDED' %}",
                    "Next": f"{layer}_catalog_updated",
                },
                {"Condition": "{% $states.input.State = 'READY' %}", "Next": f"{layer}_crawler_failed"},
            ],
            "Default": wait,
        },
        f"{layer}_catalog_updated": {"Type": "Succeed"},
        f"{layer}_crawler_failed": {
            "Type": "Fail",
            "Error": "CrawlerFailed",
            "Cause": "{% 'crawler ' & $states.input.Name & ' ended ' & $states.input.LastCrawl.Status & ': ' "
            "& $states.input.LastCrawl.ErrorMessage %}",
        },
    }


def tag_pii_state(build: Build, scope: str, layers: list[str], last: bool) -> dict[str, Json]:
    """Tag, in every table of ``layers``, the columns named like a direct identifier as PII (the tables come
    and go with the crawlers and dbt, so this runs after them rather than at deploy time)."""
    pii = ", ".join(f'"{c}"' for c in build.pii_columns)
    select = (
        "{% ($pii := [" + pii + "]; [$states.result.TableList.("
        "$columns := [StorageDescriptor.Columns[Name in $pii].Name]; "
        "$count($columns) > 0 ? {'database': DatabaseName, 'table': Name, 'columns': $columns})]) %}"
    )
    state: dict[str, Json] = {
        "Type": "Map",
        "Comment": f"Tag the PII columns of the {', '.join(layers)} tables ({', '.join(build.pii_columns)})",
        "Items": [{"database": f"${{{layer.capitalize()}Database}}"} for layer in layers],
        "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": f"list_{scope}_tables",
            "States": {
                f"list_{scope}_tables": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:glue:getTables",
                    "Arguments": {"DatabaseName": "{% $states.input.database %}", "MaxResults": 100},
                    "Output": select,
                    "Retry": [SERVICE_RETRY],
                    "Next": f"tag_{scope}_tables",
                },
                f"tag_{scope}_tables": {
                    "Type": "Map",
                    "Items": "{% $states.input %}",
                    "MaxConcurrency": 2,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": f"tag_{scope}_columns",
                        "States": {
                            f"tag_{scope}_columns": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::aws-sdk:lakeformation:addLFTagsToResource",
                                "Arguments": {
                                    "Resource": {
                                        "TableWithColumns": {
                                            "DatabaseName": "{% $states.input.database %}",
                                            "Name": "{% $states.input.table %}",
                                            "ColumnNames": "{% $states.input.columns %}",
                                        }
                                    },
                                    "LFTags": [{"TagKey": "${PiiTagKey}", "TagValues": ["true"]}],
                                },
                                "Retry": [SERVICE_RETRY],
                                "Next": f"{scope}_columns_tagged",
                            },
                            f"{scope}_columns_tagged": {
                                "Type": "Choice",
                                "Choices": [
                                    {
                                        "Condition": "{% $count($states.input.Failures) > 0 %}",
                                        "Next": f"{scope}_tagging_failed",
                                    }
                                ],
                                "Default": f"{scope}_tagging_done",
                            },
                            f"{scope}_tagging_failed": {
                                "Type": "Fail",
                                "Error": "PiiTaggingFailed",
                                "Cause": "{% $string($states.input.Failures) %}",
                            },
                            f"{scope}_tagging_done": {"Type": "Succeed"},
                        },
                    },
                    "End": True,
                },
            },
        },
    }
    if last:
        state["End"] = True
    return state


def stage_step(build: Build) -> dict[str, Json]:
    states: dict[str, Json] = {}
    waves = build.stage_waves
    for number, wave in enumerate(waves, start=1):
        jobs = [branch({f"stage_{script}": stage_job_state(build, script)}) for script in wave]
        comment = f"Stage jobs, wave {number} of {len(waves)}: " + (
            "no parent tables" if number == 1 else "their parent tables were staged by an earlier wave"
        )
        states[f"stage_wave_{number}"] = {
            **parallel(comment, jobs),
            "Next": f"stage_wave_{number + 1}" if number < len(waves) else "update_catalog",
        }
    states["update_catalog"] = {
        **parallel(
            "The raw and stage crawlers bring the catalog up to date",
            [branch(crawler_states(layer)) for layer in CRAWLERS],
        ),
        "Next": "tag_stage_pii_columns",
    }
    states["tag_stage_pii_columns"] = tag_pii_state(build, "stage", ["raw", "stage"], last=True)
    return parallel("Stage jobs (raw to stage), then the catalog update", [branch(states)])


def runner_task(step: str) -> dict[str, Json]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::codebuild:startBuild.sync",
        "Arguments": {
            "ProjectName": "${Runner}",
            "EnvironmentVariablesOverride": [{"Name": "C360_STEP", "Type": "PLAINTEXT", "Value": step}],
        },
        "Output": "{% {'build_id': $states.result.Build.Id, 'status': $states.result.Build.BuildStatus} %}",
        "Retry": [SERVICE_RETRY, JOB_RETRY],
    }


def build_step(build: Build) -> dict[str, Json]:
    return parallel(
        "dbt build on Athena, then the PII tags of the analytics tables",
        [
            branch(
                {
                    "dbt_build": {
                        **runner_task("build"),
                        "Comment": "dbt build --target athena",
                        "Next": "tag_analytics_pii",
                    },
                    "tag_analytics_pii": tag_pii_state(build, "analytics", ["analytics"], last=True),
                }
            )
        ],
    )


def export_step(build: Build) -> dict[str, Json]:
    if build.export:
        return {
            "Type": "Task",
            "Comment": build.export.description,
            "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {
                "FunctionName": f"${{{build.export.key}Function}}",
                "Payload": {"time": run_time()},
            },
            "Output": "{% $states.result.Payload %}",
            "Retry": [SERVICE_RETRY],
        }
    return {**runner_task("export"), "Comment": f"The runner's `{spec.EXPORT_COMMAND}`"}


STEP_STATES: dict[str, Callable[[Build], dict[str, Json]]] = {
    "generate": generate_step,
    "stage": stage_step,
    "build": build_step,
    "export": export_step,
}


def definition(build: Build) -> dict[str, Json]:
    unknown = [step for step in build.steps if step not in STEP_STATES]
    if unknown:
        raise SpecError(
            f"c360.pipeline.STEPS has {', '.join(unknown)}, which infra/orchestration.py cannot build yet: add its "
            "state to STEP_STATES"
        )
    states: dict[str, Json] = {}
    for index, step in enumerate(build.steps):
        state = STEP_STATES[step](build)
        if index + 1 < len(build.steps):
            state["Next"] = build.steps[index + 1]
        else:
            state["End"] = True
        state["Catch"] = catch(step)
        states[step] = state
    states[FAILURE_STATE] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Arguments": {
            "TopicArn": "${AlertsTopic}",
            "Subject": "{% 'c360 ${StageName}: the pipeline failed in step ' & $states.input.step %}",
            "Message": "{% $string({'execution': $states.context.Execution.Id, 'step': $states.input.step, "
            "'error': $states.input.error, 'cause': $states.input.cause}) %}",
        },
        "Output": "{% $states.input %}",
        "Retry": [SERVICE_RETRY],
        "Next": "pipeline_failed",
    }
    states["pipeline_failed"] = {
        "Type": "Fail",
        "Error": "{% 'C360.' & $states.input.step & 'Failed' %}",
        "Cause": "{% $string($states.input.cause) %}",
    }
    return {
        "Comment": "c360: " + " -> ".join(build.steps) + " (the steps of c360.pipeline.STEPS)",
        "QueryLanguage": "JSONata",
        "TimeoutSeconds": 6 * 3600,
        "StartAt": build.steps[0],
        "States": states,
    }


def substitutions(build: Build) -> dict[str, Json]:
    values: dict[str, Json] = {
        "StageName": ref("StageName"),
        "AlertsTopic": ref(ALERTS),
        "Runner": ref(RUNNER),
        "PiiTagKey": pii_tag_key(),
        "RawDatabase": database_name("raw"),
        "StageDatabase": database_name("stage"),
        "AnalyticsDatabase": database_name("analytics"),
        **{crawler: ref(crawler) for crawler in CRAWLERS.values()},
        **{job.logical_id: ref(job.logical_id) for job in build.glue_jobs},
        **{
            f"{fn.key}Function": function_arn(fn)
            for fn in (*build.generators, *([build.export] if build.export else []))
        },
    }
    if any(script in spec.EMR_STAGE_JOBS for script in build.stage_jobs):
        values.update(
            {
                "EmrApplicationId": get_att(EMR_APP, "ApplicationId"),
                "EmrJobRoleArn": get_att(EMR_ROLE, "Arn"),
                "ArtifactBucket": ref("ArtifactBucket"),
                "ArtifactPrefix": ref("ArtifactPrefix"),
                "EmrPythonPath": ref("EmrPythonPath"),
                "RawZone": zone_uri("raw"),
                "StageZone": zone_uri("stage"),
                "LogsZone": zone_uri("logs"),
                "LogBucket": ref(BUCKETS["log"]),
            }
        )
    return values


def add_orchestration(t: Template, build: Build) -> None:
    t.add(
        ALERTS,
        "AWS::SNS::Topic",
        {
            "TopicName": sub("c360-${StageName}-pipeline-alerts"),
            "DisplayName": "c360 pipeline alerts",
            "KmsMasterKeyId": ref(KEY),
            "Tags": tags(),
        },
    )
    t.add(
        "PipelineAlertsEmail",
        "AWS::SNS::Subscription",
        {
            "TopicArn": ref(ALERTS),
            "Protocol": "email",
            "Endpoint": ref("AlertEmail"),
        },
        condition="HasAlertEmail",
    )
    log_group = "PipelineLogGroup"
    add_log_group(t, log_group, "/aws/vendedlogs/states/c360-${StageName}-pipeline")
    add_state_machine_role(t, build)
    t.add(
        STATE_MACHINE,
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineName": sub("c360-${StageName}-pipeline"),
            "StateMachineType": "STANDARD",
            "RoleArn": get_att(STATE_MACHINE_ROLE, "Arn"),
            "Definition": definition(build),
            "DefinitionSubstitutions": substitutions(build),
            "LoggingConfiguration": {
                "Level": "ERROR",
                "IncludeExecutionData": False,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": get_att(log_group, "Arn")}}],
            },
            "TracingConfiguration": {"Enabled": True},
            "Tags": tags(),
        },
    )
    t.output("PipelineStateMachineArn", ref(STATE_MACHINE), "The pipeline (start an execution to run it)")
    t.output("PipelineAlertsTopicArn", ref(ALERTS), "SNS topic told about every failed run")


def add_state_machine_role(t: Template, build: Build) -> None:
    functions = [function_arn(f) for f in (*build.generators, *([build.export] if build.export else []))]
    statements = [
        statement(
            ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            arn("glue", "job/c360-${StageName}-*"),
            sid="RunStageJobs",
        ),
        statement(
            ["glue:StartCrawler", "glue:GetCrawler"],
            [arn("glue", f"crawler/c360-${{StageName}}-{layer}") for layer in CRAWLERS],
            sid="RunCrawlers",
        ),
        statement(
            ["glue:GetDatabase", "glue:GetTables"],
            [
                arn("glue", "catalog"),
                *[arn("glue", f"database/c360_${{StageName}}_{layer}") for layer in spec.LAYERS],
                *[arn("glue", f"table/c360_${{StageName}}_{layer}/*") for layer in spec.LAYERS],
            ],
            sid="ListTables",
        ),
        statement(
            ["lakeformation:AddLFTagsToResource", "lakeformation:GetResourceLFTags"],
            "*",
            sid="LakeFormationTaggingHasNoResourceArn",
        ),
        statement(
            ["codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"],
            arn("codebuild", "project/c360-${StageName}-runner"),
            sid="RunRunner",
        ),
        statement(
            ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            [
                arn("events", "rule/StepFunctionsGetEventsForCodeBuildStartBuildRule"),
                arn("events", "rule/StepFunctionsGetEventsForEMRServerlessJobRule"),
            ],
            sid="SyncIntegrationRules",
        ),
        statement(["sns:Publish"], ref(ALERTS), sid="NotifyFailures"),
        statement(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            get_att(KEY, "Arn"),
            sid="EncryptedTopic",
            condition={"StringEquals": {"kms:ViaService": sub("sns.${AWS::Region}.amazonaws.com")}},
        ),
        statement(
            [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            "*",
            sid="VendedLogDeliveryHasNoResourceArn",
        ),
        XRAY,
    ]
    if functions:
        statements.append(
            statement(
                ["lambda:InvokeFunction"],
                [*functions, *[{"Fn::Join": [":", [f, "*"]]} for f in functions]],
                sid="InvokeFunctions",
            )
        )
    if any(script in spec.EMR_STAGE_JOBS for script in build.stage_jobs):
        statements += [
            statement(["emr-serverless:StartJobRun"], get_att(EMR_APP, "Arn"), sid="StartEmrJobs"),
            statement(
                ["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
                {"Fn::Join": ["", [get_att(EMR_APP, "Arn"), "/jobruns/*"]]},
                sid="FollowEmrJobs",
            ),
            statement(
                ["iam:PassRole"],
                get_att(EMR_ROLE, "Arn"),
                sid="PassEmrJobRole",
                condition={"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
            ),
        ]
    add_role(
        t,
        STATE_MACHINE_ROLE,
        "states.amazonaws.com",
        "c360 pipeline: runs the generators, stage jobs, crawlers, runner and export; tags PII columns",
        statements,
    )
