"""The CloudFormation template (infra/): rendered from the spec and the repository as it is, it lints clean
(cfn-lint, checkov), its state machine runs the local pipeline's steps, everything it references exists, and its
security rules hold (no Action * on Resource *, nothing hard-coded, no default password)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from c360 import packaging, pipeline
from c360.dbt_runner import PIPELINE_BUILD_ARGS
from infra import spec
from infra.discover import Repo, SpecError
from infra.model import Artifacts, Build
from infra.template import build_template, render

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
STUB = "def {}(event, context):\n    return {{}}\n"


def fake_repo(
    root: Path, stage_jobs: tuple[str, ...], scripts: tuple[str, ...], modules: dict[str, str]
) -> Repo:
    """A repository with the pipeline and export constants of the real one, and the given code."""
    files = {
        "c360/pipeline.py": f"STEPS = {pipeline.STEPS!r}\nSTAGE_JOBS = {stage_jobs!r}\n",
        "c360/export/dynamodb.py": (REPO / "c360/export/dynamodb.py").read_text(),
        **{f"spark_jobs/{s}.py": "def main(argv=None):\n    pass\n" for s in scripts},
        **modules,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return Repo(root)


def complete_repo(root: Path) -> Repo:
    """Every handler of the spec and a JDBC, an EMR and an extra stage script: every optional path renders."""
    loader = REPO / "c360/export/dynamodb_loader.py"
    modules = {"c360/export/dynamodb_loader.py": loader.read_text() if loader.exists() else ""}
    for fn in (*spec.GENERATORS, spec.CRM_API, spec.LOOKUP_API, spec.EXPORT):
        path = fn.module.replace(".", "/") + ".py"
        source = modules.get(path, 'SOURCE = "x"\n')
        modules[path] = source + STUB.format(fn.function)
    return fake_repo(
        root,
        stage_jobs=("stage_crm_customers", "stage_transactions", "stage_ga_sessions"),
        scripts=("stage_crm_customers", "stage_transactions", "stage_ga_sessions", "stage_not_in_pipeline"),
        modules=modules,
    )


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def state_machine(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    return machine["Properties"]


def main_path(definition: dict[str, Any]) -> list[str]:
    """The top-level states a successful run passes through, in order."""
    path, name = [], definition["StartAt"]
    while name:
        path.append(name)
        state = definition["States"][name]
        name = None if state.get("End") else state.get("Next")
    return path


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def tasks(value: Any) -> list[dict[str, Any]]:
    return [v for v in walk(value) if isinstance(v, dict) and v.get("Type") == "Task"]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, body in template["Resources"].items():
        props = body.get("Properties", {})
        for policy in props.get("Policies", []):
            yield name, policy["PolicyDocument"]
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if key in props:
                yield name, props[key]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def build() -> Build:
    return Build.from_repo(Repo(REPO))


@pytest.fixture(scope="module")
def template(build: Build) -> dict[str, Any]:
    return build_template(build)


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory) -> tuple[Build, dict[str, Any]]:
    build = Build.from_repo(complete_repo(tmp_path_factory.mktemp("complete-repo")))
    return build, build_template(build)


@pytest.fixture(scope="module")
def rendered(
    tmp_path_factory: pytest.TempPathFactory, template: dict[str, Any], complete: tuple[Build, dict[str, Any]]
) -> list[Path]:
    """The template of the repository as it is, the one with every optional part, and the bootstrap."""
    folder = tmp_path_factory.mktemp("templates")
    paths = [folder / "c360.yaml", folder / "c360-complete.yaml", REPO / "infra" / "bootstrap.yaml"]
    paths[0].write_text(render(template))
    paths[1].write_text(render(complete[1]))
    return paths


# --- the pipeline -------------------------------------------------------------------------------------------


def test_state_machine_steps_are_the_local_pipeline_steps(
    template: dict[str, Any], complete: tuple[Build, dict[str, Any]]
) -> None:
    for candidate in (template, complete[1]):
        assert main_path(state_machine(candidate)["Definition"]) == list(pipeline.STEPS)


def test_stage_step_runs_the_local_stage_jobs(
    template: dict[str, Any], build: Build, complete: tuple[Build, dict[str, Any]]
) -> None:
    definition = state_machine(template)["Definition"]
    substitutions = state_machine(template)["DefinitionSubstitutions"]
    jobs = resources(template, "AWS::Glue::Job")
    scripts = []
    for task in tasks(definition["States"]["stage"]):
        if task["Resource"].endswith("glue:startJobRun.sync"):
            logical_id = task["Arguments"]["JobName"].strip("${}")
            description = jobs[substitutions[logical_id]["Ref"]]["Properties"]["Description"]
            scripts.append(description.split("/")[1].split(".py")[0])
        elif task["Resource"].endswith("emr-serverless:startJobRun.sync"):
            scripts.append(task["Arguments"]["Name"])  # the GA advanced transformation runs on EMR
    assert sorted(scripts) == sorted(pipeline.STAGE_JOBS) and len(scripts) == len(set(scripts))
    # With an EMR job: the same list, split between Glue and EMR Serverless; a script outside the list only
    # gets its Glue job.
    build_c, template_c = complete
    stage = state_machine(template_c)["Definition"]["States"]["stage"]
    names = [
        t["Arguments"].get("JobName") or t["Arguments"]["Name"]
        for t in tasks(stage)
        if ".sync" in t["Resource"]
    ]
    assert len(names) == len(build_c.stage_jobs)
    assert "stage_ga_sessions" in names
    emr = [t for t in tasks(stage) if "emr-serverless" in t["Resource"]]
    assert [t["Arguments"]["Name"] for t in emr] == ["stage_ga_sessions"]
    assert "StageNotInPipelineGlueJob" in template_c["Resources"]
    assert "${StageNotInPipelineGlueJob}" not in json.dumps(stage)


def test_stage_jobs_run_after_the_parent_tables_their_orphan_checks_read(
    template: dict[str, Any], build: Build
) -> None:
    """Orphan foreign keys are flagged against the parent stage tables: on AWS a job starts only after a wave
    that staged its parents, and locally ``c360 stage`` runs the parents first."""
    assert build.stage_parents["stage_cards"] == ("stage_dispositions",)
    assert set(build.stage_parents["stage_dispositions"]) == {"stage_accounts", "stage_crm_customers"}
    for job in pipeline.STAGE_JOBS:  # the local order
        for parent in build.stage_parents[job]:
            assert pipeline.STAGE_JOBS.index(parent) < pipeline.STAGE_JOBS.index(job), (job, parent)
    stage = state_machine(template)["Definition"]["States"]["stage"]["Branches"][0]
    waves, name = [], stage["StartAt"]
    while name.startswith("stage_wave_"):
        state = stage["States"][name]
        assert state["Type"] == "Parallel"
        waves.append(
            [t["Arguments"].get("Name") or t["Comment"].split("/")[1].split(".py")[0] for t in tasks(state)]
        )
        name = state["Next"]
    assert name == "update_catalog"
    assert len(waves) == 4, waves  # districts/crm/web/retail -> accounts -> dispositions, loans... -> cards
    seen: set[str] = set()
    for wave in waves:
        for job in wave:
            assert set(build.stage_parents[job]) <= seen, f"{job} runs before {build.stage_parents[job]}"
        seen |= set(wave)
    assert seen == set(pipeline.STAGE_JOBS)


def test_a_stage_job_whose_parent_is_not_in_the_pipeline_is_an_error(tmp_path: Path) -> None:
    repo = fake_repo(tmp_path, ("stage_cards",), ("stage_cards", "stage_dispositions"), {})
    (tmp_path / "spark_jobs" / "stage_cards.py").write_text(
        'SOURCE = ForeignKey("disp_id", "dispositions", "disp_id")\ndef main(argv=None):\n    pass\n'
    )
    build = Build.from_repo(repo)
    with pytest.raises(
        SpecError, match=re.escape("stage_dispositions, which c360.pipeline.STAGE_JOBS does not run")
    ):
        _ = build.stage_waves


def test_integrations_are_native_with_retries_and_a_notified_failure(
    template: dict[str, Any], complete: tuple[Build, dict[str, Any]]
) -> None:
    for candidate in (template, complete[1]):
        definition = state_machine(candidate)["Definition"]
        for task in tasks(definition):
            assert task["Resource"].startswith("arn:aws:states:::"), task["Resource"]
            assert task.get("Retry"), f"{task['Resource']} has no retry"
            for retry in task["Retry"]:
                assert retry["BackoffRate"] >= 2 and retry["IntervalSeconds"] >= 1
        runs = [
            t["Resource"]
            for t in tasks(definition)
            if "startJobRun" in t["Resource"] or "startBuild" in t["Resource"]
        ]
        assert runs and all(r.endswith(".sync") for r in runs)
        for step in pipeline.STEPS:
            assert definition["States"][step]["Catch"][0]["Next"] == "notify_failure"
        notify = definition["States"]["notify_failure"]
        assert notify["Resource"] == "arn:aws:states:::sns:publish"
        assert definition["States"][notify["Next"]]["Type"] == "Fail"
        assert "lambda:invoke" not in json.dumps(definition["States"]["stage"])  # no polling Lambdas


def test_build_step_runs_dbt_on_athena_and_export_runs_the_export(
    template: dict[str, Any], build: Build, complete: tuple[Build, dict[str, Any]]
) -> None:
    (runner,) = resources(template, "AWS::CodeBuild::Project").values()
    buildspec = yaml.safe_load(runner["Properties"]["Source"]["BuildSpec"])
    commands = " ".join(buildspec["phases"]["build"]["commands"])
    assert "dbt build --target athena" in commands and spec.EXPORT_COMMAND in commands
    assert f"dbt build --target athena {' '.join(PIPELINE_BUILD_ARGS)}" in commands  # as the local pipeline
    states = state_machine(template)["Definition"]["States"]
    (dbt,) = [t for t in tasks(states["build"]) if "codebuild" in t["Resource"]]
    assert dbt["Arguments"]["EnvironmentVariablesOverride"][0]["Value"] == "build"
    # Without an export handler the runner exports; with one, the state machine invokes it.
    expected = "lambda:invoke" if build.export else "codebuild:startBuild.sync"
    assert states["export"]["Resource"].endswith(expected)
    assert state_machine(complete[1])["Definition"]["States"]["export"]["Resource"].endswith("lambda:invoke")


# --- what the template references exists ---------------------------------------------------------------------


def test_every_referenced_handler_exists(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Lambda::Function")
    assert functions, "at least the CRM generator is deployed"
    for name, body in functions.items():
        module, _, attribute = body["Properties"]["Handler"].rpartition(".")
        handler = getattr(importlib.import_module(module), attribute, None)
        assert callable(handler), f"{name}: {module}.{attribute} does not exist"


def test_every_referenced_script_exists(template: dict[str, Any], build: Build) -> None:
    scripts_by_key = {key: script for script, key in build.artifacts.glue_scripts.items()}
    jobs = resources(template, "AWS::Glue::Job")
    assert len(jobs) == len(Repo(REPO).stage_scripts())
    for name, body in jobs.items():
        props = body["Properties"]
        assert props["GlueVersion"] == "5.0" and props["Command"]["Name"] == "glueetl"
        key = props["Command"]["ScriptLocation"]["Fn::Sub"].split("${ArtifactPrefix}", 1)[1]
        script = scripts_by_key[key]
        module = importlib.import_module(f"spark_jobs.{script}")
        assert callable(getattr(module, "main", None)), f"{name}: spark_jobs/{script}.py has no main()"
        library = props["DefaultArguments"]["--extra-py-files"]["Fn::Sub"].split("${ArtifactPrefix}", 1)[1]
        assert library == build.artifacts.glue_library
    for task in tasks(state_machine(template)["Definition"]):
        if "emr-serverless" in task["Resource"]:  # pragma: no cover - only once a script runs on EMR
            entry = task["Arguments"]["JobDriver"]["SparkSubmit"]["EntryPoint"].split("${ArtifactPrefix}", 1)[
                1
            ]
            assert (REPO / "spark_jobs" / f"{scripts_by_key[entry]}.py").is_file()


def test_the_runner_commands_exist() -> None:
    from typer.main import get_command

    from c360.cli import app

    profiles = yaml.safe_load((REPO / "profiles.yml").read_text())
    assert "athena" in profiles["c360"]["outputs"]
    command = spec.EXPORT_COMMAND.split()
    assert command[0] == "c360" and command[1] in get_command(app).commands  # type: ignore[attr-defined]


def test_only_existing_code_is_referenced_and_missing_code_is_listed(tmp_path: Path) -> None:
    repo = fake_repo(
        tmp_path,
        ("stage_crm_customers",),
        ("stage_crm_customers",),
        {"ingestion/crm_api.py": STUB.format("c360view_get_crm_api")},
    )
    build = Build.from_repo(repo)
    template = build_template(build)
    handlers = [f["Properties"]["Handler"] for f in resources(template, "AWS::Lambda::Function").values()]
    assert handlers == ["ingestion.crm_api.c360view_get_crm_api"]
    assert spec.LOOKUP_API in build.skipped and spec.CRM_API in build.skipped
    assert "C360_CRM_API_URL" not in json.dumps(template)  # no API to call yet


def test_a_new_stage_script_or_generator_needs_no_template_edit(tmp_path: Path) -> None:
    before = build_template(
        Build.from_repo(
            fake_repo(
                tmp_path / "before",
                ("stage_crm_customers",),
                ("stage_crm_customers",),
                {"ingestion/crm_api.py": STUB.format("c360view_get_crm_api")},
            )
        )
    )
    after = build_template(
        Build.from_repo(
            fake_repo(
                tmp_path / "after",
                ("stage_crm_customers", "stage_retail_orders"),
                ("stage_crm_customers", "stage_retail_orders"),
                {
                    "ingestion/crm_api.py": STUB.format("c360view_get_crm_api"),
                    "ingestion/retail_orders.py": 'SOURCE = "retail_orders"\n'
                    + STUB.format("c360view_retail_orders"),
                },
            )
        )
    )
    added = set(after["Resources"]) - set(before["Resources"])
    assert {
        "StageRetailOrdersGlueJob",
        "RetailOrdersFunction",
        "RetailOrdersRole",
        "RetailOrdersSchedule",
    } <= added
    definition = json.dumps(state_machine(after)["Definition"])
    assert "${StageRetailOrdersGlueJob}" in definition and "${RetailOrdersFunction}" in definition
    policy = json.dumps(after["Resources"]["RetailOrdersRole"]["Properties"]["Policies"])
    assert "/raw/retail_orders/*" in policy and "/raw/crm/*" not in policy


def test_a_pipeline_job_without_a_script_is_an_error(tmp_path: Path) -> None:
    repo = fake_repo(tmp_path, ("stage_crm_customers", "stage_missing"), ("stage_crm_customers",), {})
    with pytest.raises(SpecError, match="stage_missing"):
        Build.from_repo(repo)


def test_lambda_runtime_matches_the_packaged_layer(template: dict[str, Any]) -> None:
    assert f"python{packaging.LAMBDA_PYTHON}" == spec.LAMBDA_RUNTIME
    for body in resources(template, "AWS::Lambda::Function").values():
        assert body["Properties"]["Runtime"] == spec.LAMBDA_RUNTIME
    (layer,) = resources(template, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == [spec.LAMBDA_RUNTIME]
    stale = Artifacts(
        **{**Artifacts.placeholder(("stage_crm_customers",)).__dict__, "lambda_runtime": "python3.9"}
    )
    with pytest.raises(SpecError, match=r"python3\.9"):
        Build.from_repo(Repo(REPO), stale)


def test_profile_table_matches_the_loader(template: dict[str, Any]) -> None:
    (table,) = resources(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    from c360.export.dynamodb import PARTITION_KEY

    assert props["KeySchema"] == [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}]
    loader = pytest.importorskip("c360.export.dynamodb_loader")
    schema = loader.table_schema("c360-test")
    assert props["GlobalSecondaryIndexes"][0]["IndexName"] == schema["GlobalSecondaryIndexes"][0]["IndexName"]
    assert props["GlobalSecondaryIndexes"][0]["KeySchema"] == schema["GlobalSecondaryIndexes"][0]["KeySchema"]
    assert loader.ssm_parameter_name("dev") == spec.PROFILE_SSM_PARAMETER.format(stage="dev")
    # Tables a full refresh creates get the template table's protection: the same KMS key, PITR.
    key = props["SSESpecification"]["KMSMasterKeyId"]
    writers = [
        r["Properties"]["Environment"]["Variables"]
        for r in resources(template, "AWS::Lambda::Function").values()
        if "C360_DYNAMODB_TABLE" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    runner = [
        {v["Name"]: v["Value"] for v in r["Properties"]["Environment"]["EnvironmentVariables"]}
        for r in resources(template, "AWS::CodeBuild::Project").values()
    ]
    with_table = [env for env in writers + runner if "C360_DYNAMODB_TABLE" in env]
    assert with_table and all(env.get("C360_DYNAMODB_KMS_KEY") == key for env in with_table), with_table
    policies = json.dumps(template)
    assert "dynamodb:UpdateContinuousBackups" in policies


# --- the design's resources and their settings --------------------------------------------------------------


def test_buckets_are_versioned_encrypted_private_tls_only_logged_and_expiring(
    template: dict[str, Any],
) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    assert set(buckets) == {"RawBucket", "StageBucket", "AnalyticsBucket", "LogBucket"}
    policies = {
        b["Properties"]["Bucket"]["Ref"]: b["Properties"]["PolicyDocument"]
        for b in resources(template, "AWS::S3::BucketPolicy").values()
    }
    for name, body in buckets.items():
        props = body["Properties"]
        assert props["VersioningConfiguration"]["Status"] == "Enabled"
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["LifecycleConfiguration"]["Rules"]
        if name != "LogBucket":
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "LogBucket"}
        denies = [s for s in policies[name]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false" for s in denies)


def test_glue_databases_crawlers_connection_and_athena_workgroup(template: dict[str, Any]) -> None:
    assert len(resources(template, "AWS::Glue::Database")) == 3
    assert len(resources(template, "AWS::Glue::Crawler")) == 2
    (connection,) = resources(template, "AWS::Glue::Connection").values()
    assert connection["Properties"]["ConnectionInput"]["ConnectionProperties"]["SECRET_ID"]
    (workgroup,) = resources(template, "AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoffPerQuery"}
    assert config["ResultConfiguration"]["OutputLocation"]


def test_source_database_is_private_encrypted_with_generated_rotated_credentials(
    template: dict[str, Any],
) -> None:
    (cluster,) = resources(template, "AWS::RDS::DBCluster").values()
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-postgresql"
    assert props["StorageEncrypted"] is True and props["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in props
    (instance,) = resources(template, "AWS::RDS::DBInstance").values()
    assert instance["Properties"]["PubliclyAccessible"] is False
    text = render(template).lower()
    assert "password" not in "".join(template["Parameters"]).lower()
    assert not re.search(r"password\s*[:=]\s*['\"]?\w", text.replace("managemasteruserpassword: true", ""))
    for sg in resources(template, "AWS::EC2::SecurityGroup").values():
        for rule in sg["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0"


def test_schedules_exist_for_every_generator_and_are_disabled_by_default(
    template: dict[str, Any], build: Build
) -> None:
    schedules = resources(template, "AWS::Scheduler::Schedule")
    assert len(schedules) == len(build.generators)
    assert template["Parameters"]["EnableSchedules"]["Default"] == "false"
    for body in schedules.values():
        assert body["Properties"]["State"] == {"Fn::If": ["SchedulesEnabled", "ENABLED", "DISABLED"]}


def test_apis_are_iam_authorised(template: dict[str, Any]) -> None:
    routes = resources(template, "AWS::ApiGatewayV2::Route")
    assert routes
    assert all(r["Properties"]["AuthorizationType"] == "AWS_IAM" for r in routes.values())


def test_lake_formation_registers_buckets_tags_and_grants(template: dict[str, Any]) -> None:
    assert len(resources(template, "AWS::LakeFormation::Resource")) == 3
    tag_keys = [
        t["Properties"]["TagKey"]["Fn::Sub"] for t in resources(template, "AWS::LakeFormation::Tag").values()
    ]
    assert any(k.endswith("_pii") for k in tag_keys)
    grantees = {
        g["Properties"]["Principal"]["DataLakePrincipalIdentifier"]["Fn::GetAtt"][0]
        for g in resources(template, "AWS::LakeFormation::PrincipalPermissions").values()
    }
    assert {
        "GlueCrawlerRole",
        "DbtRunnerRole",
        "QuickSightAthenaRole",
        "PipelineStateMachineRole",
    } <= grantees
    pii = json.dumps(state_machine(template)["Definition"])
    assert "addLFTagsToResource" in pii and all(f'\\"{c}\\"' in pii for c in Repo(REPO).direct_identifiers())


def test_every_component_has_its_own_role(template: dict[str, Any], build: Build) -> None:
    roles = resources(template, "AWS::IAM::Role")
    assert len(roles) >= len(build.functions) + 7
    used = [json.dumps(body) for body in template["Resources"].values() if body["Type"] != "AWS::IAM::Role"]
    used.append(json.dumps(template["Outputs"]))
    for role in roles:
        assert any(f'"{role}"' in text for text in used), f"{role} is attached to nothing"


# --- security rules -------------------------------------------------------------------------------------------


def test_no_statement_allows_every_action(
    template: dict[str, Any], complete: tuple[Build, dict[str, Any]]
) -> None:
    for candidate in (template, complete[1]):
        for name, document in policy_documents(candidate):
            for stmt in as_list(document["Statement"]):
                if stmt["Effect"] != "Allow":
                    continue
                assert "*" not in as_list(stmt["Action"]), f"{name}: Action *"
                if "*" in as_list(stmt.get("Resource", [])) and "KeyPolicy" not in json.dumps(
                    candidate["Resources"][name]["Properties"]
                ):
                    assert stmt.get("Sid", "").endswith("NoResourceArn"), (
                        f"{name}: {stmt['Action']} on Resource * must say why (Sid ...NoResourceArn)"
                    )


def test_nothing_is_hard_coded(rendered: list[Path]) -> None:
    for path in rendered:
        text = path.read_text()
        assert not re.findall(r"(?<![\d.])\d{12}(?![\d.])", text), f"{path.name}: an account id"
        assert not re.findall(
            r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:north|south|east|west|central|northeast|"
            r"southeast|southwest|northwest)-\d\b",
            text,
        ), f"{path.name}: a region"
        arns = re.findall(r"arn:aws[\w-]*:[^\s'\"]*", text)
        assert all(a.startswith("arn:aws:states:::") for a in arns), f"{path.name}: {arns}"


def test_every_checkov_suppression_has_a_reason(rendered: list[Path]) -> None:
    for path in rendered:
        template = yaml.load(path.read_text(), Loader=_CfnLoader)
        for name, body in template["Resources"].items():
            for skip in body.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert len(skip.get("comment", "").split()) >= 8, (
                    f"{path.name} {name} {skip['id']}: no reason"
                )


def test_rendering_is_deterministic(build: Build, template: dict[str, Any]) -> None:
    assert render(build_template(build)) == render(template)


# --- linters ---------------------------------------------------------------------------------------------------


def test_cfn_lint_reports_nothing(rendered: list[Path]) -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(BIN))
    assert cfn_lint, "cfn-lint is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run(
        [cfn_lint, "--format", "parseable", *map(str, rendered)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_no_failed_check(rendered: list[Path]) -> None:
    if not CHECKOV.exists():
        if os.environ.get("CI"):
            pytest.fail("checkov is missing: `make .venv-checkov` creates its venv (make test does it)")
        pytest.skip("checkov is not installed: run `make .venv-checkov`")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
            *[arg for path in rendered for arg in ("-f", str(path))],
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for report in reports
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    passed = sum(report.get("summary", {}).get("passed", 0) for report in reports)
    assert passed > 100, result.stdout[-2000:] + result.stderr[-2000:]


class _CfnLoader(yaml.SafeLoader):
    """Reads hand-written templates with short-form intrinsics (!Ref, !Sub...) as plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_CfnLoader.add_multi_constructor("!", _intrinsic)
