"""The profile lookup API: one handler, behind API Gateway as a Lambda and behind a local HTTP server.

Routes (JSON in every answer, errors included; never a traceback):

- ``GET /customers/{client_id}``: 200 with the customer's 360 profile (numbers as JSON numbers), 400 when the
  id is not a non-negative integer, 404 when no such customer is loaded.
- ``GET /branches/{district_id}/customers?limit=N&next_token=T``: 200 with one page of the district's customers,
  in ``client_id`` order, from the table's ``by_district`` index, and ``next_token`` (opaque) for the next page or
  null; 400 for a malformed id, limit or token, 404 when the district has no customers.
- Anything else: 404 for an unknown path, 405 (with ``Allow``) for a method other than GET on a known one.

The table is the one given, else the one the SSM parameter ``/c360/<env>/dynamodb/profile-table`` names (looked
up again at most every minute, so a full refresh's switch reaches running readers). On AWS the Lambda reads its
configuration from ``C360_DYNAMODB_TABLE`` (optional), ``C360_ENV`` and the usual ``AWS_*`` variables.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from c360.errors import C360Error, ServiceError
from c360.export.dynamodb import DIRECT_IDENTIFIERS, PARTITION_KEY
from c360.export.dynamodb_loader import (
    DEFAULT_ENV,
    DISTRICT_INDEX,
    DISTRICT_KEY,
    aws_client,
    resolve_table,
)

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_ID = 2**63 - 1
TABLE_TTL_SECONDS = 60.0
_ID = re.compile(r"[0-9]{1,19}")
_CUSTOMER = re.compile(r"/customers/([^/]*)")
_BRANCH = re.compile(r"/branches/([^/]*)/customers")
_deserializer = TypeDeserializer()


class BadRequest(ValueError):
    """The request is malformed: the message says which part and what is expected."""


class NotFound(LookupError):
    """The requested customer or district does not exist."""


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Key = dict[str, Any]


class ProfileStore(Protocol):
    def get(self, client_id: int) -> dict[str, Any] | None: ...

    def by_district(
        self, district_id: int, limit: int, start_key: Key | None
    ) -> tuple[list[dict[str, Any]], Key | None]: ...


# --- JSON --------------------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A deserialized DynamoDB value as plain JSON: integral Decimals as ints, others as floats, sets as lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(inner) for inner in value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value


def to_profile(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (typed attribute values) as a JSON-ready profile, without direct identifiers."""
    return {
        name: _plain(_deserializer.deserialize(value))
        for name, value in sorted(item.items())
        if name
        not in DIRECT_IDENTIFIERS  # the export never writes them; a table filled otherwise is no excuse
    }


# --- the DynamoDB store ------------------------------------------------------------------------------------------
class TableResolver:
    """The table name: fixed, or read from the SSM parameter and cached for ``ttl`` seconds."""

    def __init__(
        self,
        table_name: str | None,
        *,
        endpoint_url: str | None = None,
        env: str = DEFAULT_ENV,
        ttl: float = TABLE_TTL_SECONDS,
    ) -> None:
        self._fixed = table_name
        self._endpoint_url = endpoint_url
        self._env = env
        self._ttl = ttl
        self._cached: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._ssm: BaseClient | None = None

    def __call__(self) -> str:
        if self._fixed:
            return self._fixed
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[1] >= self._ttl:
                if self._ssm is None:
                    self._ssm = aws_client("ssm", self._endpoint_url)
                name = resolve_table(None, env=self._env, ssm_client=self._ssm)
                self._cached = (name, now)
            return self._cached[0]


class DynamoProfiles:
    """Profiles read from the DynamoDB table (``GetItem`` by key, ``Query`` on the ``by_district`` index)."""

    def __init__(self, client: BaseClient, table: Callable[[], str]) -> None:
        self.client = client
        self.table = table

    def get(self, client_id: int) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.table(), Key={PARTITION_KEY: {"N": str(client_id)}})
        item = response.get("Item")
        return to_profile(item) if item else None

    def by_district(
        self, district_id: int, limit: int, start_key: Key | None
    ) -> tuple[list[dict[str, Any]], Key | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table(),
            "IndexName": DISTRICT_INDEX,
            "KeyConditionExpression": "#district = :district",
            "ExpressionAttributeNames": {"#district": DISTRICT_KEY},
            "ExpressionAttributeValues": {":district": {"N": str(district_id)}},
            "Limit": limit,
        }
        if start_key is not None:
            kwargs["ExclusiveStartKey"] = start_key
        response = self.client.query(**kwargs)
        return [to_profile(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")


# --- request handling --------------------------------------------------------------------------------------------
def parse_id(raw: str, name: str) -> int:
    if not _ID.fullmatch(raw) or int(raw) > MAX_ID:
        raise BadRequest(f"{name} must be a non-negative integer (at most 19 digits), got {raw[:40]!r}")
    return int(raw)


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer between 1 and {MAX_LIMIT}, got {raw[:40]!r}")
    return int(raw)


def encode_token(key: Key) -> str:
    """An opaque page token: URL-safe base64 of the LastEvaluatedKey, without padding."""
    payload = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_token(token: str, district_id: int) -> Key:
    """The ExclusiveStartKey a token stands for; only a well-formed key of this district's index is accepted."""
    invalid = BadRequest("next_token is not valid: pass the next_token of the previous page unchanged")
    if len(token) > 1024:
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid from exc
    if not isinstance(key, dict) or set(key) != {PARTITION_KEY, DISTRICT_KEY}:
        raise invalid
    for value in key.values():
        if not isinstance(value, dict) or set(value) != {"N"} or not isinstance(value["N"], str):
            raise invalid
        if not _ID.fullmatch(value["N"]):
            raise invalid
    if int(key[DISTRICT_KEY]["N"]) != district_id:
        raise invalid
    return key


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"error": message, "status": status}, headers or {})


class LookupApi:
    """Answers the API's requests from a :class:`ProfileStore`; shared by the Lambda and the local server."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store

    def handle(self, method: str, path: str, query: dict[str, str]) -> Response:
        try:
            return self._route(method.upper(), path, query)
        except BadRequest as exc:
            return _error(400, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            log.error("DynamoDB answered %s for %s %s: %s", code, method, path, exc)
            if code == "ResourceNotFoundException":
                return _error(503, "the profile table is not available; try again later")
            return _error(502, "the profile store failed to answer; try again later")
        except (BotoCoreError, C360Error) as exc:
            log.error("the profile store is unreachable for %s %s: %s", method, path, exc)
            return _error(503, "the profile store is unreachable; try again later")
        except Exception:
            log.exception("unexpected error answering %s %s", method, path)
            return _error(500, "internal error")

    def _route(self, method: str, path: str, query: dict[str, str]) -> Response:
        customer = _CUSTOMER.fullmatch(path)
        branch = _BRANCH.fullmatch(path)
        if customer is None and branch is None:
            return _error(404, f"no such resource: {path[:200]}")
        if method != "GET":
            return _error(
                405, f"method {method[:20]} is not allowed on {path[:200]}; use GET", {"Allow": "GET"}
            )
        if customer is not None:
            return self._customer(parse_id(customer.group(1), "client_id"))
        assert branch is not None
        return self._branch(parse_id(branch.group(1), "branch id"), query)

    def _customer(self, client_id: int) -> Response:
        profile = self.store.get(client_id)
        if profile is None:
            raise NotFound(f"no customer with client_id {client_id}")
        return Response(200, profile)

    def _branch(self, district_id: int, query: dict[str, str]) -> Response:
        limit = parse_limit(query.get("limit"))
        token = query.get("next_token") or None
        start_key = decode_token(token, district_id) if token else None
        customers, last_key = self.store.by_district(district_id, limit, start_key)
        if not customers and start_key is None and last_key is None:
            raise NotFound(f"no customers in branch district {district_id}")
        return Response(
            200,
            {
                "district_id": district_id,
                "customers": customers,
                "count": len(customers),
                "next_token": encode_token(last_key) if last_key else None,
            },
        )

    # --- API Gateway ---------------------------------------------------------------------------------------------
    def handle_event(self, event: Any) -> dict[str, Any]:
        """An API Gateway proxy event (HTTP API v2 or REST v1) in, a proxy response out."""
        try:
            method, path, query = parse_event(event)
        except BadRequest as exc:
            response = _error(400, str(exc))
        else:
            response = self.handle(method, path, query)
        return proxy_response(response)


def _strip_stage(path: str, stage: str | None) -> str:
    if stage and stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        return path[len(stage) + 1 :] or "/"
    return path


def parse_event(event: Any) -> tuple[str, str, dict[str, str]]:
    """(method, path, query) of an API Gateway HTTP API (payload 2.0) or REST API proxy (1.0) event."""
    if not isinstance(event, dict):
        raise BadRequest("the event is not an API Gateway proxy event")
    try:
        return _parse_event(event)
    except BadRequest:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        raise BadRequest("the event is not a well-formed API Gateway proxy event") from exc


def _parse_event(event: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0" or "rawPath" in event:
        method = (context.get("http") or {}).get("method") or ""
        path = _strip_stage(event.get("rawPath") or "/", context.get("stage"))
        query = dict(event.get("queryStringParameters") or {})
    else:
        method = event.get("httpMethod") or ""
        path = event.get("path") or "/"
        multi = event.get("multiValueQueryStringParameters") or {}
        query = {key: ",".join(values) for key, values in multi.items()} or dict(
            event.get("queryStringParameters") or {}
        )
    if not method or not isinstance(method, str) or not isinstance(path, str):
        raise BadRequest("the event has no HTTP method or path")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in query.items()):
        raise BadRequest("the event's query parameters are not strings")
    return method, urllib.parse.unquote(path), query


def proxy_response(response: Response) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": {
            "Content-Type": "application/json; charset=utf-8",
            "Cache-Control": "no-store",
            **response.headers,
        },
        "body": json.dumps(response.body, separators=(",", ":"), ensure_ascii=False),
        "isBase64Encoded": False,
    }


# --- Lambda ------------------------------------------------------------------------------------------------------
def make_api(
    endpoint_url: str | None = None, table_name: str | None = None, *, env: str = DEFAULT_ENV
) -> LookupApi:
    """The API over DynamoDB: ``table_name``, else the table named by the SSM parameter of ``env``."""
    client = aws_client("dynamodb", endpoint_url, max_pool_connections=32)
    return LookupApi(DynamoProfiles(client, TableResolver(table_name, endpoint_url=endpoint_url, env=env)))


@lru_cache(maxsize=4)
def _lambda_api(table_name: str | None, env: str) -> LookupApi:
    return make_api(None, table_name, env=env)  # boto3 itself honours AWS_ENDPOINT_URL


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The Lambda behind API Gateway (HTTP API or REST proxy integration)."""
    try:
        api = _lambda_api(
            os.environ.get("C360_DYNAMODB_TABLE") or None, os.environ.get("C360_ENV") or DEFAULT_ENV
        )
    except Exception:
        log.exception("cannot configure the lookup API")
        return proxy_response(_error(503, "the profile store is not configured; try again later"))
    return api.handle_event(event)


# --- the local HTTP server ---------------------------------------------------------------------------------------
def _event_from_request(method: str, target: str) -> dict[str, Any]:
    url = urllib.parse.urlsplit(target)
    pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    query: dict[str, str] = {}
    for key, value in pairs:  # API Gateway v2 joins repeated parameters with commas
        query[key] = f"{query[key]},{value}" if key in query else value
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path,
        "rawQueryString": url.query,
        "queryStringParameters": query or None,
        "requestContext": {"http": {"method": method, "path": url.path}, "stage": "$default"},
    }


class _Handler(BaseHTTPRequestHandler):
    api: LookupApi
    server_version = "c360-lookup"
    sys_version = ""

    def _answer(self) -> None:
        result = self.api.handle_event(_event_from_request(self.command, self.path))
        payload = result["body"].encode()
        self.send_response(result["statusCode"])
        for name, value in result["headers"].items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors http.server detects itself (malformed request line, unsupported method...) as JSON too."""
        payload = json.dumps(
            {"error": message or self.responses.get(code, ("error",))[0], "status": code}
        ).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(payload)

    def log_message(
        self, format: str, *args: object
    ) -> None:  # quiet by default; debug logging shows requests
        log.debug("%s - %s", self.address_string(), format % args)


def _check_table(store: ProfileStore, endpoint_url: str | None) -> None:
    if not isinstance(store, DynamoProfiles):
        return
    try:
        store.client.describe_table(TableName=store.table())
    except ClientError as exc:
        raise ServiceError(f"the profile table cannot be read: {exc}") from exc
    except BotoCoreError as exc:
        raise ServiceError(f"DynamoDB is unreachable at {endpoint_url or 'AWS'}: {exc}") from exc


def make_server(
    port: int = 0,
    endpoint_url: str | None = None,
    table_name: str | None = None,
    *,
    host: str = "127.0.0.1",
    env: str = DEFAULT_ENV,
    check: bool = True,
) -> ThreadingHTTPServer:
    """The lookup API behind a ``ThreadingHTTPServer`` (not started). With ``check``, the table must resolve and
    exist first, so a misconfiguration fails at start with a clear message instead of on every request."""
    api = make_api(endpoint_url, table_name, env=env)
    if check:
        _check_table(api.store, endpoint_url)
    handler = type("LookupApiHandler", (_Handler,), {"api": api})
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise ServiceError(f"cannot listen on {host}:{port}: {exc}") from exc


def serve(
    port: int,
    endpoint_url: str | None = None,
    table_name: str | None = None,
    *,
    host: str = "127.0.0.1",
    env: str = DEFAULT_ENV,
    on_ready: Callable[[ThreadingHTTPServer], None] | None = None,
) -> None:
    """Serve the lookup API on ``host:port`` until interrupted (or until ``server.shutdown()``; ``on_ready``
    receives the server once it listens, e.g. to print its address or to stop it from another thread)."""
    with make_server(port, endpoint_url, table_name, host=host, env=env) as server:
        if on_ready is not None:
            on_ready(server)
        with suppress(KeyboardInterrupt):
            server.serve_forever()


@contextmanager
def serving(
    endpoint_url: str | None = None,
    table_name: str | None = None,
    *,
    port: int = 0,
    env: str = DEFAULT_ENV,
) -> Iterator[str]:
    """The lookup API on 127.0.0.1 (a free port by default) for the block; yields its base URL."""
    server = make_server(port, endpoint_url, table_name, env=env)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="c360-lookup-api", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
