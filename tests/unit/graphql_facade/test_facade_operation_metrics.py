"""RED per GraphQL operation and throttles per partner: the bounded ``operation`` label, the outcome of
an answer, and what the endpoint and the hit lane record for real requests (in-memory ASGI app)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from graphql_facade.metrics import OTHER_OPERATION, OperationNames, operation_outcome, record_refusal
from graphql_facade.pipeline import Pipeline
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    FacadeClient,
    add_full_pages,
    running_app,
    throttling_settings,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

NAMED = "query UnitOpOrders { orders(first: 5) { nodes { id } } }"
ANONYMOUS = "{ orders(first: 5) { nodes { id } } }"


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _operations(audience: str, operation: str, outcome: str) -> float:
    return _sample("mes_graphql_requests_total", audience=audience, operation=operation, outcome=outcome)


# -- the operation label ----------------------------------------------------------------------------


def test_the_label_is_the_operation_name_else_the_documents_one_named_operation() -> None:
    names = OperationNames()
    assert names.label(None, "SubmitOrder") == "SubmitOrder"  # a hash-only persisted query with its name
    assert names.label("query FloorPage { floor { asOf } }", None) == "FloorPage"
    assert names.label("query A { a } query B { b }", "B") == "B"
    assert names.label("query Doc { a }", "not a name!") == "Doc"


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        ("{ orders { id } }", None),  # anonymous
        ("query A { a } query B { b }", None),  # two operations, none picked
        ("query Broken {", None),  # does not parse
        (None, None),  # a hash-only persisted query without operationName
        (None, "1bad"),
        (42, ["x"]),  # not strings at all (the endpoint passes what the client sent)
    ],
)
def test_operations_without_a_usable_name_are_other(query: object, operation_name: object) -> None:
    assert OperationNames().label(query, operation_name) == OTHER_OPERATION


def test_names_beyond_the_bound_are_other_and_known_ones_keep_their_label() -> None:
    names = OperationNames(limit=2)
    assert [names.label(None, n) for n in ("A", "B", "C", "A", "D", "B")] == ["A", "B", "other", "A", "other", "B"]


# -- the outcome of an answer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, b'{"data":{"orders":{"nodes":[]}}}', "ok"),
        (200, b'{"data":{"errors":[{"id":"alias named errors"}]}}', "ok"),
        (200, b'{"data":null,"errors":[{"message":"m","extensions":{"code":"NOT_FOUND"}}]}', "client_error"),
        (200, b'{"data":{"a":null},"errors":[{"message":"m","extensions":{"code":"UNAVAILABLE"}}]}', "server_error"),
        (400, b'{"errors":[{"message":"m","extensions":{"code":"GRAPHQL_PARSE_FAILED"}}]}', "client_error"),
        (429, b'{"errors":[{"message":"m","extensions":{"code":"THROTTLED"}}]}', "client_error"),
        (503, b'{"errors":[{"message":"m","extensions":{"code":"OVERLOADED"}}]}', "server_error"),
        (500, b"", "server_error"),
    ],
)
def test_the_outcome_tells_the_callers_errors_from_the_servers(status: int, body: bytes, outcome: str) -> None:
    assert operation_outcome(status, body) == outcome


def test_only_partners_refusals_by_a_limit_are_counted_as_throttles() -> None:
    before = {
        code: _sample("mes_facade_throttled_total", partner="unit-p", code=code)
        for code in ("THROTTLED", "RATE_LIMITED", "BAD_REQUEST")
    }
    record_refusal("unit-p", "THROTTLED")
    record_refusal("unit-p", "RATE_LIMITED")
    record_refusal("unit-p", "BAD_REQUEST")
    record_refusal(None, "THROTTLED")  # an operator
    after = {code: _sample("mes_facade_throttled_total", partner="unit-p", code=code) for code in before}
    assert {code: after[code] - before[code] for code in before} == {
        "THROTTLED": 1.0,
        "RATE_LIMITED": 1.0,
        "BAD_REQUEST": 0.0,
    }
    assert REGISTRY.get_sample_value("mes_facade_throttled_total", {"partner": "unit-p", "code": "BAD_REQUEST"}) is None


# -- through the endpoint ---------------------------------------------------------------------------


async def test_named_and_anonymous_operations_are_counted_and_timed(client: FacadeClient) -> None:
    named_before = _operations("partner", "UnitOpOrders", "ok")
    timed_before = _sample("mes_graphql_request_duration_seconds_count", operation="UnitOpOrders")
    other_before = _operations("partner", OTHER_OPERATION, "ok")
    invalid_before = _operations("partner", OTHER_OPERATION, "client_error")
    assert (await client.gql(NAMED, headers=PARTNER_A)).status_code == 200
    assert (await client.gql(ANONYMOUS, headers=PARTNER_A)).status_code == 200
    assert (await client.gql("{ orders(first: 5) { nope } }", headers=PARTNER_A)).status_code == 400
    assert _operations("partner", "UnitOpOrders", "ok") == named_before + 1
    assert _sample("mes_graphql_request_duration_seconds_count", operation="UnitOpOrders") == timed_before + 1
    assert _operations("partner", OTHER_OPERATION, "ok") == other_before + 1
    assert _operations("partner", OTHER_OPERATION, "client_error") == invalid_before + 1


async def test_operators_cached_answers_are_counted_too(client: FacadeClient) -> None:
    query = "query UnitOpStyles { styles(first: 3) { nodes { sku } } }"
    before = _operations("operator", "UnitOpStyles", "ok")
    hits = _sample("mes_facade_cache_lookups_total", cache="response", result="hit")
    for _ in range(3):
        assert (await client.gql(query, headers=OPERATOR)).status_code == 200
    assert _operations("operator", "UnitOpStyles", "ok") == before + 3
    assert _sample("mes_facade_cache_lookups_total", cache="response", result="hit") > hits  # some were hits


async def test_a_throttled_partner_is_counted_by_partner_and_code(backend: FakeBackend) -> None:
    settings = throttling_settings()
    add_full_pages(backend, "partner-a")
    throttled = _sample("mes_facade_throttled_total", partner="partner-a", code="THROTTLED")
    refused = _operations("partner", "UnitOpOrders", "client_error")
    async with running_app(backend, settings) as client:
        statuses = [(await client.gql(NAMED, headers=PARTNER_A)).status_code for _ in range(8)]
    refusals = statuses.count(429)
    assert refusals >= 1
    assert _sample("mes_facade_throttled_total", partner="partner-a", code="THROTTLED") == throttled + refusals
    assert _operations("partner", "UnitOpOrders", "client_error") == refused + refusals


async def test_an_operation_that_fails_unexpectedly_is_a_server_error(
    client: FacadeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the pipeline")

    monkeypatch.setattr(Pipeline, "run", broken)
    before = _operations("partner", "UnitOpOrders", "server_error")
    response = await client.gql(NAMED, headers=PARTNER_A)
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert _operations("partner", "UnitOpOrders", "server_error") == before + 1
