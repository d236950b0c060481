"""``python -m infra``: render the CloudFormation template from the spec, the repository and the artifacts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.discover import REPO_ROOT, Repo, SpecError
from infra.model import Artifacts, Build
from infra.template import build_template, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    parser.add_argument(
        "--manifest",
        type=Path,
        default=REPO_ROOT / "dist" / "manifest.json",
        help="artifact manifest written by `python -m c360.packaging` (default: dist/manifest.json)",
    )
    parser.add_argument(
        "--placeholder-artifacts",
        action="store_true",
        help="render with unversioned artifact keys, without a manifest (previews and linting)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "infra" / "c360.yaml")
    parser.add_argument(
        "--check",
        action="store_true",
        help="print what the template deploys and which spec entries have no code yet; write nothing",
    )
    args = parser.parse_args(argv)
    repo = Repo()
    try:
        artifacts = None if args.placeholder_artifacts else Artifacts.from_manifest(args.manifest)
        build = Build.from_repo(repo, artifacts)
        text = render(build_template(build))
    except FileNotFoundError as exc:
        print(
            f"error: {exc.filename} does not exist: run `make package` first (or --placeholder-artifacts)",
            file=sys.stderr,
        )
        return 1
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        print("pipeline steps:   " + ", ".join(build.steps))
        print("stage jobs:       " + ", ".join(build.stage_jobs))
        print("glue jobs:        " + ", ".join(job.script for job in build.glue_jobs))
        print("functions:        " + ", ".join(f.handler for f in build.functions))
        for fn in build.skipped:
            print(f"not deployed yet: {fn.key} ({fn.handler} does not exist)")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(build_template(build)['Resources'])} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
