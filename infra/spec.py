"""The spec: what c360 deploys, in a few lines. Adding a source or a job is one edit here, or none.

- A **stage job** needs no edit: every ``spark_jobs/stage_*.py`` gets a Glue 5.0 job, and the state machine's stage
  step runs the jobs of ``c360.pipeline.STAGE_JOBS`` (the list ``c360 stage`` runs locally). Add a line to
  ``GLUE_JOB_OPTIONS`` only when a job needs more than the defaults (the source database, more workers) or
  ``EMR_STAGE_JOBS`` when it runs on EMR Serverless.
- A **generator** is one line in ``GENERATORS``: its handler, the raw prefixes it may write, its schedule.
- An entry whose handler does not exist yet in the repository is left out of the template (``python -m infra
  --check`` lists them), so the template only references code that exists.
"""

from __future__ import annotations

from dataclasses import dataclass

LAMBDA_RUNTIME = "python3.12"
"""Lambda's python3.11 runtime runs on Amazon Linux 2 (glibc 2.26), but our pinned numpy and pyarrow ship only
manylinux_2_28 wheels; python3.12 runs on Amazon Linux 2023 (glibc 2.34). The code is 3.11-compatible and runs as is
on 3.12; the dependency layer is built for cp312 (``c360.packaging``)."""
LAMBDA_ARCHITECTURE = "x86_64"
GLUE_VERSION = "5.0"  # Spark 3.5, Python 3.11: the versions of the local pipeline


@dataclass(frozen=True)
class Function:
    """A Lambda function packaged from ``ingestion/`` or ``c360/``."""

    key: str
    """CamelCase stem of its logical ids (``GetCrmApi`` -> ``GetCrmApiFunction``, ``GetCrmApiRole``...)."""
    handler: str
    """``package.module.function``, as Lambda's ``Handler``."""
    description: str
    memory_mb: int = 1024
    timeout_s: int = 300

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def name(self) -> str:
        """The function name's suffix: ``c360-<stage>-<name>``."""
        return "".join("-" + c.lower() if c.isupper() else c for c in self.key).lstrip("-")


@dataclass(frozen=True)
class Generator(Function):
    """A source simulator: scheduled by EventBridge Scheduler and run by the state machine's ``generate`` step."""

    raw_prefixes: tuple[str, ...] | None = None
    """The prefixes of the raw zone (``s3://<raw bucket>/raw/<prefix>/``) it may write, nothing else; None: the
    module's ``SOURCE``."""
    schedule: str = "rate(1 day)"
    source_db: bool = False
    """Writes the Aurora ``sourcemf`` database (runs in the VPC, reads the database secret) instead of S3."""
    calls_crm_api: bool = False
    """Pulls the CRM API (gets ``C360_CRM_API_URL`` and may invoke the API's routes, SigV4-signed)."""


@dataclass(frozen=True)
class GlueJobOptions:
    workers: int = 2
    worker_type: str = "G.1X"
    timeout_minutes: int = 60
    source_db: bool = False
    """Reads the source database through the Glue JDBC connection (runs in the VPC)."""


GENERATORS: tuple[Generator, ...] = (
    Generator(
        "GetCrmApi",
        "ingestion.crm_api.c360view_get_crm_api",
        "c360viewGetCRMApi: pulls the CRM API's changed customers into the raw bucket (JSON Lines)",
        raw_prefixes=("crm",),
        calls_crm_api=True,
    ),
    Generator(
        "MfGenAccount",
        "ingestion.mainframe.c360view_mf_gen_account",
        "c360viewMFgenAccount: the mainframe account-origination extract",
        raw_prefixes=("account",),
    ),
    Generator(
        "MfGenCard",
        "ingestion.mainframe.c360view_mf_gen_card",
        "c360viewMFgenCard: the mainframe card-origination extract",
        raw_prefixes=("card",),
    ),
    Generator(
        "MfGenGbank",
        "ingestion.mainframe.c360view_mf_gen_gbank",
        "c360viewMFgenGBank: the mainframe general-banking (dispositions) extract",
        raw_prefixes=("gbank",),
    ),
    Generator(
        "IngestionPostgresql",
        "ingestion.transactions.c360view_ingestion_postgresql",
        "c360viewIngestionPostgresql: writes the day's transactions into the Aurora sourcemf database",
        source_db=True,
        timeout_s=720,
    ),
    Generator(
        "GetGaTables",
        "ingestion.ga_sessions.c360view_get_ga_tables",
        "c360viewGetGaTables: the Google Analytics sessions export (NDJSON)",
    ),
    Generator(
        "VisitorMap",
        "ingestion.visitor_map.c360view_visitor_map",
        "The web visitor to client map (CSV)",
    ),
    Generator(
        "RetailOrders",
        "ingestion.retail_orders.c360view_retail_orders",
        "The retail SaaS sales-orders export (CSV)",
    ),
)
"""Without ``raw_prefixes``, a generator may write ``raw/<SOURCE>/`` only, ``SOURCE`` being its module's constant
(``lake.uri("raw", SOURCE, ...)``, the convention of ``ingestion/``)."""

CRM_API = Function(
    "CrmApi",
    "ingestion.crm_api.c360view_crm_api",
    "c360viewCRMApi: the CRM REST API (behind an API Gateway HTTP API, IAM-authorised)",
    memory_mb=1024,
    timeout_s=29,
)
CRM_API_ROUTES = ("GET /customers",)

LOOKUP_API = Function(
    "ProfileLookup",
    "c360.api.lambda_handler",
    "The customer-profile lookup API: a profile by client_id, the customers of a branch (district)",
    memory_mb=512,
    timeout_s=10,
)
LOOKUP_API_ROUTES = ("GET /customers/{client_id}", "GET /branches/{district_id}/customers")

EXPORT = Function(
    "ExportProfiles",
    "c360.export.dynamodb_loader.lambda_handler",
    "Exports customer_360 and loads the profiles into DynamoDB",
    memory_mb=3008,
    timeout_s=900,
)
EXPORT_COMMAND = "c360 export"
"""What the runner (CodeBuild) runs for the ``export`` step while there is no export Lambda handler."""

PROFILE_SSM_PARAMETER = "/c360/{stage}/dynamodb/profile-table"
"""The parameter naming the table readers use (``c360.export.dynamodb_loader.ssm_parameter_name``)."""
PROFILE_INDEX_DEFAULTS = {"DISTRICT_INDEX": "by_district", "DISTRICT_KEY": "district_id"}
"""The branch index, when ``c360/export/dynamodb_loader.py`` does not say (it is read from there)."""

GLUE_JOB_OPTIONS: dict[str, GlueJobOptions] = {
    "stage_transactions": GlueJobOptions(source_db=True),
}
"""Per stage script, when the defaults (2 x G.1X, one hour, no VPC) do not fit."""

EMR_STAGE_JOBS: frozenset[str] = frozenset({"stage_ga_sessions"})
"""Stage jobs that the state machine runs on the EMR Serverless application (the GA advanced transformation)
instead of Glue. Their Glue job exists all the same, for ad-hoc runs."""

PII_TAG = "c360_pii"
LAYER_TAG = "c360_layer"
LAYERS = ("raw", "stage", "analytics")
"""The lake layers with a bucket and a Glue database each (the fourth bucket, Log, holds no tables)."""
