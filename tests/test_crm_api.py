"""The CRM API over real HTTP, its Lambda proxy form, and the consumer that lands its pages in the raw zone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from c360.settings import Settings
from c360.storage import Lake
from ingestion import crm, crm_api


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.05, seed=5)


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_pages_cover_every_customer_exactly_once(api_settings: Settings) -> None:
    with crm_api.serve(api_settings) as url:
        status, first = _get(f"{url}/customers?as_of=2024-12-31T00:00:00Z&page_size=100")
        assert status == 200 and len(first["customers"]) == 100 and first["next_page_token"] == "100"
        pulled = crm_api.pull(url, as_of=crm.start_of_day(date(2024, 12, 31)), since=None, page_size=37)
    ids = [c["client_id"] for c in pulled]
    assert len(ids) == len(set(ids)) == crm.client_count(api_settings.scale)


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("/customers?as_of=yesterday", 400, "as_of must be an ISO-8601 time"),
        ("/customers?page_size=0", 400, "page_size must be between"),
        ("/customers?page_token=abc", 400, "invalid literal"),
        ("/accounts", 404, "no such resource"),
    ],
)
def test_bad_requests_get_json_errors(api_settings: Settings, query: str, status: int, message: str) -> None:
    with crm_api.serve(api_settings) as url:
        code, body = _get(url + query)
    assert code == status and message in body["error"]


def test_lambda_proxy_event_gets_the_same_answer(api_settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("C360_SCALE", "0.05")
    monkeypatch.setenv("C360_SEED", "5")
    event = {
        "rawPath": "/customers",
        "queryStringParameters": {"as_of": "2024-12-31T00:00:00Z", "page_size": "5"},
    }
    reply = crm_api.c360view_crm_api(event, None)
    assert reply["statusCode"] == 200 and reply["headers"]["Content-Type"] == "application/json"
    with crm_api.serve(api_settings) as url:
        _, direct = _get(f"{url}/customers?as_of=2024-12-31T00:00:00Z&page_size=5")
    assert json.loads(reply["body"]) == direct
    bad = crm_api.c360view_crm_api(
        {"rawPath": "/customers", "queryStringParameters": {"page_size": "x"}}, None
    )
    assert bad["statusCode"] == 400


def test_get_crm_api_lambda_pulls_over_http_into_raw(api_settings: Settings, monkeypatch) -> None:
    api_settings = api_settings.with_overrides(scale=1.0)
    with crm_api.serve(api_settings) as url:
        monkeypatch.setenv("C360_CRM_API_URL", url)
        monkeypatch.setenv("C360_LAKE", api_settings.lake)
        monkeypatch.setenv("C360_SCALE", "1")
        monkeypatch.setenv("C360_SEED", "5")
        event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2025-01-15T00:00:00Z"}
        result = crm_api.c360view_get_crm_api(event, None)
    lines = Path(result["uri"]).read_text().splitlines()
    assert len(lines) == result["records"] > 0
    assert all(json.loads(line)["updated_at"] >= "2025-01-14" for line in lines)


def test_unreachable_api_is_a_clear_error() -> None:
    with pytest.raises(crm_api.CrmApiError, match="unreachable"):
        crm_api.pull("http://127.0.0.1:9", as_of=crm.start_of_day(date(2024, 12, 31)), since=None)


def test_a_day_after_the_end_date_has_new_and_changed_customers(api_settings: Settings) -> None:
    api_settings = api_settings.with_overrides(scale=1.0)
    lake = Lake(api_settings.lake)
    ((uri, count),) = crm.generate_day(api_settings, lake, date(2025, 3, 1))
    records = [json.loads(line) for line in Path(uri).read_text().splitlines()]
    assert "ingest_date=2025-03-01" in uri and len(records) == count
    n = crm.client_count(api_settings.scale)
    new = [r for r in records if r["client_id"] > n]
    changed = [r for r in records if r["client_id"] <= n]
    assert changed, "existing customers change (moves, marriage, income)"
    assert all("2025-02-28" <= r["updated_at"] < "2025-03-01" for r in records)
    assert all(r["client_created_date"] < "2025-03-01" for r in new)


def test_requests_are_signed_for_api_gateway_iam_auth(monkeypatch) -> None:
    monkeypatch.setenv("C360_CRM_API_AUTH", "iam")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    request = crm_api._request("https://abc.execute-api.eu-west-1.amazonaws.com/customers?page_size=5")
    auth = request.get_header("Authorization")
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/eu-west-1/execute-api/" in auth
    monkeypatch.delenv("C360_CRM_API_AUTH")
    assert crm_api._request("http://127.0.0.1:1/customers").get_header("Authorization") is None


def test_a_pull_computes_the_customers_once_not_once_per_page(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = crm.records_at

    def counted(population, as_of, since=None):
        calls.append((as_of, since))
        return real(population, as_of, since=since)

    monkeypatch.setattr(crm, "records_at", counted)
    crm_api._records.cache_clear()
    with crm_api.serve(api_settings) as url:
        first = crm_api.pull(url, as_of=crm.start_of_day(date(2024, 12, 30)), since=None, page_size=10)
        again = crm_api.pull(url, as_of=crm.start_of_day(date(2024, 12, 30)), since=None, page_size=25)
        later = crm_api.pull(url, as_of=crm.start_of_day(date(2024, 12, 31)), since=None, page_size=10)
    assert len(first) == len(again) == crm.client_count(api_settings.scale) > 100  # more than 10 pages
    assert first == again and len(later) >= len(first)
    assert len(calls) == 2, "one computation per (as_of, since), whatever the pages"
