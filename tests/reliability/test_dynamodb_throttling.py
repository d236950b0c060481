"""DynamoDB throttling, injected on the wire: the first BatchWriteItem calls get the throttling error DynamoDB sends
(HTTP 400 ``ThrottlingException``, ``ProvisionedThroughputExceededException``); the loader's client retries them and
every profile is written exactly once. (UnprocessedItems are injected in tests/test_dynamodb_loader.py.)"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from c360.errors import ExportError
from c360.export.dynamodb_loader import Backoff, dynamodb_client, load_profiles
from c360.storage import Lake
from tests.test_dynamodb_loader import mart_rows, scan, unique, write_mart

THROTTLES = ("ThrottlingException", "ProvisionedThroughputExceededException")


class Throttler:
    """Answers the first ``throttled`` BatchWriteItem calls with a throttling error instead of sending them."""

    def __init__(self, client: Any, throttled: int) -> None:
        self.throttled = throttled
        self.calls = 0
        self.rejected = 0
        self.sent: Counter[str] = Counter()
        self.lock = threading.Lock()
        client.meta.events.register("before-send.dynamodb.BatchWriteItem", self.maybe_throttle)

    def maybe_throttle(self, request: Any, **_: Any) -> AWSResponse | None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.throttled:
                self.rejected += 1
                code = THROTTLES[self.calls % 2]
                body = json.dumps(
                    {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "slow down"}
                )
                return AWSResponse(request.url, 400, {"x-amzn-ErrorType": code}, _Raw(body.encode()))
            body = json.loads(request.body)
            for requests in body["RequestItems"].values():
                for r in requests:
                    self.sent[r["PutRequest"]["Item"]["client_id"]["N"]] += 1
        return None


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    lake.ensure_zones()
    return lake


def test_throttled_batches_are_retried_until_every_item_is_written_once(lake: Lake, aws_env: str) -> None:
    write_mart(lake, mart_rows(120))
    client = dynamodb_client(aws_env, workers=2)
    throttler = Throttler(client, throttled=3)
    name = unique()
    result = load_profiles(lake, name, client=client, workers=2)
    assert result.items == 120 and throttler.rejected == 3
    assert throttler.calls == result.batches + 3, "each throttled call was sent again"
    assert dict(throttler.sent) == {str(i): 1 for i in range(1, 121)}, (
        "every item sent once, after the throttles"
    )
    assert sorted(int(item["client_id"]) for item in scan(client, name)) == list(range(1, 121))


def test_throttling_that_never_ends_fails_with_a_count_of_the_items_not_written(
    lake: Lake, aws_env: str
) -> None:
    write_mart(lake, mart_rows(10))
    client = boto3.client(  # one botocore attempt per call, to keep the test short
        "dynamodb",
        endpoint_url=aws_env,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    throttler = Throttler(client, throttled=10**6)
    sleeps: list[float] = []
    with pytest.raises(ExportError, match=r"10 of 10 items were not written .* after 3 attempts"):
        load_profiles(
            lake,
            unique(),
            client=client,
            workers=1,
            backoff=Backoff(base=0.001, max_attempts=3, sleep=sleeps.append),
        )
    assert throttler.calls >= 3 and len(sleeps) == 2 and not throttler.sent  # 3 rounds, each throttled
