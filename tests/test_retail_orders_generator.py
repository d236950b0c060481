"""Retail orders: the SaaS Sales file's exact format, bank clients as customers, continuity, determinism."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from c360.settings import Settings
from c360.storage import Lake
from ingestion import retail_orders
from ingestion.crm import build_population

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference-data"
SAAS_SALES = REFERENCE / "saas_sales" / "SaaS-Sales.csv"
END = date(2024, 12, 31)


def _read(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _real_rows() -> list[dict[str, str]]:
    if not SAAS_SALES.is_file():
        pytest.skip(
            f"the SaaS Sales sample is not at {SAAS_SALES} (../shared/reference-data beside the clone)"
        )
    return _read(SAAS_SALES.read_bytes())


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str, bytes, list[dict[str, str]]]:
    """The full export at scale 1 (about 250 customers, 10,000 lines)."""
    settings = Settings().with_overrides(
        lake=str(tmp_path_factory.mktemp("retail") / "lake"), scale=1, seed=8
    )
    [(uri, lines)] = retail_orders.generate(settings, Lake(settings.lake))
    data = Path(uri).read_bytes()
    rows = _read(data)
    assert len(rows) == lines > 0
    return settings, uri, data, rows


def test_header_is_byte_identical_to_the_real_files(export: tuple) -> None:
    if not SAAS_SALES.is_file():
        pytest.skip(
            f"the SaaS Sales sample is not at {SAAS_SALES} (../shared/reference-data beside the clone)"
        )
    real_header = SAAS_SALES.read_bytes().split(b"\r\n", 1)[0]
    _, _, data, _ = export
    assert data.split(b"\r\n", 1)[0] == real_header
    assert real_header.startswith(b"\xef\xbb\xbfRow ID,Order ID,Order Date,Date Key,")


def test_bom_crlf_and_no_quoting(export: tuple) -> None:
    settings, uri, data, _ = export
    assert Path(uri).relative_to(settings.lake).as_posix() == (
        "raw/retail_orders/ingest_date=2024-12-31/retail_orders_20241231T000000Z.csv"
    )
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n"), "every line ends with CRLF"
    assert b'"' not in data
    text = data.decode("utf-8-sig")
    assert all(line.count(",") == 18 for line in text.split("\r\n")[:-1]), "19 fields on every line"


def test_dates_parse_and_agree_with_the_date_key(export: tuple) -> None:
    _, _, _, rows = export
    first = END - timedelta(days=retail_orders.RETAIL_HISTORY_DAYS - 1)
    for row in rows:
        assert re.fullmatch(r"[1-9]\d?/[1-9]\d?/\d{4}", row["Order Date"]), "M/D/YYYY without padding"
        placed = datetime.strptime(row["Order Date"], "%m/%d/%Y").date()
        assert row["Date Key"] == placed.strftime("%Y%m%d")
        assert first <= placed < END, "the export at the end date holds the orders placed before it"
        region, year, number = row["Order ID"].split("-")
        assert (region, int(year)) == (row["Region"], placed.year) and re.fullmatch(r"\d{6}", number)


def test_customers_are_bank_clients_who_existed_before_ordering(export: tuple) -> None:
    settings, _, _, rows = export
    pop = build_population(settings.seed, settings.scale, settings.end_date)
    created = dict(zip(pop.client_id.tolist(), pop.created_at.tolist(), strict=True))
    for row in rows:
        client = int(row["Customer ID"])
        assert client in created
        assert created[client] < datetime.strptime(row["Order Date"], "%m/%d/%Y")
    per_id = defaultdict(set)
    per_name = defaultdict(set)
    for row in rows:
        per_id[row["Customer ID"]].add((row["Customer"], row["Industry"], row["Segment"]))
        per_name[row["Customer"]].add(row["Customer ID"])
    assert all(len(v) == 1 for v in per_id.values()), "one name, industry and segment per customer"
    assert all(len(v) == 1 for v in per_name.values()), "one customer id per name"
    share = len(per_id) / len(pop.client_id)
    assert 0.3 * retail_orders.CUSTOMER_SHARE < share <= 1.1 * retail_orders.CUSTOMER_SHARE


def test_the_client_is_often_the_contact(export: tuple) -> None:
    settings, _, _, rows = export
    pop = build_population(settings.seed, settings.scale, settings.end_date)
    names = {
        cid: f"{first} {last}"
        for cid, first, last in zip(pop.client_id.tolist(), pop.first_name, pop.last_name, strict=True)
    }
    own = sum(row["Contact Name"] == names[int(row["Customer ID"])] for row in rows) / len(rows)
    # PRIMARY_CONTACT_P of the orders, plus those of businesses with no other contact (e^-1.5 of them).
    expected = retail_orders.PRIMARY_CONTACT_P + (1 - retail_orders.PRIMARY_CONTACT_P) * np.exp(-1.5)
    assert own == pytest.approx(expected, abs=0.1)
    contacts = defaultdict(set)
    for row in rows:
        contacts[row["Customer ID"]].add(row["Contact Name"])
    assert max(len(names) for names in contacts.values()) > 2, "some businesses have several contacts"


def test_keys_are_unique_and_orders_are_consistent(export: tuple) -> None:
    _, _, _, rows = export
    assert [int(row["Row ID"]) for row in rows] == list(range(1, len(rows) + 1))
    licenses = [row["License"] for row in rows]
    assert len(set(licenses)) == len(licenses)
    assert all(re.fullmatch(r"[0-9A-Z]{10}", license) for license in licenses)
    orders = defaultdict(set)
    for row in rows:
        orders[row["Order ID"]].add((row["Order Date"], row["Customer ID"], row["Contact Name"], row["City"]))
    assert all(len(v) == 1 for v in orders.values()), (
        "the lines of an order share date, customer, contact, city"
    )
    assert 1.6 < len(rows) / len(orders) < 2.4, "about two lines per order, as in the sample"


def test_measures_are_well_formed(export: tuple) -> None:
    _, _, _, rows = export
    number = re.compile(r"-?\d+(\.\d{1,4})?")
    for row in rows:
        assert number.fullmatch(row["Sales"]) and number.fullmatch(row["Profit"])
        assert float(row["Sales"]) > 0 and 1 <= int(row["Quantity"]) <= 14
        discount = float(row["Discount"])
        assert 0 <= discount <= 0.8
        if discount >= 0.5:
            assert float(row["Profit"]) < 0.3 * float(row["Sales"]), "deep discounts do not make fat margins"
    losses = sum(float(row["Profit"]) < 0 for row in rows) / len(rows)
    assert 0.1 < losses < 0.3


def test_value_pools_follow_the_real_sample(export: tuple) -> None:
    real = _real_rows()
    _, _, _, rows = export
    for column in ("Region", "Subregion", "Industry", "Segment", "Product", "Discount", "Country", "City"):
        assert {row[column] for row in rows} <= {row[column] for row in real}, column
    real_geo = {row["City"]: (row["Country"], row["Region"], row["Subregion"]) for row in real}
    assert all(real_geo[row["City"]] == (row["Country"], row["Region"], row["Subregion"]) for row in rows)
    for column, value in (
        ("Region", "EMEA"),
        ("Segment", "SMB"),
        ("Discount", "0"),
        ("Country", "United States"),
    ):
        ours = sum(row[column] == value for row in rows) / len(rows)
        theirs = sum(row[column] == value for row in real) / len(real)
        assert ours == pytest.approx(theirs, abs=0.12), f"{column}={value}: {ours:.0%} against {theirs:.0%}"


def test_daily_exports_continue_the_full_export(export: tuple) -> None:
    settings, _, data, rows = export
    lake = Lake(settings.lake)
    [(uri, lines)] = retail_orders.generate_day(settings, lake, END + timedelta(days=1))
    assert "ingest_date=2025-01-01/retail_orders_20250101T000000Z.csv" in uri
    following = _read(Path(uri).read_bytes())
    assert len(following) == lines > 0
    assert {row["Order Date"] for row in following} == {"12/31/2024"}
    assert int(following[0]["Row ID"]) == len(rows) + 1
    day = date(2024, 3, 5)
    [(uri, _)] = retail_orders.generate_day(settings, lake, day + timedelta(days=1))
    daily = Path(uri).read_bytes().decode("utf-8-sig").split("\r\n")[1:-1]
    full = data.decode("utf-8-sig").split("\r\n")[1:-1]
    assert daily and daily == [line for line in full if ",3/5/2024," in line], "the same lines, byte for byte"


def test_same_settings_give_the_same_file_and_another_seed_another(tmp_path: Path) -> None:
    outputs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        settings = Settings().with_overrides(lake=str(tmp_path / name), scale=0.2, seed=seed)
        [(uri, _)] = retail_orders.generate(settings, Lake(settings.lake))
        outputs.append((Path(uri).relative_to(settings.lake), Path(uri).read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == outputs[2][0] and outputs[0][1] != outputs[2][1]


def test_volume_is_linear_in_scale(tmp_path: Path) -> None:
    lines = {}
    for scale in (0.2, 0.4):
        settings = Settings().with_overrides(lake=str(tmp_path / str(scale)), scale=scale, seed=6)
        [(_, lines[scale])] = retail_orders.generate(settings, Lake(settings.lake))
    assert lines[0.2] == pytest.approx(0.2 * retail_orders.LINES_PER_SCALE, rel=0.1)
    assert lines[0.4] == pytest.approx(2 * lines[0.2], rel=0.1)


def test_days_outside_the_simulation_are_refused(tmp_path: Path) -> None:
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.2, seed=1)
    with pytest.raises(ValueError, match="C360_END_DATE"):
        retail_orders.generate_day(settings, Lake(settings.lake), END + timedelta(days=400))


def test_lambda_handler_writes_the_previous_days_orders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_LAKE", str(tmp_path / "lk"))
    monkeypatch.setenv("C360_SCALE", "1")
    monkeypatch.setenv("C360_END_DATE", "2024-12-31")
    event = {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2024-12-20T00:00:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/c360-retail-orders"],
        "detail": {},
    }
    result = retail_orders.c360view_retail_orders(event, None)
    assert result["source"] == "retail_orders"
    assert "ingest_date=2024-12-20/retail_orders_20241220T000000Z.csv" in result["uri"]
    rows = _read(Path(result["uri"]).read_bytes())
    assert len(rows) == result["records"] > 0
    assert {row["Order Date"] for row in rows} == {"12/19/2024"}
    assert np.all(np.diff([int(row["Row ID"]) for row in rows]) == 1)
