"""dbt's `unique` test on DuckDB (macros/tests/unique.sql): a column documented as an integer is checked by sorting,
any other by dbt's own grouping, and both find the same duplicates, with real dbt on a real DuckDB file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.dbt_project_copy import copy_project, run_dbt_on

MODELS = {
    # 2 appears twice and 3 three times: two duplicated values; nulls are not duplicates
    "keys_with_duplicates": "(1, 'a'), (2, 'b'), (2, 'b'), (3, 'c'), (3, 'c'), (3, 'c'), (null, null), (null, null)",
    "keys_without_duplicates": "(1, 'a'), (2, 'b'), (30000000000, 'c'), (-4, 'd'), (null, null), (null, null)",
}

PROPERTIES = """
models:
{models}
"""

MODEL_PROPERTIES = """
  - name: {name}
    config:
      materialized: table
    columns:
      - name: id
        data_type: bigint
        data_tests: [unique]
      - name: code
        data_tests: [unique]
"""


def test_integer_keys_are_checked_by_sorting_and_find_the_duplicates_grouping_finds(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    scratch = project / "models" / "scratch"
    scratch.mkdir()
    for name, rows in MODELS.items():
        (scratch / f"{name}.sql").write_text(
            f"select cast(id as bigint) as id, code from (values {rows}) as keys(id, code)\n"
        )
    (scratch / "_scratch__models.yml").write_text(
        PROPERTIES.format(models="".join(MODEL_PROPERTIES.format(name=name) for name in MODELS))
    )
    lake = tmp_path / "lake"
    (lake / "analytics").mkdir(parents=True)
    result = run_dbt_on(project, lake, tmp_path, "build", "--select", "path:models/scratch")
    assert result.returncode == 1, (
        result.stdout[-3000:] + result.stderr[-3000:]
    )  # the duplicates fail the build
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    tests = {r["unique_id"].split(".")[2]: r for r in results if r["unique_id"].startswith("test.")}
    outcome = {name: (r["status"], r["failures"]) for name, r in tests.items()}
    assert outcome == {
        "unique_keys_with_duplicates_id": ("fail", 2),
        "unique_keys_with_duplicates_code": ("fail", 2),
        "unique_keys_without_duplicates_id": ("pass", 0),
        "unique_keys_without_duplicates_code": ("pass", 0),
    }
    compiled = {
        name: next((tmp_path / "target" / "compiled").rglob(f"{name}.sql")).read_text() for name in outcome
    }
    assert "lag(id)" in compiled["unique_keys_with_duplicates_id"]  # the integer key was sorted
    assert "lag(" not in compiled["unique_keys_with_duplicates_code"]  # the text key grouped, as dbt does
