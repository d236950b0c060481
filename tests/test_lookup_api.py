"""The lookup API over real HTTP (``serve`` on 127.0.0.1) and as the Lambda behind API Gateway, reading the
profiles that the loader put into DynamoDB on a moto server."""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from c360 import api
from c360.errors import ExportError, ServiceError
from c360.export.dynamodb import DIRECT_IDENTIFIERS
from c360.export.dynamodb_loader import (
    aws_client,
    dynamodb_client,
    load_profiles,
    ssm_parameter_name,
    switch_table,
)
from c360.storage import Lake
from tests.test_dynamodb_loader import mart_rows, write_mart

DISTRICT_5 = [i for i in range(1, 41) if i % 11 and 1 + i % 5 == 5]


@pytest.fixture(scope="module")
def table(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """40 profiles (with identifiers and nulls in the mart) loaded into a fresh table."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        lake = Lake(str(tmp_path_factory.mktemp("api") / "lake"))
        lake.ensure_zones()
        write_mart(lake, mart_rows(40))
        name = f"profiles-{uuid.uuid4().hex[:10]}"
        load_profiles(lake, name, moto_endpoint, client=dynamodb_client(moto_endpoint))
    return name


@pytest.fixture
def url(aws_env: str, table: str) -> Iterator[str]:
    with api.serving(aws_env, table) as base:
        yield base


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read()), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_a_customer_profile_is_json_with_numbers_and_no_identifiers(url: str) -> None:
    status, body, headers = fetch(f"{url}/customers/7")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body["client_id"] == 7 and isinstance(body["client_id"], int)
    assert body["age"] == 27 and isinstance(body["age"], int)
    assert body["tenure_years"] == 1.0  # DynamoDB normalises 1.0 to 1; JSON has one number type
    assert body["is_head_of_household"] is False and body["district_id"] == 3
    assert body["as_of_date"] == "2024-12-31"
    assert not set(body) & DIRECT_IDENTIFIERS
    _, fractional, _ = fetch(f"{url}/customers/9")
    assert fractional["tenure_years"] == 1.29 and isinstance(fractional["tenure_years"], float)
    _, with_nulls, _ = fetch(f"{url}/customers/20")
    assert "age" not in with_nulls and "occupation" not in with_nulls  # omitted, never '_' or 0


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "7x", "99999999999999999999", "%20", "1e3"])
def test_a_malformed_client_id_is_400(url: str, raw: str) -> None:
    status, body, _ = fetch(f"{url}/customers/{raw}")
    assert status == 400 and "client_id must be a non-negative integer" in body["error"]


def test_an_unknown_client_is_404(url: str) -> None:
    status, body, _ = fetch(f"{url}/customers/424242")
    assert status == 404 and body == {"error": "no customer with client_id 424242", "status": 404}


def test_customers_of_a_branch_come_in_pages_that_cover_each_once(url: str) -> None:
    seen: list[int] = []
    pages = 0
    next_url: str | None = f"{url}/branches/5/customers?limit=3"
    while next_url:
        status, body, _ = fetch(next_url)
        assert status == 200 and body["district_id"] == 5 and len(body["customers"]) <= 3
        assert body["count"] == len(body["customers"])
        assert all(c["district_id"] == 5 and not set(c) & DIRECT_IDENTIFIERS for c in body["customers"])
        seen.extend(c["client_id"] for c in body["customers"])
        pages += 1
        token = body["next_token"]
        next_url = f"{url}/branches/5/customers?limit=3&next_token={token}" if token else None
    assert seen == DISTRICT_5 and pages >= 3
    _, everything, _ = fetch(f"{url}/branches/5/customers")
    assert [c["client_id"] for c in everything["customers"]] == DISTRICT_5 and everything[
        "next_token"
    ] is None


def _token(district: int, client: int) -> str:
    key = {"client_id": {"N": str(client)}, "district_id": {"N": str(district)}}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit must be an integer between 1 and 100"),
        ("limit=101", "limit must be an integer between 1 and 100"),
        ("limit=ten", "limit must be an integer between 1 and 100"),
        ("limit=3&limit=4", "limit must be an integer between 1 and 100"),
        ("next_token=not-a-token!", "next_token is not valid"),
        (
            "next_token=" + base64.urlsafe_b64encode(b'{"client_id":{"S":"1"}}').decode(),
            "next_token is not valid",
        ),
        ("next_token=" + _token(district=2, client=4), "next_token is not valid"),  # another branch's token
    ],
)
def test_bad_paging_parameters_are_400(url: str, query: str, message: str) -> None:
    status, body, _ = fetch(f"{url}/branches/5/customers?{query}")
    assert status == 400 and message in body["error"]


def test_branch_ids_are_validated_and_unknown_branches_are_404(url: str) -> None:
    status, body, _ = fetch(f"{url}/branches/five/customers")
    assert status == 400 and "branch id must be a non-negative integer" in body["error"]
    status, body, _ = fetch(f"{url}/branches/77/customers")
    assert status == 404 and "no customers in branch district 77" in body["error"]


def test_other_paths_and_methods_get_json_404_and_405(url: str) -> None:
    status, body, _ = fetch(f"{url}/accounts/1")
    assert status == 404 and "no such resource" in body["error"]
    status, body, headers = fetch(f"{url}/customers/7", method="DELETE")
    assert status == 405 and headers["Allow"] == "GET" and "use GET" in body["error"]
    status, body, _ = fetch(f"{url}/branches/5/customers", method="POST")
    assert status == 405


def test_a_request_http_server_rejects_itself_still_gets_json(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"BREW /customers/7 HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 501") and b"application/json" in head
    assert json.loads(payload)["status"] == 501 and b"Traceback" not in reply


class ExplodingStore:
    def get(self, client_id: int) -> None:
        raise RuntimeError("secret internals\nTraceback (most recent call last): ...")

    def by_district(self, district_id: int, limit: int, start_key: Any) -> Any:
        raise KeyError("boom")


def test_an_unexpected_failure_is_a_json_500_without_a_traceback() -> None:
    lookup = api.LookupApi(ExplodingStore())
    for path in ("/customers/1", "/branches/1/customers"):
        reply = lookup.handle_event(
            {"version": "2.0", "rawPath": path, "requestContext": {"http": {"method": "GET"}}}
        )
        assert reply["statusCode"] == 500 and json.loads(reply["body"]) == {
            "error": "internal error",
            "status": 500,
        }


def test_a_missing_table_is_a_json_503(aws_env: str) -> None:
    store = api.DynamoProfiles(dynamodb_client(aws_env), lambda: "no-such-table")
    reply = api.LookupApi(store).handle("GET", "/customers/1", {})
    assert reply.status == 503 and "not available" in reply.body["error"]
    with pytest.raises(ServiceError, match="profile table cannot be read"):
        api.make_server(0, aws_env, "no-such-table")


def test_the_lambda_answers_http_api_and_rest_events_like_the_server(
    url: str, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_DYNAMODB_TABLE", table)
    v2 = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/prod/branches/5/customers",
        "rawQueryString": "limit=2",
        "queryStringParameters": {"limit": "2"},
        "requestContext": {"http": {"method": "GET"}, "stage": "prod"},
    }
    v1 = {
        "resource": "/{proxy+}",
        "path": "/branches/5/customers",
        "httpMethod": "GET",
        "queryStringParameters": {"limit": "2"},
        "multiValueQueryStringParameters": {"limit": ["2"]},
        "requestContext": {"stage": "prod"},
    }
    _, over_http, _ = fetch(f"{url}/branches/5/customers?limit=2")
    for event in (v2, v1):
        reply = api.lambda_handler(event, None)
        assert reply["statusCode"] == 200 and reply["headers"]["Content-Type"].startswith("application/json")
        assert json.loads(reply["body"]) == over_http
    bad = api.lambda_handler({**v1, "path": "/customers/x"}, None)
    assert bad["statusCode"] == 400 and "error" in json.loads(bad["body"])
    assert api.lambda_handler("not an event", None)["statusCode"] == 400  # type: ignore[arg-type]
    assert api.lambda_handler({"rawPath": "/customers/1", "requestContext": "x"}, None)["statusCode"] == 400


def test_serve_reads_the_table_the_ssm_parameter_names(aws_env: str, table: str) -> None:
    env = f"env-{uuid.uuid4().hex[:8]}"
    switch_table(aws_client("ssm", aws_env), ssm_parameter_name(env), table)
    ready = threading.Event()
    servers: list[ThreadingHTTPServer] = []

    def on_ready(server: ThreadingHTTPServer) -> None:
        servers.append(server)
        ready.set()

    thread = threading.Thread(
        target=api.serve, args=(0, aws_env, None), kwargs={"env": env, "on_ready": on_ready}, daemon=True
    )
    thread.start()
    assert ready.wait(10), "serve did not start"
    try:
        host, port = servers[0].server_address[:2]
        assert host == "127.0.0.1"
        status, body, _ = fetch(f"http://127.0.0.1:{port}/customers/3")
        assert status == 200 and body["client_id"] == 3
    finally:
        servers[0].shutdown()
    thread.join(10)
    assert not thread.is_alive()


def test_serve_without_a_table_or_parameter_fails_at_start(aws_env: str) -> None:
    with pytest.raises(ExportError, match="SSM parameter /c360/absent/dynamodb/profile-table does not exist"):
        api.serve(0, aws_env, None, env="absent")


def test_identifiers_in_a_table_filled_by_something_else_are_not_served(
    aws_env: str, table: str, url: str
) -> None:
    client = dynamodb_client(aws_env)
    client.put_item(
        TableName=table,
        Item={
            "client_id": {"N": "900"},
            "email": {"S": "x@example.com"},
            "phone": {"S": "555"},
            "age": {"N": "50"},
        },
    )
    status, body, _ = fetch(f"{url}/customers/900")
    assert status == 200 and body == {"client_id": 900, "age": 50}
