"""The Lambda functions, packaged from ``ingestion/`` and ``c360/`` (one code zip, one dependency layer): every
generator with its EventBridge Scheduler schedule (disabled unless ``EnableSchedules`` is true), the CRM API and
the profile lookup API behind IAM-authorised HTTP APIs, and the export."""

from __future__ import annotations

import json

from infra import spec
from infra.cfn import Json, Template, arn, checkov_skip, get_att, if_, ref, s3_arn, statement, sub, tags
from infra.database import SOURCE_DB_USER, secret_arn
from infra.iam import XRAY, add_log_group, add_role, write_logs
from infra.model import BUCKETS, DLQ, KEY, LAYER, SOURCE_DB, SOURCE_DB_NAME, Build
from infra.network import LAMBDA_SG, subnet_ids
from infra.serving import reader_statements, writer_statements
from infra.storage import use_key

SCHEDULER_ROLE = "SchedulerRole"
CRM_HTTP_API = "CrmHttpApi"
LOOKUP_HTTP_API = "LookupHttpApi"

NOT_IN_VPC = (
    "CKV_AWS_117",
    "The function reaches only S3, DynamoDB, SSM or API Gateway through IAM-authorised "
    "public endpoints; a VPC would add a NAT gateway and nothing private to reach.",
)


def function_arn(fn: spec.Function) -> Json:
    return get_att(f"{fn.key}Function", "Arn")


def function_name(fn: spec.Function) -> str:
    return f"c360-${{StageName}}-{fn.name}"


def add_functions(t: Template, build: Build) -> None:
    t.add(
        LAYER,
        "AWS::Lambda::LayerVersion",
        {
            "LayerName": sub("c360-${StageName}-dependencies"),
            "Description": "Pinned third-party packages of the c360 functions (numpy, pyarrow, faker, psycopg)",
            "Content": {
                "S3Bucket": ref("ArtifactBucket"),
                "S3Key": sub(f"${{ArtifactPrefix}}{build.artifacts.lambda_layer}"),
            },
            "CompatibleRuntimes": [spec.LAMBDA_RUNTIME],
            "CompatibleArchitectures": [spec.LAMBDA_ARCHITECTURE],
        },
    )
    t.add(
        DLQ,
        "AWS::SQS::Queue",
        {
            "QueueName": sub("c360-${StageName}-lambda-dlq"),
            "KmsMasterKeyId": ref(KEY),
            "MessageRetentionPeriod": 1209600,
            "Tags": tags(),
        },
    )
    for generator in build.generators:
        add_generator(t, build, generator)
    if build.generators:
        add_scheduler_role(t, build)
    if build.crm_api:
        add_function(
            t,
            build,
            build.crm_api,
            [],
            {"C360_SCALE": ref("DataScale"), "C360_SEED": ref("DataSeed")},
            concurrency=5,
        )
        add_http_api(
            t,
            CRM_HTTP_API,
            "c360-${StageName}-crm-api",
            build.crm_api,
            spec.CRM_API_ROUTES,
            "The simulated CRM's REST API (IAM-authorised)",
        )
    if build.lookup_api:
        add_function(
            t, build, build.lookup_api, reader_statements(), {"C360_ENV": ref("StageName")}, concurrency=10
        )
        add_http_api(
            t,
            LOOKUP_HTTP_API,
            "c360-${StageName}-profiles-api",
            build.lookup_api,
            spec.LOOKUP_API_ROUTES,
            "Customer profile lookups for the contact centre and branch apps",
        )
    if build.export:
        add_function(t, build, build.export, writer_statements(), export_environment(), concurrency=1)


def export_environment() -> dict[str, Json]:
    return {
        "C360_LAKE": sub(f"s3://${{{BUCKETS['analytics']}}}"),
        "C360_ENV": ref("StageName"),
        "C360_DYNAMODB_TABLE": ref("ProfileTable"),
        "C360_DYNAMODB_KMS_KEY": get_att(KEY, "Arn"),
    }


def add_generator(t: Template, build: Build, generator: spec.Generator) -> None:
    environment: dict[str, Json] = {
        "C360_LAKE": sub(f"s3://${{{BUCKETS['raw']}}}"),
        "C360_SCALE": ref("DataScale"),
        "C360_SEED": ref("DataSeed"),
    }
    statements: list[dict] = []
    prefixes = build.raw_prefixes[generator.key]
    if prefixes:
        statements += [
            statement(["s3:ListBucket", "s3:GetBucketLocation"], s3_arn(BUCKETS["raw"]), sid="ListRawBucket"),
            statement(
                ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                [s3_arn(BUCKETS["raw"], f"raw/{p}/*") for p in prefixes],
                sid="WriteOwnRawPrefixes",
            ),
            use_key("s3"),
        ]
    if generator.calls_crm_api and build.crm_api:
        environment["C360_CRM_API_URL"] = sub(
            f"https://${{{CRM_HTTP_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
        )
        environment["C360_CRM_API_AUTH"] = "iam"  # the route is IAM-authorized: the puller signs with SigV4
        statements.append(
            statement(
                ["execute-api:Invoke"],
                [
                    arn("execute-api", f"${{{CRM_HTTP_API}}}/$default/{route.replace(' ', '')}")
                    for route in spec.CRM_API_ROUTES
                ],
                sid="CallCrmApi",
            )
        )
    if generator.source_db:
        # The DSN carries no password: the handler reads it from the secret that RDS generates and rotates.
        environment.update(
            {
                "C360_PG_DSN": sub(
                    f"host=${{{SOURCE_DB}.Endpoint.Address}} port=${{{SOURCE_DB}.Endpoint.Port}} "
                    f"dbname={SOURCE_DB_NAME} user={SOURCE_DB_USER} sslmode=require"
                ),
                "C360_PG_SECRET_ARN": secret_arn(),
            }
        )
        statements += [
            statement(
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                secret_arn(),
                sid="ReadSourceDbSecret",
            ),
            use_key("secretsmanager"),
        ]
    add_function(t, build, generator, statements, environment, concurrency=1, vpc=generator.source_db)
    t.add(
        f"{generator.key}Schedule",
        "AWS::Scheduler::Schedule",
        {
            "Name": sub(function_name(generator)),
            "Description": f"Runs {generator.handler} (disabled unless the stack's EnableSchedules is true)",
            "ScheduleExpression": generator.schedule,
            "ScheduleExpressionTimezone": "UTC",
            "State": if_("SchedulesEnabled", "ENABLED", "DISABLED"),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "KmsKeyArn": get_att(KEY, "Arn"),
            "Target": {
                "Arn": function_arn(generator),
                "RoleArn": get_att(SCHEDULER_ROLE, "Arn"),
                # The generators read the business day from the event's "time", as from an EventBridge event.
                "Input": json.dumps({"time": "<aws.scheduler.scheduled-time>"}),
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": get_att(DLQ, "Arn")},
            },
        },
    )


def add_scheduler_role(t: Template, build: Build) -> None:
    add_role(
        t,
        SCHEDULER_ROLE,
        "scheduler.amazonaws.com",
        "EventBridge Scheduler: invoke the c360 generators",
        [
            statement(
                ["lambda:InvokeFunction"], [function_arn(g) for g in build.generators], sid="InvokeGenerators"
            ),
            statement(["sqs:SendMessage"], get_att(DLQ, "Arn"), sid="DeadLetters"),
            use_key("sqs"),
            # Schedules encrypted with a customer managed key are decrypted with the execution role.
            statement(["kms:Decrypt"], get_att(KEY, "Arn"), sid="DecryptSchedules"),
        ],
    )


def add_function(
    t: Template,
    build: Build,
    fn: spec.Function,
    statements: list[dict],
    environment: dict[str, Json],
    *,
    concurrency: int,
    vpc: bool = False,
) -> None:
    log_group = f"{fn.key}LogGroup"
    add_log_group(t, log_group, f"/aws/lambda/{function_name(fn)}")
    role = f"{fn.key}Role"
    managed = (
        [sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")]
        if vpc
        else []
    )
    add_role(
        t,
        role,
        "lambda.amazonaws.com",
        f"c360 function {fn.name}: {fn.description}",
        [
            *statements,
            write_logs(f"/aws/lambda/{function_name(fn)}"),
            statement(["sqs:SendMessage"], get_att(DLQ, "Arn"), sid="DeadLetters"),
            statement(
                ["kms:Decrypt", "kms:GenerateDataKey"],
                get_att(KEY, "Arn"),
                sid="EnvironmentAndQueueKey",
                condition={
                    "StringEquals": {
                        "kms:ViaService": [
                            sub("lambda.${AWS::Region}.amazonaws.com"),
                            sub("sqs.${AWS::Region}.amazonaws.com"),
                        ]
                    }
                },
            ),
            XRAY,
        ],
        managed_policies=managed,
    )
    properties: dict[str, Json] = {
        "FunctionName": sub(function_name(fn)),
        "Description": fn.description,
        "Runtime": spec.LAMBDA_RUNTIME,
        "Architectures": [spec.LAMBDA_ARCHITECTURE],
        "Handler": fn.handler,
        "Code": {
            "S3Bucket": ref("ArtifactBucket"),
            "S3Key": sub(f"${{ArtifactPrefix}}{build.artifacts.lambda_code}"),
        },
        "Layers": [ref(LAYER)],
        "Role": get_att(role, "Arn"),
        "MemorySize": fn.memory_mb,
        "Timeout": fn.timeout_s,
        "Environment": {"Variables": environment},
        "KmsKeyArn": get_att(KEY, "Arn"),
        "TracingConfig": {"Mode": "Active"},
        "DeadLetterConfig": {"TargetArn": get_att(DLQ, "Arn")},
        "ReservedConcurrentExecutions": concurrency,
        "LoggingConfig": {"LogGroup": ref(log_group), "LogFormat": "Text"},
        "Tags": tags(handler=fn.handler),
    }
    skips = []
    if vpc:
        properties["VpcConfig"] = {"SubnetIds": subnet_ids(), "SecurityGroupIds": [ref(LAMBDA_SG)]}
    else:
        skips.append(NOT_IN_VPC)
    t.add(
        f"{fn.key}Function",
        "AWS::Lambda::Function",
        properties,
        metadata=checkov_skip(*skips) if skips else None,
    )


def add_http_api(
    t: Template, logical_id: str, name: str, fn: spec.Function, routes: tuple[str, ...], description: str
) -> None:
    t.add(
        logical_id,
        "AWS::ApiGatewayV2::Api",
        {
            "Name": sub(name),
            "Description": description,
            "ProtocolType": "HTTP",
            "DisableExecuteApiEndpoint": False,
            "Tags": {"project": "c360", "stage": ref("StageName")},
        },
    )
    t.add(
        f"{logical_id}Integration",
        "AWS::ApiGatewayV2::Integration",
        {
            "ApiId": ref(logical_id),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": function_arn(fn),
            "PayloadFormatVersion": "2.0",
            "TimeoutInMillis": min(29000, fn.timeout_s * 1000),
        },
    )
    for index, route in enumerate(routes):
        t.add(
            f"{logical_id}Route{index}",
            "AWS::ApiGatewayV2::Route",
            {
                "ApiId": ref(logical_id),
                "RouteKey": route,
                "AuthorizationType": "AWS_IAM",
                "Target": sub(f"integrations/${{{logical_id}Integration}}"),
            },
        )
    access_logs = f"{logical_id}AccessLogGroup"
    add_log_group(t, access_logs, f"/aws/apigateway/{name}")
    t.add(
        f"{logical_id}Stage",
        "AWS::ApiGatewayV2::Stage",
        {
            "ApiId": ref(logical_id),
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": 50,
                "ThrottlingRateLimit": 25,
                "DetailedMetricsEnabled": True,
            },
            "AccessLogSettings": {
                "DestinationArn": get_att(access_logs, "Arn"),
                "Format": json.dumps(
                    {
                        "requestId": "$context.requestId",
                        "ip": "$context.identity.sourceIp",
                        "caller": "$context.identity.caller",
                        "user": "$context.identity.user",
                        "requestTime": "$context.requestTime",
                        "routeKey": "$context.routeKey",
                        "status": "$context.status",
                        "responseLength": "$context.responseLength",
                        "integrationError": "$context.integrationErrorMessage",
                    },
                    sort_keys=True,
                ),
            },
            "Tags": {"project": "c360", "stage": ref("StageName")},
        },
    )
    t.add(
        f"{logical_id}InvokePermission",
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": ref(f"{fn.key}Function"),
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": arn("execute-api", f"${{{logical_id}}}/*"),
        },
    )
    t.output(
        f"{logical_id}Url",
        sub(f"https://${{{logical_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"),
        description,
    )
