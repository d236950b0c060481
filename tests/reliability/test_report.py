"""RELIABILITY.md states what the suite does: its figures must be the suite's own."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from tests.reliability.corpus import corpus_summary

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "RELIABILITY.md"


def figure(text: str, label: str) -> int:
    match = re.search(rf"^\| {re.escape(label)} \| \*\*([\d,]+)\*\* \|$", text, re.MULTILINE)
    assert match, f"RELIABILITY.md has no figure {label!r}"
    return int(match.group(1).replace(",", ""))


def section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_bad_input_figures_are_the_corpus() -> None:
    text = REPORT.read_text()
    cases = corpus_summary()
    by_source = Counter(case["source"] for case in cases)
    assert figure(text, "Bad-input cases tried") == len(cases) >= 30
    assert figure(text, "Sources they cover") == len(by_source)
    rows = re.findall(r"^\| (\w+) \| (\d+) \|$", section(text, "Bad inputs"), re.MULTILINE)
    assert {source: int(count) for source, count in rows} == dict(by_source)


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_fault_names_a_test_that_exists_and_the_counts_match() -> None:
    text = REPORT.read_text()
    cited = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", section(text, "Faults"))
    assert cited and len(cited) == len(set(cited))
    for path, name in cited:
        assert name in _test_functions(REPO / path), f"{path}::{name} does not exist"
    assert figure(text, "Fault scenarios tried") == len(cited)
    assert figure(text, "Fault scenarios survived") == len(cited)  # the suite fails otherwise
    assert figure(text, "Rows lost") == 0
