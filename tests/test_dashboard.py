"""The local dashboard (QuickSight's stand-in): built from small synthetic marts, opened in headless Chromium."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360.docs import serve_directory
from c360.errors import ExportError
from c360.export.dashboard import (
    CHARTS,
    MART_COLUMNS,
    OCCUPATION_SLICES,
    OCCUPATION_SQL,
    RETAIL_ORDERS,
    _connect,
    build_dashboard,
    read_mart,
)
from c360.export.dynamodb import DIRECT_IDENTIFIERS
from c360.storage import Lake
from tests.browser import open_page

AS_OF = dt.date(2024, 12, 31)
CLIENTS = 300
ORDER_LINES = 400
RETAIL_CHARTS = {"retail_industry", "sales_region", "retail_monthly"}
PII_SENTINELS = {
    "email": "zz.sentinel.pii@example.invalid",
    "first_name": "Quxsentinelfirst",
    "last_name": "Quxsentinellast",
    "phone": "+420-555-0199-7731",
    "street_address": "77 Sentinel Lane",
    "birth_date": "1911-11-11",
    "contact_name": "Quxsentinel Contact",
}
"""Direct identifiers put into the test marts, each with a value that must never appear in the page."""

PLOT_POINTS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
    id: el.id,
    values: (el.data || []).map(trace => {
        const measure = trace.type === 'pie' ? trace.values : (trace.orientation === 'h' ? trace.x : trace.y);
        return Array.from(measure || []).filter(v => v !== null && v !== '' && Number.isFinite(Number(v))).length;
    }),
    marks: el.querySelectorAll('.trace .point, .trace .slice').length,
}))"""
"""Per plot: the numeric measures of each trace (pie values, bar lengths, line heights) and the marks drawn."""
EXTERNAL_RESOURCES = """() => performance.getEntriesByType('resource').map(e => e.name)
    .filter(name => !name.startsWith(location.origin) && !name.startsWith('data:'))"""


def _customer_360(rng: random.Random) -> pa.Table:
    occupations = [
        "Accountant, chartered",
        "Engineer, agricultural",
        "Teacher, secondary school",
        "Nurse, children's",
        "Scientist, research (physical sciences)",
        "Administrator, local government",
        "Software engineer",
        "Pharmacist, community",
        "Solicitor",
        "Architect",
        "Retail manager",
        "Chief Executive Officer",
        "Farm manager",
        "Journalist, broadcasting",
        "Surveyor, rural practice",
        "Editor, film/video",
    ]
    districts = [
        "Prague",
        "central Bohemia",
        "south Bohemia",
        "west Bohemia",
        "north Moravia",
        "south Moravia",
    ]
    rows: list[dict[str, Any]] = []
    for index in range(CLIENTS):
        has_credit = rng.random() < 0.85
        active = rng.random() < 0.9
        retail = rng.random() < 0.3
        rows.append(
            {
                "client_id": 1000 + index,
                "as_of_date": AS_OF,
                "occupation": occupations[int(rng.triangular(0, len(occupations) - 1, 0))],
                "is_head_of_household": rng.random() < 0.45,
                "marital_status": rng.choice(["single", "married", "married", "divorced", "widowed"]),
                "avg_credit_3m": round(rng.lognormvariate(8, 0.6), 2) if has_credit else None,
                "value_tier": rng.choice(
                    ["platinum", "gold", "gold", "silver", "silver", "bronze", "bronze"]
                ),
                "rfm_segment": rng.choice(
                    ["champions", "loyal", "potential", "at risk", "hibernating", "new"]
                ),
                "preferred_channel": rng.choice(["cash", "card", "transfer", "web", "mobile"])
                if active
                else None,
                "credit_score": min(1000, max(0, int(rng.gauss(620, 140)))),
                "tenure_years": round(rng.uniform(0.1, 12.0), 2),
                "age_band": rng.choice(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]),
                "region": rng.choice(districts),
                "retail_sales": round(rng.uniform(50, 20_000), 2) if retail else None,
                **PII_SENTINELS,
            }
        )
    return pa.Table.from_pylist(rows)


def _fct_retail_orders(rng: random.Random) -> pa.Table:
    industries = ["Finance", "Energy", "Tech", "Manufacturing", "Healthcare", "Retail", "Misc"]
    rows = []
    for index in range(ORDER_LINES):
        sales = round(rng.uniform(5, 2_000), 2)
        rows.append(
            {
                "order_line_id": f"L{index:05d}",
                "client_id": 1000 + rng.randrange(0, 90),
                "order_date": dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(0, 4 * 365)),
                "industry": rng.choice(industries),
                "region": rng.choice(["AMER", "EMEA", "EMEA", "APJ"]),
                "sales": sales,
                "profit": round(sales * rng.uniform(-0.3, 0.4), 2),
                "quantity": rng.randint(1, 20),
                "contact_name": PII_SENTINELS["contact_name"],
            }
        )
    schema = pa.schema(
        [
            ("order_line_id", pa.string()),
            ("client_id", pa.int64()),
            ("order_date", pa.date32()),
            ("industry", pa.string()),
            ("region", pa.string()),
            ("sales", pa.float64()),
            ("profit", pa.float64()),
            ("quantity", pa.int32()),
            ("contact_name", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _write_mart(lake: Lake, name: str, table: pa.Table, parts: int = 2) -> None:
    size = max(1, -(-table.num_rows // parts))
    for part in range(parts):
        buffer = pa.BufferOutputStream()
        pq.write_table(table.slice(part * size, size), buffer)
        uri = lake.uri("analytics", name, f"part-{part:05d}.parquet")
        lake.write_bytes(uri, buffer.getvalue().to_pybytes())


@pytest.fixture
def marts(lake: Lake) -> Lake:
    rng = random.Random(20241231)
    _write_mart(lake, "customer_360", _customer_360(rng))
    _write_mart(lake, RETAIL_ORDERS, _fct_retail_orders(rng))
    return lake


def _open_dashboard(uri: str, screenshot: Path) -> tuple[list[dict[str, Any]], Any, Any]:
    """Serve the dashboard's folder, open it, take a full-page screenshot; return the plots, page text and errors."""
    folder = Path(uri).parent
    with serve_directory(folder) as url, open_page(f"{url}/index.html") as (page, errors):
        page.wait_for_load_state("load")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".every(el => el.classList.contains('js-plotly-plot') && el.querySelector('.main-svg'))",
            timeout=30_000,
        )
        plots = page.evaluate(PLOT_POINTS)
        external = page.evaluate(EXTERNAL_RESOURCES)
        info = {
            "external": external,
            "no_data": page.eval_on_selector_all(
                ".no-data", "els => els.map(e => e.closest('.card').dataset.chart)"
            ),
            "kpis": page.eval_on_selector_all(
                ".kpi",
                "els => Object.fromEntries(els.map(e => [e.dataset.kpi, e.querySelector('.value').innerText]))",
            ),
            "cards": page.eval_on_selector_all(".card", "els => els.map(e => e.dataset.chart)"),
            "as_of": page.inner_text("#as-of"),
        }
        page.screenshot(path=str(screenshot), full_page=True)
    return plots, info, errors


def test_dashboard_renders_every_chart_with_data(marts: Lake, tmp_path: Path) -> None:
    uri = build_dashboard(marts)
    assert uri == marts.uri("analytics", "dashboard", "index.html")
    screenshot = tmp_path / "dashboard.png"
    plots, info, errors = _open_dashboard(uri, screenshot)

    assert errors.exceptions == [], errors.exceptions
    assert errors.console == [], errors.console
    assert info["external"] == [], f"the page loaded resources from elsewhere: {info['external']}"
    assert screenshot.stat().st_size > 100_000

    expected = {f"plot-{chart.key}" for chart in CHARTS}
    assert info["cards"] == [chart.key for chart in CHARTS]
    assert info["no_data"] == [], f"charts without data although both marts have rows: {info['no_data']}"
    by_id = {plot["id"]: plot for plot in plots}
    assert set(by_id) == expected
    empty = sorted(
        pid for pid, plot in by_id.items() if not plot["marks"] or max(plot["values"], default=0) == 0
    )
    assert empty == [], f"charts drawn without data points: {empty}"

    assert "as of 2024-12-31" in info["as_of"]
    assert info["kpis"]["clients"] == f"{CLIENTS:,}"
    assert info["kpis"]["retail customers"] not in ("", "—")
    assert 0 < int(info["kpis"]["average credit score"].replace(",", "")) <= 1000


def test_missing_retail_orders_shows_no_data_notes(marts: Lake, tmp_path: Path) -> None:
    shutil.rmtree(marts.uri("analytics", RETAIL_ORDERS))
    plots, info, errors = _open_dashboard(build_dashboard(marts), tmp_path / "no-retail.png")

    assert errors.exceptions == [], errors.exceptions
    assert errors.console == [], errors.console
    assert set(info["no_data"]) == RETAIL_CHARTS
    drawn = {plot["id"] for plot in plots if plot["marks"] and max(plot["values"], default=0) > 0}
    assert drawn == {f"plot-{chart.key}" for chart in CHARTS if chart.key not in RETAIL_CHARTS}
    assert info["kpis"]["retail customers"] == "—"
    assert (tmp_path / "no-retail.png").stat().st_size > 50_000


def test_empty_lake_and_missing_columns_give_notes_not_errors(lake: Lake) -> None:
    page = Path(build_dashboard(lake)).read_text()
    assert page.count('class="no-data"') == len(CHARTS)
    assert "customer_360 has not been built yet" in page

    _write_mart(lake, "customer_360", pa.table({"client_id": [1, 2], "as_of_date": [AS_OF, AS_OF]}), parts=1)
    _write_mart(lake, RETAIL_ORDERS, _fct_retail_orders(random.Random(1)).slice(0, 0), parts=1)
    page = Path(build_dashboard(lake)).read_text()
    assert page.count('class="no-data"') == len(CHARTS)
    assert "customer_360 has no column occupation yet" in page
    assert "fct_retail_orders is empty" in page
    assert "as of 2024-12-31" in page


def test_occupation_pie_folds_the_tail_into_one_slice(marts: Lake) -> None:
    mart = read_mart(marts, "customer_360")
    rows = _connect({"customer_360": mart}).execute(OCCUPATION_SQL).fetchall()
    assert len(rows) == OCCUPATION_SLICES + 1
    distinct = len(set(mart.table.column("occupation").to_pylist()))
    assert distinct > OCCUPATION_SLICES + 1
    assert rows[-1][0] is None and rows[-1][2] == distinct - OCCUPATION_SLICES
    assert sum(row[1] for row in rows) == CLIENTS
    assert [row[1] for row in rows[:-1]] == sorted((row[1] for row in rows[:-1]), reverse=True)


def test_rebuild_is_byte_identical(marts: Lake) -> None:
    uri = build_dashboard(marts)
    first = marts.read_bytes(uri)
    assert marts.read_bytes(build_dashboard(marts)) == first


def test_page_has_no_direct_identifiers_and_is_self_contained(marts: Lake) -> None:
    page = marts.read_bytes(build_dashboard(marts)).decode()
    assert not {column for columns in MART_COLUMNS.values() for column in columns} & DIRECT_IDENTIFIERS
    leaked = sorted(name for name, value in PII_SENTINELS.items() if value in page)
    assert leaked == [], f"direct identifiers in the dashboard: {leaked}"
    assert "<script src" not in page and "<link" not in page
    assert "cdn.plot.ly" not in page.split("<body>", 1)[1]
    assert len(page) > 3_000_000, "plotly.js is expected inline"


def test_dashboard_on_an_s3_lake(aws_env: str) -> None:
    import boto3

    bucket = f"c360-dashboard-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    lake = Lake(f"s3://{bucket}/c360")
    rng = random.Random(5)
    _write_mart(lake, "customer_360", _customer_360(rng))
    _write_mart(lake, RETAIL_ORDERS, _fct_retail_orders(rng))
    uri = build_dashboard(lake)
    assert uri == f"s3://{bucket}/c360/analytics/dashboard/index.html"
    page = lake.read_bytes(uri).decode()
    assert 'class="no-data"' not in page
    assert all(f'id="plot-{chart.key}"' in page for chart in CHARTS)


def test_unreadable_mart_is_a_clear_error(lake: Lake) -> None:
    folder = Path(lake.uri("analytics", "customer_360"))
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_bytes(b"not parquet")
    with pytest.raises(ExportError, match="cannot read the customer_360 mart"):
        build_dashboard(lake)
