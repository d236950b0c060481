"""The local dashboard, QuickSight's stand-in: one self-contained HTML page of interactive plotly charts over the
marts, written to ``<lake>/analytics/dashboard/index.html``.

The page holds the workshop's analyses (occupation split; household and marital status against the 3-month
average credit; retail customers by industry; sales by region) and more perspectives of the 360 view (segments and
value tiers, channel preference, credit scores, tenure, geography, retail sales over time).

- Every number is an aggregate computed by one SQL query in DuckDB over the marts read through the :class:`Lake`
  (a local folder or ``s3://``); only the columns the charts need are kept, so no direct identifier can reach the
  page. Each chart shows its SQL under the caption.
- plotly.js is inlined: the page works offline, with no CDN or network access when it is viewed.
- The same data gives the same bytes: no wall-clock time, fixed element ids, a single-threaded DuckDB and
  explicit orderings.
- A mart (or a column) that is not built yet does not fail the page: its charts show a "no data yet" note that says
  what is missing.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
import pyarrow as pa
from plotly.offline import get_plotlyjs

from c360.errors import ExportError
from c360.storage import Lake, LakeError

CUSTOMERS = "customer_360"
RETAIL_ORDERS = "fct_retail_orders"
MART_COLUMNS: dict[str, tuple[str, ...]] = {
    CUSTOMERS: (
        "client_id",
        "as_of_date",
        "occupation",
        "is_head_of_household",
        "marital_status",
        "avg_credit_3m",
        "value_tier",
        "rfm_segment",
        "preferred_channel",
        "credit_score",
        "tenure_years",
        "age_band",
        "region",
        "retail_sales",
    ),
    RETAIL_ORDERS: (
        "order_line_id",
        "client_id",
        "order_date",
        "industry",
        "region",
        "sales",
        "profit",
        "quantity",
    ),
}
"""The only columns the dashboard reads from each mart; every other column (direct identifiers included) is dropped
as soon as a mart is read."""

DASHBOARD_PARTS = ("dashboard", "index.html")
PLOT_HEIGHT = 380

MARITAL_ORDER = ("single", "married", "divorced", "widowed")
TIER_ORDER = ("platinum", "gold", "silver", "bronze")
TIER_COLORS = {"platinum": "#5b6b7f", "gold": "#d4a72c", "silver": "#a9b4c2", "bronze": "#b5713a"}
SEGMENT_ORDER = ("champions", "loyal", "potential", "new", "at risk", "hibernating")
CHANNEL_ORDER = ("cash", "card", "transfer", "web", "mobile")
RETAIL_REGION_ORDER = ("AMER", "EMEA", "APJ")
COLORWAY = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b")
ACCENT = COLORWAY[0]
OCCUPATION_SLICES = 11
"""The pie shows the most frequent occupations and folds the rest into one slice (the CRM has about 80)."""


@dataclass(frozen=True)
class Mart:
    """A mart as the dashboard sees it: its kept columns, or why it cannot be used yet."""

    name: str
    table: pa.Table | None
    missing_reason: str | None = None

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(self.table.column_names) if self.table is not None else frozenset()


@dataclass(frozen=True)
class Chart:
    """One chart: where its data comes from, the SQL that aggregates it, and how it is drawn."""

    key: str
    title: str
    caption: str
    mart: str
    columns: tuple[str, ...]
    sql: str
    draw: Callable[[list[tuple[Any, ...]]], go.Figure]
    empty_note: str


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    note: str


# --- reading the marts ----------------------------------------------------------------------------------------
def read_mart(lake: Lake, name: str) -> Mart:
    """Read ``analytics/<name>/`` keeping only the dashboard's columns; a missing or empty mart is not an error."""
    uri = lake.uri("analytics", name)
    if not lake.list_files(uri, ".parquet"):
        return Mart(name, None, f"{name} has not been built yet (no Parquet files in analytics/{name}/)")
    try:
        table = lake.read_parquet(uri)
    except LakeError as exc:
        raise ExportError(
            f"the dashboard cannot read the {name} mart: {exc}; rebuild it with `c360 build`"
        ) from exc
    kept = [column for column in MART_COLUMNS[name] if column in table.column_names]
    table = table.select(kept)
    if table.num_rows == 0:
        return Mart(name, None, f"{name} is empty (0 rows in analytics/{name}/)")
    return Mart(name, table)


def _connect(marts: dict[str, Mart]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with each available mart registered as a view of the same name. One thread: sums of
    doubles then add up in the same order every time, so the page is byte-identical across builds."""
    con = duckdb.connect(config={"threads": 1})
    for mart in marts.values():
        if mart.table is not None:
            con.register(mart.name, mart.table)
    return con


# --- small helpers ----------------------------------------------------------------------------------------------
def _ordered(values: Sequence[str], preferred: Sequence[str]) -> list[str]:
    """``values`` without duplicates, the known codes first in their business order, then the rest alphabetically."""
    rank = {value: index for index, value in enumerate(preferred)}
    return sorted(dict.fromkeys(values), key=lambda v: (rank.get(v, len(rank)), v))


def _layout(**overrides: Any) -> go.Layout:
    base: dict[str, Any] = {
        "template": "none",
        "height": PLOT_HEIGHT,
        "autosize": True,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "font": {
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "size": 12,
            "color": "#1f2937",
        },
        "colorway": list(COLORWAY),
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"align": "left"},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        "xaxis": {"gridcolor": "#eef0f3", "linecolor": "#cbd2d9", "automargin": True, "zeroline": False},
        "yaxis": {"gridcolor": "#eef0f3", "linecolor": "#cbd2d9", "automargin": True, "zeroline": False},
        "bargap": 0.2,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return go.Layout(**base)


def _shade(index: int, count: int, shades: int) -> int:
    """The palette position of item ``index`` of ``count``, spread from light to dark over ``shades`` shades."""
    return shades // 2 if count == 1 else round(index * (shades - 1) / (count - 1))


def _number(value: float | int | None, decimals: int = 0) -> str:
    return "—" if value is None else f"{value:,.{decimals}f}"


# --- the charts: SQL and drawing ------------------------------------------------------------------------------------
OCCUPATION_SQL = f"""
with counts as (
    select coalesce(occupation, 'unknown') as occupation, count(*) as clients
    from customer_360
    group by coalesce(occupation, 'unknown')
),
ranked as (
    select
        occupation,
        clients,
        row_number() over (order by clients desc, occupation) as occupation_rank,
        count(*) over () as occupation_count
    from counts
),
sliced as (
    select
        case
            when occupation_rank <= {OCCUPATION_SLICES} or occupation_count <= {OCCUPATION_SLICES + 1} then occupation
        end as occupation,
        clients,
        occupation_rank
    from ranked
)
select occupation, sum(clients) as clients, count(*) as occupations_in_slice
from sliced
group by occupation
order by min(occupation_rank)
"""
LEGEND_LABEL_CHARS = 30


def _short(label: str) -> str:
    return label if len(label) <= LEGEND_LABEL_CHARS else label[: LEGEND_LABEL_CHARS - 1].rstrip() + "…"


def _draw_occupation(rows: list[tuple[Any, ...]]) -> go.Figure:
    names = [name if name is not None else f"{count} other occupations" for name, _, count in rows]
    labels = [_short(name) for name in names]
    if len(set(labels)) < len(labels):  # a pie merges equal labels: keep the full names then
        labels = names
    pie = go.Pie(
        labels=labels,
        values=[clients for _, clients, _ in rows],
        customdata=names,
        hole=0.45,
        sort=False,
        direction="clockwise",
        textinfo="percent",
        textposition="inside",
        hovertemplate="%{customdata}<br>%{value:,} clients (%{percent})<extra></extra>",
    )
    return go.Figure(
        pie,
        _layout(
            margin={"l": 8, "r": 8, "t": 8, "b": 8},
            legend={"orientation": "v", "x": 1.0, "xanchor": "left", "y": 0.5, "yanchor": "middle"},
        ),
    )


HOUSEHOLD_CREDIT_SQL = """
select
    coalesce(marital_status, 'unknown') as marital_status,
    case
        when is_head_of_household then 'head of household'
        when not is_head_of_household then 'not head of household'
        else 'unknown'
    end as household_role,
    avg(avg_credit_3m) as mean_avg_credit_3m,
    count(avg_credit_3m) as clients_with_credit,
    count(*) as clients
from customer_360
group by
    coalesce(marital_status, 'unknown'),
    case
        when is_head_of_household then 'head of household'
        when not is_head_of_household then 'not head of household'
        else 'unknown'
    end
having count(avg_credit_3m) > 0
order by marital_status, household_role
"""


def _draw_household_credit(rows: list[tuple[Any, ...]]) -> go.Figure:
    statuses = _ordered([row[0] for row in rows], MARITAL_ORDER)
    roles = _ordered([row[1] for row in rows], ("head of household", "not head of household"))
    cells = {(row[0], row[1]): row for row in rows}
    figure = go.Figure(layout=_layout(barmode="group", yaxis={"title": {"text": "mean avg_credit_3m"}}))
    for role in roles:
        present = [status for status in statuses if (status, role) in cells]
        figure.add_trace(
            go.Bar(
                name=role,
                x=present,
                y=[round(cells[(status, role)][2], 2) for status in present],
                customdata=[[cells[(status, role)][3], cells[(status, role)][4]] for status in present],
                hovertemplate=(
                    "%{x}, " + role + "<br>mean 3-month average credit: %{y:,.2f}"
                    "<br>%{customdata[0]:,} of %{customdata[1]:,} clients had credits<extra></extra>"
                ),
            )
        )
    return figure


RETAIL_INDUSTRY_SQL = """
select
    coalesce(industry, 'unknown') as industry,
    count(distinct client_id) as retail_customers,
    sum(sales) as sales
from fct_retail_orders
group by coalesce(industry, 'unknown')
order by retail_customers desc, industry
"""


def _draw_retail_industry(rows: list[tuple[Any, ...]]) -> go.Figure:
    pie = go.Pie(
        labels=[row[0] for row in rows],
        values=[row[1] for row in rows],
        customdata=[round(row[2] or 0.0, 2) for row in rows],
        hole=0.45,
        sort=False,
        direction="clockwise",
        textinfo="label+value",
        textposition="inside",
        hovertemplate="%{label}<br>%{value:,} retail customers<br>sales %{customdata:,.0f}<extra></extra>",
    )
    return go.Figure(
        pie,
        _layout(
            margin={"l": 8, "r": 8, "t": 8, "b": 8},
            legend={"orientation": "v", "x": 1.0, "xanchor": "left", "y": 0.5, "yanchor": "middle"},
        ),
    )


SALES_REGION_SQL = """
select
    coalesce(region, 'unknown') as region,
    cast(extract(year from order_date) as integer) as order_year,
    sum(sales) as sales,
    sum(profit) as profit,
    count(*) as order_lines
from fct_retail_orders
where order_date is not null
group by coalesce(region, 'unknown'), extract(year from order_date)
order by region, order_year
"""


def _draw_sales_region(rows: list[tuple[Any, ...]]) -> go.Figure:
    regions = _ordered([row[0] for row in rows], RETAIL_REGION_ORDER)
    years = sorted({row[1] for row in rows})
    cells = {(row[0], row[1]): row for row in rows}
    figure = go.Figure(
        layout=_layout(barmode="stack", legend={"traceorder": "normal"}, yaxis={"title": {"text": "sales"}})
    )
    palette = ("#bfdbfe", "#93c5fd", "#60a5fa", "#3b82f6", "#2563eb", "#1d4ed8", "#1e40af", "#1e3a8a")
    for index, year in enumerate(years):
        present = [region for region in regions if (region, year) in cells]
        figure.add_trace(
            go.Bar(
                name=str(year),
                x=present,
                y=[round(cells[(region, year)][2] or 0.0, 2) for region in present],
                customdata=[
                    [round(cells[(region, year)][3] or 0.0, 2), cells[(region, year)][4]]
                    for region in present
                ],
                marker={"color": palette[_shade(index, len(years), len(palette))]},
                hovertemplate=(
                    "%{x} " + str(year) + "<br>sales %{y:,.0f}<br>profit %{customdata[0]:,.0f}"
                    "<br>%{customdata[1]:,} order lines<extra></extra>"
                ),
            )
        )
    return figure


SEGMENTS_SQL = """
select
    coalesce(rfm_segment, 'unknown') as rfm_segment,
    coalesce(value_tier, 'unknown') as value_tier,
    count(*) as clients
from customer_360
group by coalesce(rfm_segment, 'unknown'), coalesce(value_tier, 'unknown')
order by rfm_segment, value_tier
"""


def _draw_segments(rows: list[tuple[Any, ...]]) -> go.Figure:
    segments = _ordered([row[0] for row in rows], SEGMENT_ORDER)
    tiers = _ordered([row[1] for row in rows], TIER_ORDER)
    counts = {(row[0], row[1]): row[2] for row in rows}
    figure = go.Figure(
        layout=_layout(barmode="stack", legend={"traceorder": "normal"}, yaxis={"title": {"text": "clients"}})
    )
    for tier in tiers:
        present = [segment for segment in segments if (segment, tier) in counts]
        figure.add_trace(
            go.Bar(
                name=tier,
                x=present,
                y=[counts[(segment, tier)] for segment in present],
                marker={"color": TIER_COLORS.get(tier, "#cbd5e1")},
                hovertemplate="%{x}, " + tier + "<br>%{y:,} clients<extra></extra>",
            )
        )
    return figure


CHANNEL_SQL = """
select
    coalesce(preferred_channel, 'no activity') as preferred_channel,
    count(*) as clients,
    count(*) / cast(sum(count(*)) over () as double) as share
from customer_360
group by coalesce(preferred_channel, 'no activity')
order by preferred_channel
"""


def _draw_channel(rows: list[tuple[Any, ...]]) -> go.Figure:
    channels = _ordered([row[0] for row in rows], (*CHANNEL_ORDER, "no activity"))
    by_channel = {row[0]: row for row in rows}
    bar = go.Bar(
        x=channels,
        y=[by_channel[channel][1] for channel in channels],
        customdata=[round(by_channel[channel][2], 4) for channel in channels],
        text=[f"{by_channel[channel][2]:.0%}" for channel in channels],
        textposition="outside",
        cliponaxis=False,
        marker={"color": [("#cbd5e1" if channel == "no activity" else ACCENT) for channel in channels]},
        hovertemplate="%{x}<br>%{y:,} clients (%{customdata:.1%})<extra></extra>",
    )
    return go.Figure(bar, _layout(yaxis={"title": {"text": "clients"}}))


CREDIT_SCORE_SQL = """
select
    least(cast(floor(credit_score / 50.0) as integer), 19) * 50 as score_from,
    count(*) as clients
from customer_360
where credit_score is not null
group by least(cast(floor(credit_score / 50.0) as integer), 19) * 50
order by score_from
"""


def _draw_credit_score(rows: list[tuple[Any, ...]]) -> go.Figure:
    labels = [f"{start}-{start + 49 if start < 950 else 1000}" for start, _ in rows]
    bar = go.Bar(
        x=labels,
        y=[clients for _, clients in rows],
        marker={
            "color": [start for start, _ in rows],
            "colorscale": [[0.0, "#dc2626"], [0.5, "#facc15"], [1.0, "#16a34a"]],
            "cmin": 0,
            "cmax": 950,
        },
        hovertemplate="credit score %{x}<br>%{y:,} clients<extra></extra>",
    )
    return go.Figure(
        bar,
        _layout(
            bargap=0.05,
            xaxis={"title": {"text": "credit score (0 = highest risk)"}},
            yaxis={"title": {"text": "clients"}},
        ),
    )


TENURE_SQL = """
select
    cast(floor(tenure_years) as integer) as tenure_from,
    coalesce(age_band, 'unknown') as age_band,
    count(*) as clients
from customer_360
where tenure_years is not null
group by cast(floor(tenure_years) as integer), coalesce(age_band, 'unknown')
order by tenure_from, age_band
"""


def _draw_tenure(rows: list[tuple[Any, ...]]) -> go.Figure:
    bands = _ordered([row[1] for row in rows], ())
    counts = {(row[0], row[1]): row[2] for row in rows}
    years = sorted({row[0] for row in rows})
    figure = go.Figure(
        layout=_layout(
            barmode="stack",
            legend={"traceorder": "normal"},
            bargap=0.05,
            xaxis={"title": {"text": "years with the bank"}, "dtick": 1},
            yaxis={"title": {"text": "clients"}},
        )
    )
    for band in bands:
        present = [year for year in years if (year, band) in counts]
        figure.add_trace(
            go.Bar(
                name=band,
                x=[year + 0.5 for year in present],
                y=[counts[(year, band)] for year in present],
                width=[1.0] * len(present),
                customdata=[f"{year}-{year + 1}" for year in present],
                hovertemplate="%{customdata} years with the bank<br>age "
                + band
                + ": %{y:,} clients<extra></extra>",
            )
        )
    return figure


CLIENT_REGION_SQL = """
select
    coalesce(region, 'unknown') as region,
    count(*) as clients,
    avg(credit_score) as mean_credit_score,
    count(retail_sales) as retail_customers,
    sum(retail_sales) as retail_sales
from customer_360
group by coalesce(region, 'unknown')
order by clients, region desc
"""


def _draw_client_region(rows: list[tuple[Any, ...]]) -> go.Figure:
    scores = [round(row[2], 1) if row[2] is not None else None for row in rows]
    bar = go.Bar(
        orientation="h",
        y=[row[0] for row in rows],
        x=[row[1] for row in rows],
        customdata=[
            [score, row[3], round(row[4] or 0.0, 2)] for score, row in zip(scores, rows, strict=True)
        ],
        marker={
            "color": [score if score is not None else 0 for score in scores],
            "colorscale": [[0.0, "#bfdbfe"], [1.0, "#1e3a8a"]],
            "colorbar": {"title": {"text": "mean<br>credit<br>score"}, "thickness": 12},
        },
        hovertemplate=(
            "%{y}<br>%{x:,} clients<br>mean credit score %{customdata[0]}"
            "<br>%{customdata[1]:,} retail customers, retail sales %{customdata[2]:,.0f}<extra></extra>"
        ),
    )
    return go.Figure(bar, _layout(margin={"l": 8}, xaxis={"title": {"text": "clients"}}))


RETAIL_MONTHLY_SQL = """
select
    date_trunc('month', order_date) as order_month,
    sum(sales) as sales,
    sum(profit) as profit
from fct_retail_orders
where order_date is not null
group by date_trunc('month', order_date)
order by order_month
"""


def _draw_retail_monthly(rows: list[tuple[Any, ...]]) -> go.Figure:
    months = [row[0].isoformat() if isinstance(row[0], dt.date) else str(row[0]) for row in rows]
    figure = go.Figure(layout=_layout(hovermode="x unified", yaxis={"title": {"text": "per month"}}))
    for name, index, color in (("sales", 1, ACCENT), ("profit", 2, "#10b981")):
        figure.add_trace(
            go.Scatter(
                name=name,
                x=months,
                y=[round(row[index] or 0.0, 2) for row in rows],
                mode="lines+markers",
                marker={"size": 4},
                line={"color": color, "width": 2},
                hovertemplate=name + " %{y:,.0f}<extra></extra>",
            )
        )
    return figure


WORKSHOP_CHARTS = (
    Chart(
        key="occupation",
        title="Clients by occupation",
        caption=(
            "The workshop's first QuickSight visual: the share of clients in each occupation (from the CRM), "
            f"counting one row per client in customer_360. The {OCCUPATION_SLICES} most frequent occupations get "
            "their own slice; the rest share one."
        ),
        mart=CUSTOMERS,
        columns=("occupation",),
        sql=OCCUPATION_SQL,
        draw=_draw_occupation,
        empty_note="no clients",
    ),
    Chart(
        key="household_credit",
        title="Household and marital status against 3-month average credit",
        caption=(
            "The workshop's second visual: for each marital status and head-of-household flag, the mean of the "
            "clients' avg_credit_3m (each client's average credit transaction amount over the 3 months before the "
            "as-of date). Clients with no credit in that window are left out of the mean; hover for the counts."
        ),
        mart=CUSTOMERS,
        columns=("marital_status", "is_head_of_household", "avg_credit_3m"),
        sql=HOUSEHOLD_CREDIT_SQL,
        draw=_draw_household_credit,
        empty_note="no client had a credit transaction in the 3 months before the as-of date",
    ),
    Chart(
        key="retail_industry",
        title="Retail customers by industry",
        caption=(
            "The 2024 workshop's first visual: distinct retail customers (client_id in fct_retail_orders) per "
            "industry of their orders. A customer ordering under two industries counts in both; hover for sales."
        ),
        mart=RETAIL_ORDERS,
        columns=("client_id", "industry", "sales"),
        sql=RETAIL_INDUSTRY_SQL,
        draw=_draw_retail_industry,
        empty_note="no retail orders",
    ),
    Chart(
        key="sales_region",
        title="Retail sales by region",
        caption=(
            "The 2024 workshop's second visual: the sum of order-line sales in each sales region (AMER, EMEA, APJ), "
            "stacked by order year. Hover for profit and the number of order lines."
        ),
        mart=RETAIL_ORDERS,
        columns=("region", "order_date", "sales", "profit"),
        sql=SALES_REGION_SQL,
        draw=_draw_sales_region,
        empty_note="no dated retail orders",
    ),
)

MORE_CHARTS = (
    Chart(
        key="segments_tiers",
        title="RFM segments and value tiers",
        caption=(
            "Clients in each recency-frequency-monetary segment, stacked by value tier (platinum to bronze), both "
            "as computed in customer_360 as of the as-of date."
        ),
        mart=CUSTOMERS,
        columns=("rfm_segment", "value_tier"),
        sql=SEGMENTS_SQL,
        draw=_draw_segments,
        empty_note="no clients",
    ),
    Chart(
        key="channel",
        title="Preferred channel",
        caption=(
            "Clients by preferred_channel, the channel (cash, card, transfer, web, mobile) behind most of a client's "
            "recent activity; 'no activity' counts clients with none. Labels give the share of all clients."
        ),
        mart=CUSTOMERS,
        columns=("preferred_channel",),
        sql=CHANNEL_SQL,
        draw=_draw_channel,
        empty_note="no clients",
    ),
    Chart(
        key="credit_score",
        title="Credit score distribution",
        caption=(
            "Clients per 50-point band of credit_score (0 to 1000; higher is lower risk), from red (risky) to green. "
            "Clients without a score are left out."
        ),
        mart=CUSTOMERS,
        columns=("credit_score",),
        sql=CREDIT_SCORE_SQL,
        draw=_draw_credit_score,
        empty_note="no client has a credit score",
    ),
    Chart(
        key="tenure",
        title="Tenure with the bank",
        caption=(
            "Clients per whole year of tenure_years (time from the client's creation in the CRM to the as-of date), "
            "stacked by age band."
        ),
        mart=CUSTOMERS,
        columns=("tenure_years", "age_band"),
        sql=TENURE_SQL,
        draw=_draw_tenure,
        empty_note="no client has a tenure",
    ),
    Chart(
        key="client_region",
        title="Clients by district region",
        caption=(
            "Clients per region of their bank district, coloured by the region's mean credit score (darker is higher). Hover for the "
            "number of retail customers among them (retail_sales not null) and their retail sales."
        ),
        mart=CUSTOMERS,
        columns=("region", "credit_score", "retail_sales"),
        sql=CLIENT_REGION_SQL,
        draw=_draw_client_region,
        empty_note="no clients",
    ),
    Chart(
        key="retail_monthly",
        title="Retail sales and profit by month",
        caption="The sum of order-line sales and profit in fct_retail_orders per calendar month of the order date.",
        mart=RETAIL_ORDERS,
        columns=("order_date", "sales", "profit"),
        sql=RETAIL_MONTHLY_SQL,
        draw=_draw_retail_monthly,
        empty_note="no dated retail orders",
    ),
)

CHARTS = WORKSHOP_CHARTS + MORE_CHARTS
"""Every chart of the page, in page order; ``chart.key`` names its card (``chart-<key>``) and plot (``plot-<key>``)."""


# --- rendering ------------------------------------------------------------------------------------------------
def _missing(chart: Chart, marts: dict[str, Mart]) -> str | None:
    """Why ``chart`` cannot be drawn from the marts as they are, or None when it can be queried."""
    mart = marts[chart.mart]
    if mart.table is None:
        return mart.missing_reason
    absent = [column for column in chart.columns if column not in mart.columns]
    if absent:
        return f"{chart.mart} has no column {', '.join(absent)} yet"
    return None


def _plot_html(chart: Chart, figure: go.Figure) -> str:
    return pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=f"plot-{chart.key}",
        default_width="100%",
        default_height=f"{PLOT_HEIGHT}px",
        config={
            "displaylogo": False,
            "responsive": True,
            "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
            "toImageButtonOptions": {"filename": f"c360-{chart.key}"},
        },
    )


def render_chart(chart: Chart, marts: dict[str, Mart], con: duckdb.DuckDBPyConnection) -> str:
    """The card of one chart: title, caption, the plot (or a "no data yet" note) and its SQL."""
    reason = _missing(chart, marts)
    body = ""
    if reason is None:
        rows = con.execute(chart.sql).fetchall()
        if rows:
            body = _plot_html(chart, chart.draw(rows))
        else:
            reason = chart.empty_note
    if reason is not None:
        body = (
            f'<div class="no-data" role="note"><p><strong>No data yet.</strong> {html.escape(reason)}. '
            "The chart appears once <code>c360 build</code> has filled the mart and <code>c360 export</code> runs "
            "again.</p></div>"
        )
    return f"""<section class="card" id="chart-{chart.key}" data-chart="{chart.key}">
<h3>{html.escape(chart.title)}</h3>
<p class="caption">{html.escape(chart.caption)}</p>
<div class="plot">{body}</div>
<details><summary>SQL</summary><pre>{html.escape(chart.sql.strip())}</pre></details>
</section>"""


def headlines(marts: dict[str, Mart], con: duckdb.DuckDBPyConnection) -> tuple[str | None, list[Headline]]:
    """The as-of date and the headline numbers (each "—" with a note when its mart or column is missing)."""
    customers, retail = marts[CUSTOMERS], marts[RETAIL_ORDERS]
    as_of = clients = score = retail_customers = sales = None
    if customers.table is not None:
        as_of_sql = "max(as_of_date)" if "as_of_date" in customers.columns else "null"
        score_sql = "avg(credit_score)" if "credit_score" in customers.columns else "null"
        key_sql = "count(distinct client_id)" if "client_id" in customers.columns else "count(*)"
        as_of, clients, score = con.execute(
            f"select {as_of_sql}, {key_sql}, {score_sql} from customer_360"
        ).fetchone()
    if retail.table is not None and {"client_id", "sales"} <= retail.columns:
        retail_customers, sales = con.execute(
            "select count(distinct client_id), sum(sales) from fct_retail_orders"
        ).fetchone()
    no_customers = customers.missing_reason or "no data yet"
    no_retail = retail.missing_reason or "no data yet"
    return (
        as_of.isoformat() if isinstance(as_of, dt.date) else (str(as_of) if as_of is not None else None),
        [
            Headline(
                "clients", _number(clients), "one row per client in customer_360" if clients else no_customers
            ),
            Headline(
                "retail customers",
                _number(retail_customers),
                "distinct client_id in fct_retail_orders" if retail_customers else no_retail,
            ),
            Headline(
                "average credit score",
                _number(score),
                "mean credit_score (0-1000) over scored clients" if score is not None else no_customers,
            ),
            Headline(
                "retail sales",
                _number(sales),
                "sum of sales over every order line" if sales is not None else no_retail,
            ),
        ],
    )


STYLE = """
:root { --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f5f7fa; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: #0f172a; color: #f8fafc; padding: 20px 32px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #cbd5e1; }
main { max-width: 1600px; margin: 0 auto; padding: 20px 32px 40px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 16px; margin-bottom: 8px; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 28px; font-weight: 600; margin: 2px 0; font-variant-numeric: tabular-nums; }
.kpi .note { color: var(--muted); font-size: 12px; }
h2 { font-size: 16px; margin: 24px 0 10px; color: #334155; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px 10px;
        min-width: 0; }
.card h3 { margin: 0; font-size: 15px; }
.caption { margin: 4px 0 8px; color: var(--muted); font-size: 12.5px; }
.plot { min-height: 120px; }
.no-data { display: flex; align-items: center; min-height: 200px; padding: 16px 20px;
           border: 1px dashed #cbd5e1; border-radius: 6px; background: #f8fafc; color: #475569; }
.no-data p { margin: 0; }
details { margin-top: 6px; color: var(--muted); font-size: 12px; }
details pre { background: #f8fafc; border: 1px solid var(--line); border-radius: 6px; padding: 8px;
              overflow-x: auto; font-size: 11.5px; color: var(--ink); }
footer { color: var(--muted); font-size: 12px; margin-top: 28px; }
"""


RESIZE_ON_LOAD = """window.addEventListener('load', function () {
  document.querySelectorAll('.js-plotly-plot').forEach(function (el) { Plotly.Plots.resize(el); });
});"""
"""Plots are drawn while the page is parsed, before the grid has its final column widths: fit them once loaded."""


def render_page(marts: dict[str, Mart]) -> str:
    """The whole page as HTML text, plotly.js inlined."""
    con = _connect(marts)
    try:
        as_of, numbers = headlines(marts, con)
        workshop = "\n".join(render_chart(chart, marts, con) for chart in WORKSHOP_CHARTS)
        more = "\n".join(render_chart(chart, marts, con) for chart in MORE_CHARTS)
    finally:
        con.close()
    kpis = "\n".join(
        f'<div class="kpi" data-kpi="{html.escape(n.label)}"><div class="label">{html.escape(n.label)}</div>'
        f'<div class="value">{html.escape(n.value)}</div><div class="note">{html.escape(n.note)}</div></div>'
        for n in numbers
    )
    sources = ", ".join(
        f"analytics/{mart.name} ({mart.table.num_rows:,} rows)"
        if mart.table is not None
        else f"analytics/{mart.name} (not available: {mart.missing_reason})"
        for mart in marts.values()
    )
    as_of_text = f"as of {as_of}" if as_of else "as-of date unknown: no data yet"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer 360 dashboard</title>
<style>{STYLE}</style>
<script type="text/javascript">window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<header>
<h1>Customer 360 dashboard</h1>
<p id="as-of">{html.escape(as_of_text)} · one row per client from the analytics layer; retail orders from the retail arm</p>
</header>
<main>
<section class="kpis" aria-label="headline numbers">
{kpis}
</section>
<h2>The workshop's analyses</h2>
<div class="grid">
{workshop}
</div>
<h2>More of the 360 view</h2>
<div class="grid">
{more}
</div>
<footer>Built by <code>c360 export</code> from {html.escape(sources)}. Aggregates only: no direct identifier
is read into this page. Charts are interactive: hover for details, drag to zoom, double-click to reset.</footer>
</main>
<script type="text/javascript">{RESIZE_ON_LOAD}</script>
</body>
</html>
"""


def dashboard_uri(lake: Lake) -> str:
    return lake.uri("analytics", *DASHBOARD_PARTS)


def build_dashboard(lake: Lake) -> str:
    """Write the dashboard to ``<lake>/analytics/dashboard/index.html`` and return its URI.

    Missing or empty marts give "no data yet" notes, not errors; an unreadable mart is an :class:`ExportError`.
    """
    marts = {name: read_mart(lake, name) for name in MART_COLUMNS}
    uri = dashboard_uri(lake)
    lake.write_bytes(uri, render_page(marts).encode("utf-8"))
    return uri
