"""Security: pinned dependencies audited for known vulnerabilities, secrets never printed or logged, SQL built from
constants and validated values only, the lookup API's input validated, PII kept out of every export."""

from __future__ import annotations

import ast
import concurrent.futures
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from packaging.version import InvalidVersion, Version
from typer.testing import CliRunner

from c360 import api
from c360.cli import app
from c360.errors import ServiceError
from c360.export.dashboard import CUSTOMERS, MART_COLUMNS, read_mart
from c360.export.dynamodb import to_item
from c360.export.quicksight import QuickSightConfig, build_requests
from c360.services.postgres import PostgresInfo
from c360.services.source_db import configured_dsn, from_dsn, from_info
from c360.settings import Settings, normalize_lake
from c360.storage import Lake
from spark_jobs.common.args import JobArgumentError, parse_job_args
from spark_jobs.common.jdbc import jdbc_source_from_args, with_retries

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Zx9-pr0be-S3cret"
"""A recognisable password: it must never show up in anything printed or logged."""

# --- 1. dependency audit -----------------------------------------------------------------------------------------
PIP_AUDIT = REPO / ".venv-audit" / "bin" / "pip-audit"
IGNORE_FILE = REPO / "security" / "pip-audit-ignore.txt"
PYPI_RELEASE_JSON = "https://pypi.org/pypi/{name}/{version}/json"
PYPI_PROJECT_JSON = "https://pypi.org/pypi/{name}/json"
OSV_QUERY = "https://api.osv.dev/v1/query"


def pinned_requirements() -> list[str]:
    """The exact pins of this environment (``name==version``), the editable project left out."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(line.strip() for line in frozen.splitlines() if "==" in line and not line.startswith("#"))


def allowlist(text: str) -> dict[str, str]:
    """``ID  # reason`` per line (blank lines and ``#`` comments skipped); a reason is required."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ident, _, reason = line.partition("#")
        if not ident.strip() or not reason.strip():
            raise ValueError(f"{IGNORE_FILE.name} line {number}: write `ID  # reason`, got {line!r}")
        entries[ident.strip()] = reason.strip()
    return entries


def audit_findings(report: dict[str, Any], allowed: set[str]) -> tuple[list[str], list[str]]:
    """(findings not allowed, dependencies pip-audit could not audit) of a ``pip-audit --format json`` report."""
    findings, unaudited = [], []
    for dep in report.get("dependencies", []):
        if dep.get("skip_reason"):
            unaudited.append(f"{dep['name']}: {dep['skip_reason']}")
            continue
        for vuln in dep.get("vulns", []):
            if {vuln["id"], *vuln.get("aliases", [])} & allowed:
                continue
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            findings.append(f"{dep['name']}=={dep['version']}: {vuln['id']} (fixed in {fixes})")
    return findings, unaudited


def _unreachable(request: urllib.request.Request) -> str | None:
    """None when the service answers 200, else what went wrong."""
    try:
        with urllib.request.urlopen(request, timeout=20) as reply:
            return None if reply.status == 200 else f"HTTP {reply.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def vulnerability_service(pins: list[str]) -> tuple[str | None, list[str]]:
    """The pip-audit service that answers for our pins ("pypi" or "osv"), or None and why neither does."""
    name, version = pins[0].split("==")
    pypi = _unreachable(urllib.request.Request(PYPI_RELEASE_JSON.format(name=name, version=version)))
    if pypi is None:
        return "pypi", []
    query = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()
    osv = _unreachable(urllib.request.Request(OSV_QUERY, data=query, method="POST"))
    if osv is None:
        return "osv", []
    return None, [
        f"PyPI {PYPI_RELEASE_JSON.format(name=name, version=version)}: {pypi}",
        f"OSV {OSV_QUERY}: {osv}",
    ]


def test_the_allowlist_parses_and_every_entry_has_a_reason() -> None:
    assert allowlist(IGNORE_FILE.read_text()) is not None
    with pytest.raises(ValueError, match="write `ID  # reason`"):
        allowlist("PYSEC-2099-1\n")
    assert allowlist("# comment\n\nGHSA-xxxx-yyyy-zzzz  # no fix for pyspark 3.5.x\n") == {
        "GHSA-xxxx-yyyy-zzzz": "no fix for pyspark 3.5.x"
    }


def test_audit_findings_fail_on_a_vulnerability_and_on_a_package_left_unaudited() -> None:
    report = {
        "dependencies": [
            {
                "name": "a",
                "version": "1",
                "vulns": [{"id": "PYSEC-1", "aliases": ["CVE-1"], "fix_versions": ["2"]}],
            },
            {"name": "b", "version": "1", "vulns": [{"id": "GHSA-2", "aliases": [], "fix_versions": []}]},
            {"name": "c", "skip_reason": "Dependency not found on PyPI and could not be audited: c (1)"},
            {"name": "d", "version": "1", "vulns": []},
        ]
    }
    findings, unaudited = audit_findings(report, {"CVE-1"})
    assert findings == ["b==1: GHSA-2 (fixed in no fixed version)"]
    assert unaudited == ["c: Dependency not found on PyPI and could not be audited: c (1)"]


def test_pinned_dependencies_have_no_known_vulnerabilities(tmp_path: Path) -> None:
    """pip-audit (its own venv, ``make .venv-audit``) on the exact pins of this environment. Skips only when no
    vulnerability service answers; a package it cannot audit fails the test (never a silent pass)."""
    if not PIP_AUDIT.exists():
        pytest.fail("pip-audit is missing: `make .venv-audit` creates its venv (make test does it)")
    pins = pinned_requirements()
    assert len(pins) > 20, pins
    service, why = vulnerability_service(pins)
    if service is None:
        pytest.skip("no vulnerability service is reachable from here: " + "; ".join(why))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(pins) + "\n")
    result = subprocess.run(
        [
            str(PIP_AUDIT),
            "--requirement",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            "--vulnerability-service",
            service,
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.stdout.strip().startswith("{"), result.stdout + result.stderr
    findings, unaudited = audit_findings(json.loads(result.stdout), set(allowlist(IGNORE_FILE.read_text())))
    assert not unaudited, f"pip-audit ({service}) could not audit: {unaudited}"
    assert not findings, f"known vulnerabilities (fix the pin or allowlist in {IGNORE_FILE}): {findings}"


def affected_by(version: str, vulnerability: dict[str, Any]) -> bool:
    """Whether ``version`` lacks the fix of a vulnerability PyPI lists for a project's latest release: fixed when a
    fixed version at or below it is the newest fix or a backport to its own ``major.minor`` line; no fix at all
    means every version is suspect."""
    fixes = []
    for fixed in vulnerability.get("fixed_in") or []:
        try:
            fixes.append(Version(fixed))
        except InvalidVersion:
            continue
    pinned = Version(version)
    return not any(
        fix <= pinned and (fix == max(fixes) or fix.release[:2] == pinned.release[:2]) for fix in fixes
    )


def test_affected_by_compares_with_the_fixed_versions() -> None:
    assert affected_by("1.0", {"id": "X", "fixed_in": ["1.1"]})
    assert affected_by("1.0", {"id": "X", "fixed_in": []})
    assert not affected_by("2.0", {"id": "X", "fixed_in": ["1.1"]})
    assert not affected_by("1.0.7", {"id": "X", "fixed_in": ["1.0.5", "1.1.2"]})  # a backport to 1.0.x
    assert affected_by("1.1.0", {"id": "X", "fixed_in": ["1.0.5", "1.1.2"]})


def test_pinned_dependencies_have_no_advisory_on_their_pypi_project_page() -> None:
    """The equivalent that works where PyPI's per-release JSON is not served: the project page lists the
    vulnerabilities of the latest release, so a pin at the latest release (most of ours) is fully checked, and
    an older pin is checked against advisories still open on the latest release."""
    pins = [pin.split("==") for pin in pinned_requirements()]
    reason = _unreachable(urllib.request.Request(PYPI_PROJECT_JSON.format(name=pins[0][0])))
    if reason is not None:
        pytest.skip(f"PyPI's JSON API is not reachable ({reason})")

    def page(pin: list[str]) -> tuple[str, str, dict[str, Any]]:
        with urllib.request.urlopen(PYPI_PROJECT_JSON.format(name=pin[0]), timeout=60) as reply:
            return pin[0], pin[1], json.load(reply)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(page, pins))
    allowed = set(allowlist(IGNORE_FILE.read_text()))
    findings = [
        f"{name}=={version}: {vuln['id']} (fixed in {', '.join(vuln.get('fixed_in') or []) or 'no version'})"
        for name, version, data in pages
        for vuln in data.get("vulnerabilities") or []
        if affected_by(version, vuln) and not ({vuln["id"], *(vuln.get("aliases") or [])} & allowed)
    ]
    assert not findings, f"known vulnerabilities (fix the pin or allowlist in {IGNORE_FILE}): {findings}"


# --- 2. secrets are never printed or logged ----------------------------------------------------------------------
def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text, f"the password leaked into: {text[:2000]}"


def test_source_database_display_and_repr_hide_the_password() -> None:
    db = from_dsn(f"host=db.internal port=5432 dbname=sourcemf user=etl password={PASSWORD}")
    assert db.password == PASSWORD
    _assert_no_secret(db.display, repr(db), str(db))
    info = PostgresInfo("127.0.0.1", 5432, "c360", PASSWORD, "sourcemf", "/tmp/pg")
    _assert_no_secret(repr(info), info.redacted(), repr(from_info(info)))


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://etl:{PASSWORD}@[db.internal/sourcemf",  # libpq quotes the whole URI in its error
        f"host=db.internal password={PASSWORD} port",
        f"postgresql://etl:{PASSWORD}@db.internal/sourcemf?bogus=1",
    ],
)
def test_a_malformed_dsn_is_a_clear_error_without_the_password(dsn: str) -> None:
    with pytest.raises(ServiceError, match="not a valid PostgreSQL connection string") as caught:
        from_dsn(dsn)
    _assert_no_secret(str(caught.value))


def test_the_secrets_manager_password_is_not_logged_even_at_debug(
    monkeypatch: pytest.MonkeyPatch,
    aws_env: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="c360/sourcemf-probe", SecretString=json.dumps({"username": "c360app", "password": PASSWORD})
    )["ARN"]
    monkeypatch.setenv("C360_PG_DSN", "host=db.internal port=5432 dbname=sourcemf")
    monkeypatch.setenv("C360_PG_SECRET_ARN", arn)
    caplog.set_level(logging.DEBUG)
    db = from_dsn(configured_dsn() or "")
    assert db.password == PASSWORD and "***" in db.display
    assert any(r.name.startswith("botocore") for r in caplog.records)  # DEBUG logging really was on
    captured = capfd.readouterr()
    _assert_no_secret(caplog.text, captured.out, captured.err, db.display, repr(db))


def _cli(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    captured = capfd.readouterr()
    return result.exit_code, result.output + captured.out + captured.err


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (f"postgresql://etl:{PASSWORD}@[db.internal/sourcemf", "not a valid PostgreSQL connection string"),
        (f"host=127.0.0.1 port=1 user=etl password={PASSWORD} dbname=sourcemf", "Connection refused"),
    ],
)
def test_the_cli_does_not_print_the_password_when_the_database_fails(
    dsn: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("C360_PG_DSN", dsn)
    monkeypatch.delenv("C360_PG_SECRET_ARN", raising=False)
    caplog.set_level(logging.INFO)
    code, output = _cli(
        capfd, "generate", "--lake", str(tmp_path / "lake"), "--scale", "0.01", "--day", "2024-12-31"
    )
    assert code == 1 and message in output, output
    _assert_no_secret(output, caplog.text)


def test_jdbc_connection_and_its_retry_log_lines_hide_the_password(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    source = jdbc_source_from_args(
        {
            "jdbc_url": f"jdbc:postgresql://etl:{PASSWORD}@db:5432/sourcemf?password={PASSWORD}",
            "db_user": "etl",
        },
        environ={"C360_PG_PASSWORD": PASSWORD},
    )
    assert source.password == PASSWORD and source.options()["password"] == PASSWORD
    assert source.display == "jdbc:postgresql://db:5432/sourcemf"
    caplog.set_level(logging.DEBUG)
    attempts: list[int] = []

    def failing(attempt: int) -> None:
        attempts.append(attempt)
        raise RuntimeError(f"java.sql.SQLException: Connection refused reading {source.display}")

    with pytest.raises(RuntimeError):
        with_retries(
            failing, f"reading {source.display}", attempts=2, backoff_seconds=0, sleep=lambda _: None
        )
    assert attempts == [1, 2] and "retrying" in caplog.text
    captured = capfd.readouterr()
    _assert_no_secret(repr(source), str(source), source.display, caplog.text, captured.out, captured.err)


@pytest.mark.spark
def test_a_failing_spark_jdbc_read_does_not_log_the_password(
    spark: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from spark_jobs.stage_transactions import read_bounds

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = jdbc_source_from_args(
        {
            "jdbc_url": f"jdbc:postgresql://127.0.0.1:{port}/sourcemf",
            "db_user": "etl",
            "db_password": PASSWORD,
        },
        environ={},
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as caught:
        with_retries(lambda _: read_bounds(spark, source, 0), "reading", 2, 0, sleep=lambda _: None)
    captured = capfd.readouterr()
    assert "Connection refused" in str(caught.value) or "refused" in str(caught.value).lower()
    _assert_no_secret(str(caught.value), caplog.text, captured.out, captured.err)


# --- 3. SQL built from constants and validated values only ------------------------------------------------------
SQL_START = re.compile(
    r"\s*\(?\s*(select|insert|update|delete|create|drop|alter|truncate|copy|analyze|merge|grant|revoke|with)\s",
    re.IGNORECASE,
)
SINK_METHODS = {"execute": 0, "executemany": 0, "copy": 0, "sql": 0}
"""Method calls that run SQL, and the position of the SQL argument (a call without arguments is no sink)."""
SINK_FUNCTIONS = {"read_query": 2}
VALIDATORS = {"int", "float", "_checked_int", "Identifier", "Literal", "Placeholder", "isoformat"}
"""Calls whose result is safe in SQL: numbers, and psycopg.sql's quoting composables."""
REVIEWED = {
    (
        "c360/export/dashboard.py",
        "chart.sql",
    ): "every Chart's sql is a module-level SQL constant (checked below)",
    ("spark_jobs/common/jdbc.py", "query"): "read_query wraps its caller's query; the callers are checked",
}
"""Interpolations a reviewer has read, each with the reason it is safe."""
CONSTANT_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


class _Module:
    def __init__(self, path: str, source: str, modules: dict[str, _Module]) -> None:
        self.path, self.tree, self.modules = path, ast.parse(source), modules
        self.dotted = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        self.assigned: dict[str, list[ast.expr]] = {}
        self.imported: dict[str, tuple[str, str]] = {}
        self.functions = {
            node.name: node
            for node in self.tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        for node in self.tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = (node.module, alias.name)

    def constant(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        if not CONSTANT_NAME.fullmatch(name) or name in seen:
            return False
        if name in self.assigned:
            return all(self.literal(value, None, seen | {name}) for value in self.assigned[name])
        if name in self.imported:
            module, original = self.imported[name]
            other = self.modules.get(module)
            return other is not None and other.constant(original, seen)
        return False

    def literal(self, node: ast.expr, scope: dict[str, list[ast.expr]] | None, seen: frozenset[str]) -> bool:
        """Whether ``node`` holds only constants, module constants, validated values or composed SQL."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            if scope is not None and node.id in scope:
                if node.id in seen:
                    return False
                return all(self.literal(value, scope, seen | {node.id}) for value in scope[node.id])
            return self.constant(node.id, seen)
        if isinstance(node, ast.JoinedStr):
            return all(
                self.literal(part.value if isinstance(part, ast.FormattedValue) else part, scope, seen)
                for part in node.values
            )
        if isinstance(node, ast.FormattedValue):
            return self.literal(node.value, scope, seen)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return all(self.literal(e, scope, seen) for e in node.elts)
        if isinstance(node, ast.BinOp):
            return self.literal(node.left, scope, seen) and self.literal(node.right, scope, seen)
        if isinstance(node, ast.IfExp):
            return self.literal(node.body, scope, seen) and self.literal(node.orelse, scope, seen)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in VALIDATORS:
                return True
            if name == "join" and isinstance(func, ast.Attribute):  # ", ".join(COLUMNS)
                return self.literal(func.value, scope, seen) and all(
                    self.literal(a, scope, seen) for a in node.args
                )
            if name == "format" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
                inner = func.value.func  # psycopg: sql.SQL("...").format(sql.Identifier(x))
                if getattr(inner, "attr", getattr(inner, "id", "")) == "SQL":
                    return all(self.literal(a, scope, seen) for a in node.args)
            if name == "SQL":
                return all(isinstance(a, ast.Constant) for a in node.args)
            if isinstance(func, ast.Name) and func.id in self.functions:  # a local SQL builder
                return self.returns_literal(self.functions[func.id], seen | {func.id})
        return False

    def returns_literal(self, function: ast.FunctionDef | ast.AsyncFunctionDef, seen: frozenset[str]) -> bool:
        if function.name in seen - {function.name} or not function.body:
            return False
        scope = _local_assignments(function)
        returns = [n.value for n in ast.walk(function) if isinstance(n, ast.Return) and n.value is not None]
        return bool(returns) and all(self.literal(value, scope, seen) for value in returns)


def _local_assignments(function: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value a function assigns to each local name (tuple unpacking of a tuple value included); its
    parameters count as unsafe unless the body reassigns them (the ``x = _checked_int(x)`` pattern)."""
    scope: dict[str, list[ast.expr]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    scope.setdefault(target.id, []).append(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for name, value in zip(target.elts, node.value.elts, strict=False):
                        if isinstance(name, ast.Name):
                            scope.setdefault(name.id, []).append(value)
                elif isinstance(target, ast.Tuple):
                    for name in target.elts:
                        if isinstance(name, ast.Name):
                            scope.setdefault(name.id, []).append(ast.Name(id=f"<unpacked {name.id}>"))
        elif isinstance(node, ast.For | ast.comprehension | ast.With | ast.AnnAssign | ast.AugAssign):
            targets = (
                [node.target]
                if isinstance(node, ast.For | ast.comprehension | ast.AnnAssign | ast.AugAssign)
                else [item.optional_vars for item in node.items if item.optional_vars is not None]
            )
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        scope.setdefault(name.id, []).append(ast.Name(id=f"<bound {name.id}>"))
    if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        for arg in [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]:
            if arg.arg not in scope:
                scope[arg.arg] = [ast.Name(id=f"<parameter {arg.arg}>")]
    return scope


def _enclosing_scopes(tree: ast.AST) -> dict[ast.AST, dict[str, list[ast.expr]]]:
    """For every node inside a function, the local assignments of its innermost function."""
    scopes: dict[ast.AST, dict[str, list[ast.expr]]] = {}

    def visit(node: ast.AST, scope: dict[str, list[ast.expr]] | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = _local_assignments(node)
            scope = {**(scope or {}), **inner}
        if scope is not None:
            scopes[node] = scope
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(tree, None)
    return scopes


def _sql_text(node: ast.expr) -> str | None:
    """The literal text of a formatted string (placeholders for its values), when it is one."""
    if isinstance(node, ast.JoinedStr):
        return "".join(p.value if isinstance(p, ast.Constant) else "\x00" for p in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        return str(node.left.value)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return node.func.value.value
    return None


def sql_violations(sources: dict[str, str]) -> list[str]:
    """``path:line: expression`` for every SQL text that interpolates a value that is neither a constant nor
    validated, and every SQL-running call given such a text."""
    modules: dict[str, _Module] = {}
    for path, source in sources.items():
        module = _Module(path, source, modules)
        modules[module.dotted] = module
    problems = []
    for module in modules.values():
        scopes = _enclosing_scopes(module.tree)

        def check(node: ast.expr, where: ast.AST, module: _Module = module, scopes: dict = scopes) -> None:
            if module.literal(node, scopes.get(where), frozenset()):
                return
            text = ast.unparse(node)
            for (path, expression), _reason in REVIEWED.items():
                if path == module.path and (text == expression or f"{{{expression}}}" in text):
                    return
            problems.append(f"{module.path}:{node.lineno}: {text}")

        for node in ast.walk(module.tree):
            if isinstance(node, ast.JoinedStr | ast.BinOp | ast.Call):
                text = _sql_text(node)
                if text is not None and SQL_START.match(text):
                    check(node, node)
            if isinstance(node, ast.Call):
                func = node.func
                position = None
                if isinstance(func, ast.Attribute) and func.attr in SINK_METHODS and node.args:
                    position = SINK_METHODS[func.attr]
                elif isinstance(func, ast.Name) and func.id in SINK_FUNCTIONS:
                    position = SINK_FUNCTIONS[func.id]
                elif (
                    isinstance(func, ast.Attribute)
                    and func.attr == "option"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value == "dbtable"
                ):
                    position = 1
                if position is not None and len(node.args) > position:
                    check(node.args[position], node)
    return sorted(set(problems))


def _our_sources() -> dict[str, str]:
    files = [
        p for folder in ("c360", "ingestion", "spark_jobs") for p in sorted((REPO / folder).rglob("*.py"))
    ]
    return {str(p.relative_to(REPO)): p.read_text() for p in files}


def test_sql_is_built_from_constants_and_validated_values_only() -> None:
    sources = _our_sources()
    assert len(sources) > 30
    assert sql_violations(sources) == []


def test_every_dashboard_chart_runs_a_module_level_sql_constant() -> None:
    """The reviewed exception above: ``chart.sql`` is always one of the module's SQL constants."""
    path = "c360/export/dashboard.py"
    module = _Module(path, (REPO / path).read_text(), {})
    charts = [
        node
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Chart"
    ]
    assert len(charts) >= 5
    for chart in charts:
        sql = next(k.value for k in chart.keywords if k.arg == "sql")
        assert isinstance(sql, ast.Name) and module.constant(sql.id), ast.unparse(chart)


@pytest.mark.parametrize(
    "snippet",
    [
        "def f(conn, client_id):\n    conn.execute(f'select * from t where id = {client_id}')\n",
        "def f(conn, day):\n    conn.execute('select * from t where day = %s' % day)\n",
        "def f(conn, table):\n    q = 'drop table {}'.format(table)\n    conn.execute(q)\n",
        "def f(conn, name):\n    sql = 'select 1 from ' + name\n    conn.execute(sql)\n",
        "def f(spark, src, where):\n    return read_query(spark, src, f'select a from T where {where}')\n",
        "def f(con, info):\n    con.execute(f'create database \"{info.database}\"')\n",
        "TABLE = input()\ndef f(conn):\n    conn.execute(f'truncate {TABLE}')\n",
    ],
)
def test_the_sql_scan_flags_interpolated_untrusted_values(snippet: str) -> None:
    assert sql_violations({"c360/probe.py": snippet}), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "TABLE = 'public.t'\nCOLS = ('a', 'b')\n"
        "def f(conn):\n    conn.execute(f\"select {', '.join(COLS)} from {TABLE}\")\n",
        "def f(conn, after):\n    after = _checked_int(after)\n    conn.execute(f'select 1 from t where id > {after}')\n",
        "def f(conn, cid):\n    conn.execute('select * from t where id = %s', (cid,))\n",
        "from psycopg import sql\n"
        "def f(conn, n):\n    conn.execute(sql.SQL('create database {}').format(sql.Identifier(n)))\n",
    ],
)
def test_the_sql_scan_accepts_parameters_constants_and_validated_values(snippet: str) -> None:
    assert sql_violations({"c360/probe.py": snippet}) == []


INJECTIONS = [
    "1; drop table x",
    "' or 1=1 --",
    "1 or 1=1",
    "1'; drop table customers; --",
    "1)--",
    "1/**/or/**/1=1",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_the_cli_rejects_injection_in_day_and_lake(
    payload: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, output = _cli(capfd, "generate", "--lake", str(tmp_path / "lake"), "--day", payload)
    assert code == 1 and "--day must be a date as YYYY-MM-DD" in output, output
    code, output = _cli(capfd, "audit", "--lake", f"{tmp_path}/lake{payload}")
    if any(c in payload for c in "';"):
        assert code == 1 and "not allowed in a lake path" in output, output


@pytest.mark.parametrize("lake", ["/tmp/lake'); drop table t; --", 's3://bucket/x"', "/tmp/a;b", "/tmp/a\nb"])
def test_a_lake_root_that_would_break_out_of_sql_is_refused(
    lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="not allowed in a lake path"):
        normalize_lake(lake)
    monkeypatch.setenv("C360_LAKE", lake)
    with pytest.raises(ValueError, match="not allowed in a lake path"):
        Settings()
    with pytest.raises(JobArgumentError, match="not allowed in a location"):
        parse_job_args(["--JOB_NAME", "x", "--lake", lake], required=[])
    with pytest.raises(JobArgumentError, match="not allowed in a location"):
        parse_job_args([f"--stage_uri={lake}"], required=[])


def test_ordinary_lake_roots_are_accepted() -> None:
    assert normalize_lake("s3://c360-lake-123/prod/") == "s3://c360-lake-123/prod"
    assert normalize_lake("/tmp/My Lake-1.0") == "/tmp/My Lake-1.0"
    assert (
        parse_job_args(["--lake", "s3://b/p", "--JOB_NAME", "it's fine"], required=["lake"])["lake"]
        == "s3://b/p"
    )


@pytest.mark.parametrize("payload", ["1; drop table x", "' or 1=1 --", -1, True, 1.5, "10"])
def test_the_transactions_sql_builders_take_integers_only(payload: Any) -> None:
    from spark_jobs.stage_transactions import bounds_query, extract_query

    with pytest.raises(ValueError, match="non-negative integer"):
        bounds_query(payload)
    with pytest.raises(ValueError, match="non-negative integer"):
        extract_query(0, payload)


# --- 3 and 4. the lookup API validates its input -----------------------------------------------------------------
class RecordingStore:
    """A profile store that records what reaches it: a rejected request must not."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def get(self, client_id: int) -> dict[str, Any] | None:
        self.calls.append(("get", client_id))
        return {"client_id": client_id} if client_id == 7 else None

    def by_district(self, district_id: int, limit: int, start_key: Any) -> tuple[list[dict[str, Any]], Any]:
        self.calls.append(("by_district", district_id, limit, start_key))
        return [{"client_id": 7, "district_id": district_id}], None


def _handle(path: str, query: dict[str, str] | None = None) -> tuple[api.Response, RecordingStore]:
    store = RecordingStore()
    return api.LookupApi(store).handle("GET", path, query or {}), store


BAD_IDS = [
    *INJECTIONS,
    "1" * 20,  # past 19 digits
    "9" * 19,  # 19 digits, past 2**63 - 1
    "1" * 5000,  # overlong
    "\u0661\u0662\u0663",  # Arabic-Indic digits 123
    "\uff11\uff12\uff13",  # fullwidth digits 123
    "²",  # superscript two
    "-1",
    "+1",
    " 1",
    "1 ",
    "0x10",
    "1_000",
    "1e3",
    "",
    "1\x00",
    "1\r\nSet-Cookie: a=b",
]


@pytest.mark.parametrize("raw", BAD_IDS)
def test_a_malformed_client_or_branch_id_is_400_and_reaches_no_store(raw: str) -> None:
    response, store = _handle(f"/customers/{raw}")
    expected = "no such resource" if "/" in raw else "client_id must be a non-negative integer"
    assert response.status in (400, 404) and expected in response.body["error"], response
    assert len(response.body["error"]) < 200 and store.calls == []
    response, store = _handle(f"/branches/{raw}/customers")
    assert response.status in (400, 404) and store.calls == []


@pytest.mark.parametrize(
    "limit",
    ["1000000", "101", "0", "-1", "1e9", "\u0661\u0660", "10; drop table x", "' or 1=1 --", "9" * 500, " 10"],
)
def test_a_huge_or_malformed_page_size_is_400(limit: str) -> None:
    response, store = _handle("/branches/5/customers", {"limit": limit})
    assert response.status == 400 and "limit must be an integer between 1 and 100" in response.body["error"]
    assert store.calls == []


@pytest.mark.parametrize(
    "token", ["' or 1=1 --", "x" * 100_000, "\u0663", api.encode_token({"client_id": {"N": "1; x"}})]
)
def test_a_forged_page_token_is_400(token: str) -> None:
    response, store = _handle("/branches/5/customers", {"next_token": token})
    assert (
        response.status == 400 and "next_token is not valid" in response.body["error"] and store.calls == []
    )


def test_valid_requests_reach_the_store_with_integers() -> None:
    response, store = _handle("/customers/0007")
    assert response.status == 200 and store.calls == [("get", 7)]
    response, store = _handle("/branches/5/customers", {"limit": "100"})
    assert response.status == 200 and store.calls == [("by_district", 5, 100, None)]


def test_lambda_events_with_injected_ids_or_header_text_get_a_clean_400() -> None:
    api_ = api.LookupApi(RecordingStore())
    for raw in [
        "1%0d%0aSet-Cookie:%20a=b",
        "%D9%A1%D9%A2",
        "1%3B%20drop%20table%20x",
        "1%27%20or%201=1%20--",
    ]:
        event = {
            "version": "2.0",
            "rawPath": f"/customers/{raw}",
            "requestContext": {"http": {"method": "GET"}, "stage": "$default"},
        }
        reply = api_.handle_event(event)
        assert reply["statusCode"] == 400, raw
        assert set(reply["headers"]) == {"Content-Type", "Cache-Control"}
        assert not any(c in "".join(reply["headers"].values()) for c in "\r\n")
    assert api_.store.calls == []  # type: ignore[attr-defined]


@pytest.fixture
def raw_server() -> Iterator[tuple[str, int]]:
    handler = type("ProbeHandler", (api._Handler,), {"api": api.LookupApi(RecordingStore())})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _raw_request(address: tuple[str, int], request: bytes) -> tuple[str, list[str], str]:
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.decode("latin-1").partition("\r\n\r\n")
    status, *headers = head.split("\r\n")
    return status, headers, body


@pytest.mark.parametrize(
    "target",
    [
        b"/customers/1%0d%0aSet-Cookie:%20injected=1",
        b"/customers/7%0aSet-Cookie:%20injected=1",
        b"/branches/5/customers?limit=3%0d%0aSet-Cookie:%20injected=1",
        b"/customers/%E2%80%A8Set-Cookie:%20injected=1",
    ],
)
def test_header_injection_over_http_gets_a_400_without_injected_headers(
    raw_server: tuple[str, int], target: bytes
) -> None:
    status, headers, body = _raw_request(
        raw_server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status.startswith("HTTP/1.0 400") or status.startswith("HTTP/1.1 400"), status
    assert not any(h.lower().startswith("set-cookie") for h in headers), headers
    assert json.loads(body)["status"] == 400


def test_raw_crlf_in_the_request_line_or_a_header_never_reaches_the_response_headers(
    raw_server: tuple[str, int],
) -> None:
    status, headers, _ = _raw_request(
        raw_server,
        b"GET /customers/7\rSet-Cookie: injected=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert not any(h.lower().startswith("set-cookie") for h in headers), (status, headers)
    status, headers, body = _raw_request(
        raw_server,
        b"GET /customers/7 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: a\r\n b\r\nConnection: close\r\n\r\n",
    )
    assert not any(h.lower().startswith(("set-cookie", "x-forwarded")) for h in headers), headers
    assert status.endswith("200 OK") and json.loads(body) == {"client_id": 7}


def test_an_overlong_request_line_is_a_json_414(raw_server: tuple[str, int]) -> None:
    status, _, body = _raw_request(
        raw_server, b"GET /customers/" + b"1" * 70_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert " 414 " in status and json.loads(body)["status"] == 414


# --- 5. PII stays out of every export ----------------------------------------------------------------------------
def pii_columns() -> dict[str, set[str]]:
    """Column name -> the models/sources tagging it ``meta: {pii: true}`` (or ``config: {meta: ...}``) in
    ``models/**/*.yml``."""
    tagged: dict[str, set[str]] = {}
    for path in sorted((REPO / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        owners = [*document.get("models", [])]
        for source in document.get("sources", []):
            owners += source.get("tables", [])
        for owner in owners:
            for column in owner.get("columns") or []:
                meta = {**((column.get("config") or {}).get("meta") or {}), **(column.get("meta") or {})}
                if meta.get("pii") is True:
                    tagged.setdefault(column["name"].lower(), set()).add(owner["name"])
    return tagged


def model_columns(name: str) -> list[str]:
    for path in sorted((REPO / "models").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            if model["name"] == name:
                return [c["name"] for c in model.get("columns") or []]
    raise AssertionError(f"no model {name} in models/**/*.yml")


def test_pii_columns_are_read_from_the_dbt_yaml() -> None:
    pii = pii_columns()
    assert {"email", "phone", "birth_date", "street_address", "first_name", "last_name"} <= set(pii), pii


def test_dynamodb_items_and_api_profiles_carry_no_pii_column() -> None:
    pii = set(pii_columns())
    row: dict[str, Any] = dict.fromkeys(model_columns("customer_360"), "x") | dict.fromkeys(pii, "pii-probe")
    row["client_id"] = 7
    item = to_item(row)
    assert not set(item) & pii, set(item) & pii
    assert "pii-probe" not in json.dumps(item)
    served = api.to_profile({**item, **{name: {"S": "pii-probe"} for name in pii}})
    assert not set(served) & pii and "pii-probe" not in json.dumps(served)


def test_the_dashboard_reads_no_pii_column(tmp_path: Path) -> None:
    pii = set(pii_columns())
    for mart, columns in MART_COLUMNS.items():
        assert not set(columns) & pii, (mart, set(columns) & pii)
    lake = Lake(str(tmp_path / "lake"))
    lake.ensure_zones()
    folder = Path(lake.uri("analytics", CUSTOMERS))
    folder.mkdir(parents=True, exist_ok=True)
    columns = {"client_id": [1, 2]} | {name: ["pii-probe", "pii-probe"] for name in sorted(pii)}
    pq.write_table(pa.table(columns), folder / "part-0.parquet")
    mart = read_mart(lake, CUSTOMERS)
    assert mart.table is not None and not set(mart.table.column_names) & pii


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dbt manifest of this project (``dbt parse`` offline, DuckDB target)."""
    target = tmp_path_factory.mktemp("pii-target")
    env = {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith("AWS_")},
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
    }
    dbt = str(Path(sys.executable).parent / "dbt")
    result = subprocess.run(
        [dbt, "parse", "--no-populate-cache"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((target / "manifest.json").read_text())


QS_CONFIG = QuickSightConfig(
    account_id="123456789012",
    principal_arn="arn:aws:quicksight:us-east-1:123456789012:group/default/c360-analysts",
    glue_database="c360_marts",
)


def test_quicksight_datasets_carry_no_pii_column(manifest: dict[str, Any]) -> None:
    pii = set(pii_columns())
    requests = build_requests(manifest, QS_CONFIG)
    assert requests.data_sets
    for plan in requests.data_sets:
        for table in plan.request["PhysicalTableMap"].values():
            names = {c["Name"].lower() for c in table["RelationalTable"]["InputColumns"]}
            assert names and not names & pii, (plan.model, names & pii)


def test_a_column_tagged_pii_in_an_exposed_mart_is_left_out_of_quicksight(manifest: dict[str, Any]) -> None:
    """A new PII column (not one of the known direct identifiers) is kept out by its tag alone."""
    node = manifest["nodes"]["model.c360.customer_360"]
    node["columns"]["national_id"] = {"name": "national_id", "data_type": "varchar", "meta": {"pii": True}}
    node["columns"]["tax_ref"] = {
        "name": "tax_ref",
        "data_type": "varchar",
        "config": {"meta": {"pii": True}},
    }
    plans = {plan.model: plan for plan in build_requests(manifest, QS_CONFIG).data_sets}
    plan = plans["customer_360"]
    names = {
        c["Name"]
        for t in plan.request["PhysicalTableMap"].values()
        for c in t["RelationalTable"]["InputColumns"]
    }
    assert {"national_id", "tax_ref"} <= set(plan.excluded_columns) and not {"national_id", "tax_ref"} & names
