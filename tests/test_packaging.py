"""``make package``: the Lambda zips, the dependency layer, the Glue script and library layout and the runner
source, built offline from a folder of stand-in wheels; reproducible, and what the rendered template references."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from c360 import packaging
from c360.packaging import Manifest, PackagingError, deterministic_zip, package, pinned_requirements

REPO = Path(__file__).resolve().parent.parent


def make_wheel(
    folder: Path, name: str, version: str, requires: tuple[str, ...] = (), extras: tuple[str, ...] = ()
) -> None:
    """A minimal pure-Python wheel ``name`` (an importable package of the same name) that pip installs offline."""
    dist = name.replace("-", "_")
    files = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist}-{version}.dist-info/METADATA": "\n".join(
            ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
            + [f"Provides-Extra: {extra}" for extra in extras]
            + [f"Requires-Dist: {req}" for req in requires]
        ).encode()
        + b"\n",
        f"{dist}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record_name = f"{dist}-{version}.dist-info/RECORD"
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    files[record_name] = ("\n".join(lines) + "\n").encode()
    with zipfile.ZipFile(folder / f"{dist}-{version}-py3-none-any.whl", "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stand-ins for the pinned layer dependencies, at the pinned versions (no network in tests)."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    pins = dict(line.split("==") for line in pinned_requirements(REPO / "pyproject.toml"))
    for name, version in pins.items():
        base = name.split("[")[0]
        if base == "psycopg":
            make_wheel(
                folder,
                "psycopg",
                version,
                requires=(f'psycopg-binary=={version}; extra == "binary"',),
                extras=("binary",),
            )
            make_wheel(folder, "psycopg-binary", version)
        else:
            make_wheel(folder, base, version)
    return folder


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sources that packaging reads, so the builds compared here see the same files."""
    root = tmp_path_factory.mktemp("repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in packaging.RUNNER_FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, root / name)
    for name in packaging.RUNNER_DIRS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, root / name, ignore=ignore)
    return root


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, snapshot: Path, wheelhouse: Path
) -> tuple[Path, Manifest]:
    dist = tmp_path_factory.mktemp("dist")
    return dist, package(snapshot, dist, wheelhouse)


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_every_artifact_is_built_and_listed_in_the_manifest(built: tuple[Path, Manifest]) -> None:
    dist, manifest = built
    artifacts = dist / "artifacts"
    written = json.loads((dist / "manifest.json").read_text())
    assert written["lambda_code"] == manifest.lambda_code
    keys = [
        manifest.lambda_code,
        manifest.lambda_layer,
        manifest.glue_library,
        manifest.runner_source,
        *manifest.glue_scripts.values(),
    ]
    for key in keys:
        assert (artifacts / key).is_file(), key
    on_disk = sorted(p.relative_to(artifacts).as_posix() for p in artifacts.rglob("*") if p.is_file())
    assert on_disk == sorted(keys), "dist/artifacts holds exactly what the manifest lists"
    assert manifest.lambda_runtime == f"python{packaging.LAMBDA_PYTHON}"


def test_lambda_code_zip_has_the_project_packages_and_no_caches(built: tuple[Path, Manifest]) -> None:
    dist, manifest = built
    entries = names(dist / "artifacts" / manifest.lambda_code)
    for required in (
        "ingestion/__init__.py",
        "ingestion/crm.py",
        "ingestion/common.py",
        "c360/__init__.py",
        "c360/settings.py",
        "c360/storage.py",
        "c360/export/dynamodb.py",
    ):
        assert required in entries
    assert not [e for e in entries if "__pycache__" in e or e.endswith(".pyc")]
    assert {e.split("/")[0] for e in entries} == set(packaging.LAMBDA_PACKAGES)


def test_layer_holds_the_pinned_dependencies_under_python(built: tuple[Path, Manifest]) -> None:
    dist, manifest = built
    entries = names(dist / "artifacts" / manifest.lambda_layer)
    assert all(e.startswith("python/") for e in entries)
    for module in ("numpy", "pyarrow", "faker", "psycopg", "psycopg_binary"):
        assert f"python/{module}/__init__.py" in entries, module
    assert manifest.layer_requirements == pinned_requirements(REPO / "pyproject.toml")


def test_glue_layout_has_every_stage_script_and_the_library(
    built: tuple[Path, Manifest], snapshot: Path, tmp_path: Path
) -> None:
    dist, manifest = built
    scripts = sorted(p.stem for p in (snapshot / "spark_jobs").glob("stage_*.py"))
    assert sorted(manifest.glue_scripts) == scripts
    for name, key in manifest.glue_scripts.items():
        assert key.endswith(f"/scripts/{name}.py")
        assert (dist / "artifacts" / key).read_bytes() == (
            snapshot / "spark_jobs" / f"{name}.py"
        ).read_bytes()
    library = dist / "artifacts" / manifest.glue_library
    entries = names(library)
    assert "ingestion/copybooks/__init__.py" in entries and "ingestion/copybooks/account.cpy" in entries
    assert "spark_jobs/__init__.py" in entries and "spark_jobs/common/args.py" in entries
    # Glue puts --extra-py-files on sys.path: the shared modules import from the zip alone (no site-packages).
    probe = (
        f"import sys; sys.path.insert(0, {str(library)!r}); import spark_jobs.common.args as a; "
        "print(a.__file__); print(a.parse_job_args(['--raw_uri', 's3://b/raw'], required=['raw_uri'])); "
        "import spark_jobs.common.code_version as v; print(v.__file__); print(v.stage_code_fingerprint('ga_sessions'))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    assert str(library) in result.stdout and "s3://b/raw" in result.stdout
    # The version of the stage code that incremental jobs record is the same from the zip as from the sources.
    module, fingerprint = result.stdout.splitlines()[-2:]
    assert module.startswith(str(library))
    from_sources = (
        f"import sys; sys.path.insert(0, {str(snapshot)!r}); import spark_jobs.common.code_version as v; "
        "print(v.__file__); print(v.stage_code_fingerprint('ga_sessions'))"
    )
    checkout = subprocess.run(
        [sys.executable, "-S", "-c", from_sources], capture_output=True, text=True, cwd=tmp_path, check=True
    ).stdout.splitlines()
    assert checkout[0].startswith(str(snapshot)) and checkout[1] == fingerprint


def test_runner_source_is_an_installable_dbt_project(built: tuple[Path, Manifest]) -> None:
    dist, manifest = built
    entries = names(dist / "artifacts" / manifest.runner_source)
    for required in (
        "pyproject.toml",
        "README.md",
        "dbt_project.yml",
        "profiles.yml",
        "c360/cli.py",
        "spark_jobs/__init__.py",
        "ingestion/__init__.py",
    ):
        assert required in entries
    assert any(e.startswith("models/") for e in entries)
    assert not [e for e in entries if e.startswith(("lake/", "target/", ".venv", "dist/"))]


def test_packaging_is_reproducible(
    built: tuple[Path, Manifest], snapshot: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    dist, manifest = built
    again = package(snapshot, tmp_path, wheelhouse)
    assert again == manifest
    for key in (manifest.lambda_code, manifest.lambda_layer, manifest.glue_library, manifest.runner_source):
        assert (tmp_path / "artifacts" / key).read_bytes() == (dist / "artifacts" / key).read_bytes()


def test_archive_names_follow_their_content(tmp_path: Path) -> None:
    one, two = tmp_path / "a.py", tmp_path / "b.py"
    one.write_text("x = 1\n")
    two.write_text("x = 2\n")
    first = deterministic_zip([("m.py", one)])
    assert deterministic_zip([("m.py", one)]) == first
    assert packaging.short_hash(deterministic_zip([("m.py", two)])) != packaging.short_hash(first)
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.infolist()[0].date_time == packaging.ZIP_EPOCH


def test_pins_come_from_pyproject(tmp_path: Path) -> None:
    assert pinned_requirements(REPO / "pyproject.toml") == [
        "numpy==2.4.6",
        "pyarrow==26.0.1",
        "faker==40.63.0",
        "psycopg[binary]==3.3.9",
    ]
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["numpy>=2", "pyarrow==26.0.1"]\n')
    with pytest.raises(PackagingError, match="numpy"):
        pinned_requirements(pyproject, ("numpy", "pyarrow"))


def test_pip_targets_lambda_python_and_platform(tmp_path: Path) -> None:
    command = packaging.pip_install_command(["numpy==2.4.6"], tmp_path, None)
    assert command[command.index("--python-version") + 1] == packaging.LAMBDA_PYTHON
    assert "--only-binary=:all:" in command and "manylinux_2_28_x86_64" in command
    assert "--no-index" not in command
    assert "--no-index" in packaging.pip_install_command(["numpy==2.4.6"], tmp_path, tmp_path)


def test_an_unavailable_dependency_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    with pytest.raises(PackagingError, match="pip could not install the Lambda layer"):
        package(REPO, tmp_path / "dist", empty)


def test_a_layer_over_lambdas_limit_fails(
    wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packaging, "LAMBDA_UNZIPPED_LIMIT", 1000)
    with pytest.raises(PackagingError, match="250 MiB"):
        package(REPO, tmp_path, wheelhouse)


def test_rendered_template_references_the_built_artifacts(
    built: tuple[Path, Manifest], snapshot: Path
) -> None:
    from infra.discover import Repo
    from infra.model import Artifacts, Build
    from infra.template import build_template

    dist, manifest = built
    template = build_template(
        Build.from_repo(Repo(snapshot), Artifacts.from_manifest(dist / "manifest.json"))
    )
    referenced = set()
    for resource in template["Resources"].values():
        for value in _strings(resource):
            if "${ArtifactPrefix}" in value:
                # the key ends at the first space (EMR's sparkSubmitParameters carry more options after it)
                referenced.add(value.split("${ArtifactPrefix}", 1)[1].split()[0])
    patterns = {key for key in referenced if key.endswith("*")}  # IAM resources: the role may read below them
    referenced -= patterns
    assert referenced, "the template references packaged artifacts"
    for pattern in patterns:
        assert any(key.startswith(pattern.rstrip("*")) for key in referenced), pattern
    missing = [key for key in referenced if not (dist / "artifacts" / key).is_file()]
    assert not missing, f"the template references artifacts that make package did not build: {missing}"
    assert manifest.lambda_code in referenced and manifest.glue_library in referenced


def test_make_package_builds_dist(wheelhouse: Path, tmp_path: Path) -> None:
    """The Makefile target a user runs (the venv prerequisite is taken as up to date here)."""
    env = {**os.environ, "C360_WHEELHOUSE": str(wheelhouse)}
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "package", f"DIST={tmp_path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "manifest.json").is_file()
    assert (tmp_path / "infra" / "c360.yaml").is_file()
    assert (tmp_path / "infra" / "bootstrap.yaml").is_file()


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
