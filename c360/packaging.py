"""``make package``: build what the AWS deployment runs, under ``dist/``, reproducibly.

```
dist/
  artifacts/                                   uploaded as is to s3://<ArtifactBucket>/<ArtifactPrefix>
    lambda/c360-code-<hash>.zip                the packages ingestion/ and c360/ (every Lambda handler)
    lambda/c360-dependencies-<hash>.zip        a layer: python/<the pinned third-party packages, for Lambda>
    glue/<hash>/scripts/stage_<source>.py      each stage script: the Glue (and EMR Serverless) entry point
    glue/<hash>/lib/c360_spark_jobs.zip        the spark_jobs package: Glue's --extra-py-files, EMR's --py-files
    runner/c360-source-<hash>.zip              the project for the dbt runner (pip install ., dbt build)
  manifest.json                                the keys above, read by ``python -m infra`` to render the template
  cache/                                       dependency layers already built (keyed by their requirements)
```

Every archive has sorted entries, fixed timestamps and permissions, so the same sources give the same bytes and
the same names: a key changes exactly when its content does, which is what makes CloudFormation update a function.
The dependency layer is installed by pip for Lambda's platform (CPython 3.12, manylinux x86_64) from the versions
pinned in ``pyproject.toml``; ``--wheelhouse DIR`` (or ``C360_WHEELHOUSE``) installs from a local folder of wheels
instead of PyPI.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from c360.errors import C360Error

REPO_ROOT = Path(__file__).resolve().parent.parent

LAMBDA_PACKAGES = ("c360", "ingestion")
"""The project packages every Lambda function gets (one code zip; the handler picks the function)."""
LAMBDA_DEPENDENCIES = ("numpy", "pyarrow", "faker", "psycopg")
"""The third-party packages the handlers import, at the versions pinned in pyproject.toml (boto3 and botocore come
with the Lambda runtime)."""
LAMBDA_PYTHON = "3.12"
"""Lambda's python3.12 runtime (Amazon Linux 2023, glibc 2.34): the pinned numpy and pyarrow ship manylinux_2_28
wheels only, which python3.11's Amazon Linux 2 (glibc 2.26) cannot load. See infra/spec.py: LAMBDA_RUNTIME."""
LAMBDA_PLATFORMS = (
    "manylinux_2_34_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
"""Lambda's limit on a function's code and layers, unzipped."""
LAYER_PRUNE = (
    "**/__pycache__",
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/tests",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.*.so",
    "pyarrow/_pyarrow_cpp_tests.*.so",
    "pyarrow/*.pxd",
    "pyarrow/*.pyx",
    "numpy/*/tests",
    "numpy/tests",
    "faker/sphinx",
    "bin",
)
"""What the handlers never load (headers, tests, Arrow Flight, console scripts): pruned to stay under the limit.
(Arrow's Substrait library stays: ``pyarrow.lib`` links it.)"""

GLUE_PACKAGE = "spark_jobs"
RUNNER_FILES = ("pyproject.toml", "README.md", "dbt_project.yml", "profiles.yml", "packages.yml", ".sqlfluff")
RUNNER_DIRS = (
    "c360",
    "ingestion",
    "spark_jobs",
    "models",
    "macros",
    "seeds",
    "snapshots",
    "data_tests",
    "analyses",
)
EXCLUDED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackagingError(C360Error):
    """A package could not be built (a missing pin, pip failing, a layer over Lambda's size limit...)."""


@dataclass(frozen=True)
class Manifest:
    """What was built, as keys below ``dist/artifacts`` (= below the stack's ArtifactPrefix)."""

    lambda_code: str
    lambda_layer: str
    glue_library: str
    glue_scripts: dict[str, str]
    runner_source: str
    lambda_runtime: str = f"python{LAMBDA_PYTHON}"
    layer_requirements: list[str] = field(default_factory=list)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --- deterministic archives ----------------------------------------------------------------------------------


def _included(path: Path) -> bool:
    return not (EXCLUDED_PARTS & set(path.parts)) and not path.name.endswith(EXCLUDED_SUFFIXES)


def tree_files(root: Path, package: str) -> Iterator[tuple[str, Path]]:
    """``(archive name, file)`` for every file of ``root/package``, caches excluded, sorted."""
    base = root / package
    if not base.is_dir():
        raise PackagingError(f"{base} does not exist: run `make package` from the repository root")
    for path in sorted(base.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and _included(relative):
            yield relative.as_posix(), path


def deterministic_zip(entries: Iterable[tuple[str, Path | bytes]]) -> bytes:
    """A zip of ``(name, file or bytes)``: sorted names, fixed timestamps and permissions, so same input, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, source in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = isinstance(source, Path) and os.access(source, os.X_OK) and name.endswith(".so")
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            data = source.read_bytes() if isinstance(source, Path) else source
            archive.writestr(info, data)
    return buffer.getvalue()


def short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _write(artifacts: Path, key: str, data: bytes) -> str:
    target = artifacts / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return key


# --- the pieces ------------------------------------------------------------------------------------------------


def build_lambda_code(repo: Path, artifacts: Path) -> str:
    data = deterministic_zip(entry for package in LAMBDA_PACKAGES for entry in tree_files(repo, package))
    return _write(artifacts, f"lambda/c360-code-{short_hash(data)}.zip", data)


def pinned_requirements(pyproject: Path, names: Iterable[str] = LAMBDA_DEPENDENCIES) -> list[str]:
    """The ``name[extras]==version`` lines of ``pyproject.toml``'s dependencies for ``names``."""
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    by_name = {}
    for spec in dependencies:
        match = re.match(r"^\s*([A-Za-z0-9._-]+)(\[[^\]]*\])?\s*==\s*([^\s;]+)\s*$", spec)
        if match:
            by_name[match.group(1).lower().replace("_", "-")] = spec.replace(" ", "")
    missing = [name for name in names if name.lower() not in by_name]
    if missing:
        raise PackagingError(
            f"{pyproject} pins no version (name==version) of {', '.join(missing)}: the Lambda layer needs exact pins"
        )
    return [by_name[name.lower()] for name in names]


def pip_install_command(requirements: list[str], target: Path, wheelhouse: Path | None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--abi",
        f"cp{LAMBDA_PYTHON.replace('.', '')}",
        "--abi",
        "abi3",
        "--abi",
        "none",
        "--only-binary=:all:",
    ]
    for platform in LAMBDA_PLATFORMS:
        command += ["--platform", platform]
    if wheelhouse is not None:
        command += ["--no-index", "--find-links", str(wheelhouse)]
    return [*command, *requirements]


def prune(site: Path, patterns: Iterable[str] = LAYER_PRUNE) -> None:
    for pattern in patterns:
        for path in sorted(site.glob(pattern), reverse=True):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def unzipped_size(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def build_lambda_layer(
    repo: Path, artifacts: Path, cache: Path, wheelhouse: Path | None = None
) -> tuple[str, list[str]]:
    """The dependency layer (``python/...``), from the cache when these requirements were built before."""
    requirements = pinned_requirements(repo / "pyproject.toml")
    identity = json.dumps(
        {
            "requirements": requirements,
            "python": LAMBDA_PYTHON,
            "platforms": LAMBDA_PLATFORMS,
            "prune": LAYER_PRUNE,
            "wheelhouse": bool(wheelhouse),
        },
        sort_keys=True,
    )
    name = f"c360-dependencies-{short_hash(identity.encode())}.zip"
    cached = cache / name
    if not cached.exists():
        with tempfile.TemporaryDirectory(prefix="c360-layer-") as tmp:
            site = Path(tmp) / "python"
            command = pip_install_command(requirements, site, wheelhouse)
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise PackagingError(
                    f"pip could not install the Lambda layer ({' '.join(requirements)}) for CPython {LAMBDA_PYTHON} "
                    f"on manylinux x86_64:\n{result.stderr.strip() or result.stdout.strip()}"
                )
            prune(site)
            data = deterministic_zip(
                (path.relative_to(tmp).as_posix(), path) for path in sorted(site.rglob("*")) if path.is_file()
            )
        cache.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    data = cached.read_bytes()
    return _write(artifacts, f"lambda/{name}", data), requirements


def build_glue(repo: Path, artifacts: Path) -> tuple[str, dict[str, str]]:
    """The library zip and the stage scripts, under one content hash."""
    # The stage jobs import the copybook parser (standard library only) to decode the mainframe extracts.
    library = deterministic_zip(
        [
            *tree_files(repo, GLUE_PACKAGE),
            ("ingestion/__init__.py", repo / "ingestion" / "__init__.py"),
            *tree_files(repo, "ingestion/copybooks"),
        ]
    )
    scripts = {path.stem: path.read_bytes() for path in sorted((repo / GLUE_PACKAGE).glob("stage_*.py"))}
    digest = short_hash(library + b"".join(name.encode() + body for name, body in scripts.items()))
    library_key = _write(artifacts, f"glue/{digest}/lib/c360_spark_jobs.zip", library)
    keys = {
        name: _write(artifacts, f"glue/{digest}/scripts/{name}.py", body) for name, body in scripts.items()
    }
    return library_key, keys


def build_runner_source(repo: Path, artifacts: Path) -> str:
    entries: list[tuple[str, Path]] = [
        (name, repo / name) for name in RUNNER_FILES if (repo / name).is_file()
    ]
    for directory in RUNNER_DIRS:
        if (repo / directory).is_dir():
            entries += list(tree_files(repo, directory))
    data = deterministic_zip(entries)
    return _write(artifacts, f"runner/c360-source-{short_hash(data)}.zip", data)


def package(repo: Path = REPO_ROOT, dist: Path | None = None, wheelhouse: Path | None = None) -> Manifest:
    """Build every artifact into ``dist/artifacts`` (replacing what was there) and write ``dist/manifest.json``."""
    dist = dist or repo / "dist"
    artifacts = dist / "artifacts"
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    code = build_lambda_code(repo, artifacts)
    layer, requirements = build_lambda_layer(repo, artifacts, dist / "cache", wheelhouse)
    total = unzipped_size((artifacts / code).read_bytes()) + unzipped_size((artifacts / layer).read_bytes())
    if total > LAMBDA_UNZIPPED_LIMIT:
        raise PackagingError(
            f"the Lambda code and layer unzip to {total / 2**20:.0f} MiB, over Lambda's 250 MiB limit: prune more "
            "in c360/packaging.py LAYER_PRUNE or drop a dependency from LAMBDA_DEPENDENCIES"
        )
    library, scripts = build_glue(repo, artifacts)
    manifest = Manifest(
        lambda_code=code,
        lambda_layer=layer,
        glue_library=library,
        glue_scripts=scripts,
        runner_source=build_runner_source(repo, artifacts),
        layer_requirements=requirements,
    )
    manifest.write(dist / "manifest.json")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m c360.packaging", description="Build dist/ for AWS.")
    parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=os.environ.get("C360_WHEELHOUSE") or None,
        help="install the layer's packages from this folder of wheels instead of PyPI",
    )
    args = parser.parse_args(argv)
    try:
        manifest = package(REPO_ROOT, args.dist, args.wheelhouse)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    artifacts = args.dist / "artifacts"
    for key in (
        manifest.lambda_code,
        manifest.lambda_layer,
        manifest.glue_library,
        manifest.runner_source,
        *manifest.glue_scripts.values(),
    ):
        print(f"{(artifacts / key).stat().st_size / 2**20:8.1f} MiB  {artifacts / key}")
    print(f"wrote {args.dist / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
