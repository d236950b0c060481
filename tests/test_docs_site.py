"""`c360 docs`: the dbt docs site, served over HTTP, renders the lineage of customer_360 in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360 import docs
from c360.cli import app
from c360.settings import Settings
from tests.browser import open_page

pytestmark = pytest.mark.spark

LINEAGE_LABELS = """() => angular.element(document.body).injector().get('graph').graph.elements
    .filter(e => e.group === 'nodes' && !e.data.hidden).map(e => e.data.label)"""


@pytest.fixture(scope="module")
def docs_site(spark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("docs") / "lake"
    runner = CliRunner()
    for args in (["generate", "--scale", "0.02"], ["stage"], ["build"]):
        result = runner.invoke(app, [*args, "--lake", str(lake)])
        assert result.exit_code == 0, result.output
    return docs.generate(Settings().with_overrides(lake=str(lake)))


def test_docs_site_renders_the_lineage_of_customer_360(docs_site: Path, tmp_path: Path) -> None:
    with (
        docs.serve_directory(docs_site) as url,
        open_page(f"{url}/#!/model/model.c360.customer_360") as (page, errors),
    ):
        page.wait_for_selector("text=one row per client", timeout=30_000)
        page.locator("[title='View Lineage Graph']").first.click()
        page.wait_for_function(
            "() => angular.element(document.body).injector().get('graph').graph.elements.length > 0",
            timeout=30_000,
        )
        labels = page.evaluate(LINEAGE_LABELS)
        page.screenshot(path=str(tmp_path / "lineage.png"))
    assert {"customer_360", "int_customer_features", "customer_segments"} <= set(labels)
    assert errors.exceptions == [], errors.exceptions
    assert errors.console == [], errors.console
    assert (tmp_path / "lineage.png").stat().st_size > 10_000


def test_served_site_has_manifest_and_catalog(docs_site: Path) -> None:
    import json
    import urllib.request

    with docs.serve_directory(docs_site) as url:
        manifest = json.loads(urllib.request.urlopen(f"{url}/manifest.json", timeout=10).read())
        catalog = json.loads(urllib.request.urlopen(f"{url}/catalog.json", timeout=10).read())
    assert "model.c360.customer_360" in manifest["nodes"]
    assert "model.c360.customer_360" in catalog["nodes"]


def test_docs_without_a_site_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["docs", "--no-generate", "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1 and "no docs site" in result.output
