"""The stage code's fingerprint (spark_jobs/common/code_version.py), which incremental stage jobs record in their
bookmarks and compare to restage a source whose code changed: it covers the source's own job and the shared code,
not the other jobs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("accounts", "cards", "ga_sessions", "transactions", "numbers")
"""Four jobs, and a source without a job module of its own (as a test's)."""


def fingerprints(root: Path) -> dict[str, str]:
    """Each source's fingerprint, computed in a fresh interpreter that imports the code below ``root`` only."""
    probe = (
        f"import json, sys; sys.path.insert(0, {str(root)!r}); import spark_jobs.common.code_version as v; "
        f"assert v.__file__.startswith({str(root)!r}); "
        f"print(json.dumps({{s: v.stage_code_fingerprint(s) for s in {SOURCES!r}}}))"
    )
    result = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_edit_restages_the_sources_whose_code_it_touches(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "spark_jobs", tmp_path / "spark_jobs", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "ingestion").mkdir()
    (tmp_path / "ingestion" / "__init__.py").write_text("")
    shutil.copytree(ROOT / "ingestion" / "copybooks", tmp_path / "ingestion" / "copybooks")
    original = fingerprints(tmp_path)
    assert len(set(original.values())) == len(SOURCES), "each job has its own fingerprint"
    assert fingerprints(ROOT) == original, "the copy's code is the checkout's"

    def edit(relative: str) -> dict[str, str]:
        path = tmp_path / relative
        path.write_text(path.read_text() + "\n# an edit\n")
        return fingerprints(tmp_path)

    # One job's edit: that source only.
    after_cards = edit("spark_jobs/stage_cards.py")
    assert {s for s in SOURCES if after_cards[s] != original[s]} == {"cards"}
    # The shared code and the copybooks: every source.
    after_common = edit("spark_jobs/common/quality.py")
    assert all(after_common[s] != after_cards[s] for s in SOURCES)
    after_copybook = edit("ingestion/copybooks/account.cpy")
    assert all(after_copybook[s] != after_common[s] for s in SOURCES)
    # Files that are not code (caches, notes) do not count.
    (tmp_path / "spark_jobs" / "README.txt").write_text("notes")
    assert fingerprints(tmp_path) == after_copybook
