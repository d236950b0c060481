"""The CRM REST API (the design's ``c360viewCRMApi``) and its consumer (``c360viewGetCRMApi``).

``GET /customers?as_of=<ISO time>&updated_since=<ISO time>&page_size=<n>&page_token=<t>`` returns the customers
as the CRM holds them at ``as_of``, optionally only those created or changed after ``updated_since``, one page at
a time: ``{"customers": [...], "next_page_token": "..." | null}``. One function answers every request; it runs
behind a real local HTTP server (``serve``) and, on AWS, as the Lambda behind API Gateway (``c360view_crm_api``).
The consumer pulls every page over HTTP and lands strict JSON Lines in the raw zone.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from c360.settings import Settings
from c360.storage import Lake
from ingestion import crm
from ingestion.common import event_day, start_of_day

DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


class CrmApiError(RuntimeError):
    """The CRM API answered with an error or could not be reached."""


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]


@lru_cache(maxsize=4)
def _population(seed: int, scale: float, end_date_iso: str) -> crm.Population:
    from datetime import date

    return crm.build_population(seed, scale, date.fromisoformat(end_date_iso))


@lru_cache(maxsize=8)
def _records(
    seed: int, scale: float, end_date_iso: str, as_of: datetime, since: datetime | None
) -> list[dict[str, Any]]:
    """The customers as of ``as_of`` (changed after ``since``), computed once for all the pages of a pull: per
    page, the whole list again made a pull quadratic (45 s for the 54,000 customers of scale 10)."""
    return crm.records_at(_population(seed, scale, end_date_iso), as_of, since=since)


def _parse_time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO-8601 time, got {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def handle(settings: Settings, path: str, query: dict[str, str]) -> Response:
    """Answer one API request (shared by the HTTP server and the Lambda handler)."""
    if path.rstrip("/") != "/customers":
        return Response(404, {"error": f"no such resource: {path}"})
    try:
        as_of = _parse_time(query.get("as_of") or start_of_day(settings.end_date).isoformat(), "as_of")
        since = _parse_time(query["updated_since"], "updated_since") if query.get("updated_since") else None
        page_size = int(query.get("page_size") or DEFAULT_PAGE_SIZE)
        offset = int(query.get("page_token") or 0)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if offset < 0:
            raise ValueError("page_token is not valid")
    except ValueError as exc:
        return Response(400, {"error": str(exc)})
    records = _records(settings.seed, settings.scale, settings.end_date.isoformat(), as_of, since)
    page = records[offset : offset + page_size]
    next_token = str(offset + page_size) if offset + page_size < len(records) else None
    return Response(200, {"customers": page, "next_page_token": next_token, "as_of": as_of.isoformat()})


class _Handler(BaseHTTPRequestHandler):
    settings: Settings

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = {key: values[-1] for key, values in urllib.parse.parse_qs(url.query).items()}
        response = handle(self.settings, url.path, query)
        payload = json.dumps(response.body, separators=(",", ":")).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # quiet by default
        return


@contextmanager
def serve(settings: Settings, port: int = 0) -> Iterator[str]:
    """Run the CRM API on 127.0.0.1 (a free port by default) for the duration of the block; yield its base URL."""
    handler = type("CrmApiHandler", (_Handler,), {"settings": settings})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, name="crm-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pull(
    base_url: str, as_of: datetime, since: datetime | None, page_size: int = DEFAULT_PAGE_SIZE
) -> list[dict]:
    """Every customer the API returns for (as_of, since), following the pages."""
    customers: list[dict] = []
    token: str | None = "0"
    while token is not None:
        params = {"as_of": as_of.isoformat(), "page_size": str(page_size), "page_token": token}
        if since is not None:
            params["updated_since"] = since.isoformat()
        url = f"{base_url.rstrip('/')}/customers?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(_request(url), timeout=60) as reply:
                body = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            raise CrmApiError(
                f"CRM API {url} answered {exc.code}: {exc.read().decode(errors='replace')}"
            ) from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise CrmApiError(f"CRM API {url} is unreachable: {exc}") from exc
        customers.extend(body["customers"])
        token = body.get("next_page_token")
    return customers


def _request(url: str) -> urllib.request.Request:
    """A GET request for ``url``; signed with SigV4 for API Gateway's IAM authorization when
    ``C360_CRM_API_AUTH=iam`` (as deployed on AWS), using the standard AWS credential chain."""
    request = urllib.request.Request(url, method="GET")
    if os.environ.get("C360_CRM_API_AUTH", "").lower() != "iam":
        return request
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise CrmApiError("C360_CRM_API_AUTH=iam but no AWS credentials are available to sign the request")
    signed = AWSRequest(method="GET", url=url)
    SigV4Auth(
        credentials.get_frozen_credentials(), "execute-api", session.region_name or "us-east-1"
    ).add_auth(signed)
    for name, value in signed.headers.items():
        request.add_header(name, value)
    return request


def c360view_crm_api(event: dict, context: object) -> dict:
    """Lambda behind API Gateway (REST or HTTP API proxy events): the CRM API."""
    path = event.get("rawPath") or event.get("path") or "/"
    query = event.get("queryStringParameters") or {}
    response = handle(Settings(), path, query)
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(response.body, separators=(",", ":")),
    }


def c360view_get_crm_api(event: dict, context: object) -> dict:
    """Lambda on an EventBridge schedule: pull the CRM changes of the event's day from ``C360_CRM_API_URL`` and
    land them in the raw zone."""
    base_url = os.environ.get("C360_CRM_API_URL")
    if not base_url:
        raise CrmApiError("C360_CRM_API_URL is not set: the CRM API's base URL is needed")
    settings = Settings()
    day = event_day(event)
    at = start_of_day(day)
    records = pull(base_url, as_of=at, since=at - timedelta(days=1))
    uri = crm.write_extract(Lake(settings.lake), records, at)
    return {"source": crm.SOURCE, "uri": uri, "records": len(records)}
