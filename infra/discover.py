"""What exists in the repository, read without importing it: the stage scripts, the handlers, the pipeline's steps
and the columns that identify a person. The template is built from these, so it never references missing code."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


class SpecError(ValueError):
    """The spec and the repository disagree (a pipeline job without a script, a malformed constant...)."""


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _literal(node: ast.expr, where: str) -> Any:
    """A literal, or ``frozenset(...)``/``tuple(...)``/``set(...)`` of one."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"frozenset", "tuple", "set"}
    ):
        inner = ast.literal_eval(node.args[0]) if node.args else ()
        return {"frozenset": frozenset, "tuple": tuple, "set": set}[node.func.id](inner)
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise SpecError(f"{where} is not a literal") from exc


@dataclass(frozen=True)
class Repo:
    root: Path = REPO_ROOT

    def module_path(self, module: str) -> Path:
        """``ingestion.crm`` -> ``<root>/ingestion/crm.py`` (or the package's ``__init__.py``)."""
        base = self.root.joinpath(*module.split("."))
        package = base / "__init__.py"
        return package if package.exists() else base.with_suffix(".py")

    def has_function(self, module: str, function: str) -> bool:
        """Whether ``module`` exists and defines ``function`` at its top level."""
        path = self.module_path(module)
        if not path.exists():
            return False
        return any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function
            for node in _parse(path).body
        )

    def has_handler(self, handler: str) -> bool:
        module, _, function = handler.rpartition(".")
        return bool(module) and self.has_function(module, function)

    def constant(self, module: str, name: str) -> Any:
        """The value of a module-level constant assigned a literal (``STEPS = (...)``)."""
        path = self.module_path(module)
        for node in _parse(path).body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return _literal(value, f"{path}: {name}")
        raise SpecError(f"{path} defines no module-level constant {name}")

    def constant_or(self, module: str, name: str, default: Any) -> Any:
        """``constant``, or ``default`` when the module does not exist (yet)."""
        return self.constant(module, name) if self.module_path(module).exists() else default

    def stage_scripts(self) -> tuple[str, ...]:
        """Every ``spark_jobs/stage_*.py`` that has a ``main`` (the Glue entry point), sorted."""
        scripts = sorted(p.stem for p in (self.root / "spark_jobs").glob("stage_*.py"))
        return tuple(s for s in scripts if self.has_function(f"spark_jobs.{s}", "main"))

    def script_path(self, job: str) -> Path:
        return self.root / "spark_jobs" / f"{job}.py"

    def pipeline_steps(self) -> tuple[str, ...]:
        return tuple(self.constant("c360.pipeline", "STEPS"))

    def pipeline_stage_jobs(self) -> tuple[str, ...]:
        jobs = tuple(self.constant("c360.pipeline", "STAGE_JOBS"))
        missing = [job for job in jobs if job not in self.stage_scripts()]
        if missing:
            raise SpecError(
                f"c360.pipeline.STAGE_JOBS names {', '.join(missing)} but spark_jobs/ has no such script with a "
                "main(); add the script or remove the name"
            )
        return jobs

    def stage_job_parents(self) -> dict[str, tuple[str, ...]]:
        """For every stage script, the stage jobs whose tables its orphan checks read: each
        ``ForeignKey(column, "<parent table>", ...)`` in the script names ``stage_<parent table>``. A job must run
        after its parents (``c360 stage`` runs them in ``STAGE_JOBS`` order; Step Functions in waves)."""
        scripts = self.stage_scripts()
        parents: dict[str, tuple[str, ...]] = {}
        for script in scripts:
            found: list[str] = []
            for node in ast.walk(_parse(self.script_path(script))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                if node.func.id != "ForeignKey" or len(node.args) < 2:
                    continue
                table = node.args[1]
                if not (isinstance(table, ast.Constant) and isinstance(table.value, str)):
                    raise SpecError(f"spark_jobs/{script}.py: a ForeignKey's parent table is not a literal")
                parent = f"stage_{table.value}"
                if parent not in scripts:
                    raise SpecError(
                        f"spark_jobs/{script}.py checks foreign keys against {table.value!r} but no stage "
                        f"script {parent}.py writes that table"
                    )
                if parent != script and parent not in found:
                    found.append(parent)
            parents[script] = tuple(found)
        return parents

    def direct_identifiers(self) -> tuple[str, ...]:
        """The columns that identify a person (``c360.export.dynamodb.DIRECT_IDENTIFIERS``): tagged PII."""
        return tuple(sorted(self.constant("c360.export.dynamodb", "DIRECT_IDENTIFIERS")))
