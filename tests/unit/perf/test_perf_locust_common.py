"""What the locust scenarios share (perf/_locust_common.py), on a fake of locust's HttpSession:
which answers count as failures, and a throttled partner waiting as told."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from perf import _locust_common
from perf._locust_common import graphql_post


class FakeResponse:
    def __init__(self, status_code: int, body: str, headers: dict[str, str] | None = None) -> None:
        self.status_code, self.body, self.headers = status_code, body, headers or {}
        self.failures: list[str] = []

    def json(self) -> Any:
        return json.loads(self.body)

    def failure(self, message: str) -> None:
        self.failures.append(message)


class FakeSession:
    def __init__(self, response: FakeResponse) -> None:
        self.response = response
        self.posts: list[tuple[str, dict[str, Any], str]] = []

    @contextmanager
    def post(self, path: str, *, json: dict[str, Any], name: str, catch_response: bool) -> Iterator[FakeResponse]:
        assert catch_response
        self.posts.append((path, json, name))
        yield self.response


THROTTLED = json.dumps({"errors": [{"message": "slow down", "extensions": {"code": "THROTTLED"}}]})


@pytest.mark.parametrize(
    ("status", "body", "failures"),
    [
        (200, json.dumps({"data": {"orders": []}}), []),
        (200, json.dumps({"errors": [{"message": "no", "extensions": {"code": "NOT_FOUND"}}]}), ["HTTP 200 NOT_FOUND"]),
        (502, "<html>bad gateway</html>", ["HTTP 502, not JSON"]),
        (429, THROTTLED, ["HTTP 429 THROTTLED"]),  # an operator does not wait
    ],
)
def test_perf_locust_post_records_the_answer_as_success_or_failure(status: int, body: str, failures: list[str]) -> None:
    session = FakeSession(FakeResponse(status, body))
    answer = graphql_post(session, "board", "query Board { x }", "Board", {"first": 1})
    assert session.posts == [
        ("/graphql", {"query": "query Board { x }", "operationName": "Board", "variables": {"first": 1}}, "board")
    ]
    assert session.response.failures == failures
    assert answer == ({} if status == 502 else json.loads(body))


def test_perf_locust_throttled_partner_waits_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(_locust_common.time, "sleep", slept.append)
    session = FakeSession(FakeResponse(429, THROTTLED, {"Retry-After": "3"}))
    graphql_post(session, "orders", "{ x }", "PartnerOrders", {}, throttled_waits=True)
    assert session.response.failures == ["THROTTLED"]
    assert slept == [3.0]
