"""What one rendering deploys: the spec filtered by what exists in the repository, plus the artifact keys of the
packaged code. Every component module reads this and nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from infra import spec
from infra.discover import Repo, SpecError

# Logical ids shared between components.
KEY = "DataKey"
BUCKETS = {"raw": "RawBucket", "stage": "StageBucket", "analytics": "AnalyticsBucket", "log": "LogBucket"}
DATABASES = {layer: f"{layer.capitalize()}Database" for layer in spec.LAYERS}
DLQ = "LambdaDeadLetterQueue"
LAYER = "DependenciesLayer"
PROFILE_TABLE = "ProfileTable"
WORKGROUP = "AthenaWorkGroup"
RUNNER = "DbtRunner"
EMR_APP = "EmrServerlessApplication"
EMR_ROLE = "EmrJobRole"
ALERTS = "PipelineAlertsTopic"
SOURCE_DB = "SourceDbCluster"
SOURCE_DB_NAME = "sourcemf"
JDBC_CONNECTION = "SourceDbConnection"
CRAWLERS = {"raw": "RawCrawler", "stage": "StageCrawler"}


def zone_uri(layer: str) -> dict:
    """``s3://<bucket>/<zone>``: the lake zone a ``c360.storage.Lake`` rooted at ``s3://<bucket>`` addresses, so
    the Lambdas' ``C360_LAKE=s3://<bucket>`` and the jobs' ``--<zone>_uri`` agree."""
    bucket = BUCKETS["log" if layer == "logs" else layer]
    return {"Fn::Sub": f"s3://${{{bucket}}}/{layer}"}


@dataclass(frozen=True)
class Artifacts:
    """S3 keys, below the ``ArtifactPrefix`` parameter, of what ``make package`` built (``dist/manifest.json``)."""

    lambda_code: str
    lambda_layer: str
    glue_library: str
    glue_scripts: dict[str, str]
    runner_source: str
    lambda_runtime: str = spec.LAMBDA_RUNTIME

    @classmethod
    def from_manifest(cls, path: Path) -> Artifacts:
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            return cls(
                lambda_code=data["lambda_code"],
                lambda_layer=data["lambda_layer"],
                glue_library=data["glue_library"],
                glue_scripts=dict(data["glue_scripts"]),
                runner_source=data["runner_source"],
                lambda_runtime=data.get("lambda_runtime", spec.LAMBDA_RUNTIME),
            )
        except KeyError as exc:
            raise SpecError(f"{path} has no {exc} entry; rebuild it with `make package`") from exc

    @classmethod
    def placeholder(cls, scripts: tuple[str, ...]) -> Artifacts:
        """Unversioned keys, to render (and lint) the template without building the artifacts."""
        return cls(
            lambda_code="lambda/c360-code.zip",
            lambda_layer="lambda/c360-dependencies.zip",
            glue_library="glue/lib/c360_spark_jobs.zip",
            glue_scripts={name: f"glue/scripts/{name}.py" for name in scripts},
            runner_source="runner/c360-source.zip",
        )


@dataclass(frozen=True)
class GlueJob:
    script: str
    options: spec.GlueJobOptions

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in self.script.split("_")) + "GlueJob"

    @property
    def name(self) -> str:
        """The job name's suffix: ``c360-<stage>-<script>``."""
        return self.script.replace("_", "-")


@dataclass(frozen=True)
class Build:
    repo: Repo
    artifacts: Artifacts
    steps: tuple[str, ...]
    stage_jobs: tuple[str, ...]
    glue_jobs: tuple[GlueJob, ...]
    generators: tuple[spec.Generator, ...]
    crm_api: spec.Function | None
    lookup_api: spec.Function | None
    export: spec.Function | None
    pii_columns: tuple[str, ...]
    raw_prefixes: dict[str, tuple[str, ...]]
    profile_key: str
    profile_index: str
    profile_index_key: str
    skipped: tuple[spec.Function, ...] = field(default=())
    stage_parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each stage job's parent jobs (the tables its orphan checks read), from ``Repo.stage_job_parents``."""

    @classmethod
    def from_repo(cls, repo: Repo, artifacts: Artifacts | None = None) -> Build:
        scripts = repo.stage_scripts()
        artifacts = artifacts or Artifacts.placeholder(scripts)
        if artifacts.lambda_runtime != spec.LAMBDA_RUNTIME:
            raise SpecError(
                f"the Lambda layer was built for {artifacts.lambda_runtime} but infra/spec.py deploys "
                f"{spec.LAMBDA_RUNTIME}: keep c360/packaging.py LAMBDA_PYTHON and spec.LAMBDA_RUNTIME together"
            )
        missing_scripts = [s for s in scripts if s not in artifacts.glue_scripts]
        if missing_scripts:
            raise SpecError(
                f"the artifact manifest has no Glue script for {', '.join(missing_scripts)}; run `make package`"
            )

        def exists(function: spec.Function) -> bool:
            return repo.has_handler(function.handler)

        everything = (*spec.GENERATORS, spec.CRM_API, spec.LOOKUP_API, spec.EXPORT)
        generators = tuple(g for g in spec.GENERATORS if exists(g))
        loader = "c360.export.dynamodb_loader"
        index = {
            name: repo.constant_or(loader, name, default)
            for name, default in spec.PROFILE_INDEX_DEFAULTS.items()
        }
        return cls(
            repo=repo,
            artifacts=artifacts,
            steps=repo.pipeline_steps(),
            stage_jobs=repo.pipeline_stage_jobs(),
            glue_jobs=tuple(GlueJob(s, spec.GLUE_JOB_OPTIONS.get(s, spec.GlueJobOptions())) for s in scripts),
            generators=generators,
            crm_api=spec.CRM_API if exists(spec.CRM_API) else None,
            lookup_api=spec.LOOKUP_API if exists(spec.LOOKUP_API) else None,
            export=spec.EXPORT if exists(spec.EXPORT) else None,
            pii_columns=repo.direct_identifiers(),
            raw_prefixes={g.key: _raw_prefixes(repo, g) for g in generators},
            profile_key=repo.constant("c360.export.dynamodb", "PARTITION_KEY"),
            profile_index=index["DISTRICT_INDEX"],
            profile_index_key=index["DISTRICT_KEY"],
            skipped=tuple(f for f in everything if not exists(f)),
            stage_parents=repo.stage_job_parents(),
        )

    @property
    def stage_waves(self) -> tuple[tuple[str, ...], ...]:
        """The pipeline's stage jobs in waves: a job runs in the wave after the last of its parents, so every
        orphan check reads its parent table of this run; jobs of one wave run in parallel, each wave in
        ``STAGE_JOBS`` order. A parent outside ``STAGE_JOBS`` or a cycle is an error."""
        level: dict[str, int] = {}

        def wave_of(job: str, path: tuple[str, ...] = ()) -> int:
            if job in path:
                raise SpecError(f"stage jobs depend on each other in a cycle: {' -> '.join((*path, job))}")
            if job not in level:
                parents = self.stage_parents.get(job, ())
                outside = [p for p in parents if p not in self.stage_jobs]
                if outside:
                    raise SpecError(
                        f"{job} checks foreign keys against {', '.join(outside)}, which c360.pipeline.STAGE_JOBS "
                        "does not run: add it to STAGE_JOBS"
                    )
                level[job] = 1 + max((wave_of(p, (*path, job)) for p in parents), default=-1)
            return level[job]

        for job in self.stage_jobs:
            wave_of(job)
        count = 1 + max(level.values(), default=-1)
        return tuple(tuple(j for j in self.stage_jobs if level[j] == n) for n in range(count))

    @property
    def functions(self) -> tuple[spec.Function, ...]:
        optional = (self.crm_api, self.lookup_api, self.export)
        return (*self.generators, *(f for f in optional if f is not None))

    @property
    def source_db_jobs(self) -> tuple[GlueJob, ...]:
        return tuple(job for job in self.glue_jobs if job.options.source_db)

    def job(self, script: str) -> GlueJob:
        return next(job for job in self.glue_jobs if job.script == script)


def _raw_prefixes(repo: Repo, generator: spec.Generator) -> tuple[str, ...]:
    if generator.raw_prefixes is not None:
        return generator.raw_prefixes
    if generator.source_db:
        return ()
    try:
        return (str(repo.constant(generator.module, "SOURCE")),)
    except SpecError as exc:
        raise SpecError(
            f"{generator.handler}: its module has no SOURCE constant, so give the generator raw_prefixes=(...) "
            "in infra/spec.py (the raw-zone prefixes it writes)"
        ) from exc
