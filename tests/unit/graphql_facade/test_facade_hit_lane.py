"""The hit lane answers operators' cached queries in front of Starlette exactly as the endpoint would,
and hands everything else to the endpoint untouched."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from graphql_facade.events import EventEnvelope
from graphql_facade.hit_lane import HitLane
from graphql_facade.response_cache import MIN_POSITION_HEADER
from mes.orders.v1 import orders_events_pb2 as ord_ev
from mes.orders.v1 import orders_pb2 as ords
from mes_contracts.events import ORDER_STATUS_CHANGED
from mes_platform.telemetry.trace_export import make_sampler
from mes_platform.telemetry.tracing import install_tracer
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

BOARD = "query Board($n: Int!) { orders(first: $n) { nodes { id status } } }"
BODY = {"query": BOARD, "variables": {"n": 10}, "operationName": "Board"}


def laned(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per request, whether the lane answered it."""
    served: list[bool] = []
    original = HitLane._serve

    async def spy(self: HitLane, *args: object) -> bool:
        answered = await original(self, *args)  # type: ignore[arg-type]
        served.append(answered)
        return answered

    monkeypatch.setattr(HitLane, "_serve", spy)
    return served


def comparable(response: httpx.Response) -> tuple[int, bytes, list[str], str]:
    return (
        response.status_code,
        response.content,
        sorted(response.headers.keys()),
        response.headers["content-type"],
    )


async def post(client: FacadeClient, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.http.post("/graphql", json=BODY, headers={**OPERATOR, **(headers or {})})


async def test_the_lane_answers_like_the_endpoint(
    client: FacadeClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.add_order("partner-a")
    await post(client)  # first sight: the endpoint computes it
    with monkeypatch.context() as off:

        async def decline(self: HitLane, *args: object) -> bool:
            return False

        off.setattr(HitLane, "_serve", decline)
        endpoint_hit = await post(client)  # the endpoint's hit
    served = laned(monkeypatch)
    lane_hit = await post(client)
    graphql_json = await post(client, {"accept": "application/graphql-response+json"})
    assert served == [True, True]
    assert comparable(lane_hit) == comparable(endpoint_hit)
    assert lane_hit.headers["ratelimit-policy"] == endpoint_hit.headers["ratelimit-policy"]
    assert lane_hit.headers["ratelimit"].startswith('"requests";r=')
    assert graphql_json.headers["content-type"] == "application/graphql-response+json"
    assert graphql_json.content == lane_hit.content
    assert backend.calls["ListOrders"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        PARTNER_A,
        {MIN_POSITION_HEADER: "ORDERS:1"},
        {"content-type": "text/plain"},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Basic op-token"},
    ],
)
async def test_what_the_lane_does_not_answer_reaches_the_endpoint(
    client: FacadeClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str]
) -> None:
    backend.add_order("partner-a")
    await post(client)
    await post(client)
    served = laned(monkeypatch)
    expected = await client.http.post("/graphql", json=BODY, headers={**OPERATOR, **headers}, timeout=10)
    assert served == []  # never even looked up
    assert expected.status_code in (200, 400, 401, 415)


async def test_batches_gets_and_mutations_go_to_the_endpoint(
    client: FacadeClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    served = laned(monkeypatch)
    mutation = {"query": "mutation($id: ID!) { cancelOrder(id: $id) { status } }", "variables": {"id": order.order_id}}
    for _ in range(2):
        await client.http.post("/graphql", json=mutation, headers=OPERATOR)
    assert backend.calls["CancelOrder"] == 2 and served == [False, False]  # no cached answer to give
    await client.http.get("/graphql", params={"query": BOARD, "variables": '{"n": 10}'}, headers=OPERATOR)
    batch = await client.http.post("/graphql", json=[BODY], headers=OPERATOR)
    assert batch.status_code == 400 and served == [False, False]


async def test_the_lane_applies_the_request_limit(backend: FakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    backend.add_order("partner-a")
    settings = facade_settings(MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE="3")
    async with running_app(backend, settings) as client:
        statuses = []
        served = laned(monkeypatch)
        for _ in range(4):
            statuses.append((await post(client)).status_code)
        limited = await post(client)
    assert statuses == [200, 200, 200, 429] and served == [False, True, True, True, True]
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "retry-after" in limited.headers


async def test_a_stale_answer_from_the_lane_starts_one_recomputation(
    backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    settings = facade_settings(MES_FACADE_CACHE_MAX_STALE_MS="1000", MES_FACADE_CACHE_REFRESH_INTERVAL_MS="0")
    async with running_app(backend, settings) as client:
        hub = client.facade.hub
        hub.start_at({"ORDERS": 5})
        await post(client)
        await post(client)
        served = laned(monkeypatch)
        payload = ord_ev.OrderStatusChangedEvent(
            order_id=order.order_id,
            partner_id="partner-a",
            from_status=order.status,
            to_status=ords.ORDER_STATUS_ACCEPTED,
        )
        order.status = ords.ORDER_STATUS_ACCEPTED
        hub.publish(
            EventEnvelope("ORDERS", 6, ORDER_STATUS_CHANGED.subject, payload.SerializeToString(), datetime.now(UTC))
        )
        stale = [(await post(client)).json()["data"]["orders"]["nodes"][0]["status"] for _ in range(3)]
        await asyncio.sleep(0.05)
        fresh = (await post(client)).json()["data"]["orders"]["nodes"][0]["status"]
    assert stale == ["SUBMITTED"] * 3 and fresh == "ACCEPTED" and served == [True] * 4
    assert backend.calls["ListOrders"] == 2


SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNSAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=make_sampler("parentbased_traceidratio", 0.0))  # only callers' sampled ones
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_tracer(provider.get_tracer("test"))
    try:
        yield exporter
    finally:
        install_tracer(None)


async def test_a_hit_the_caller_asks_to_trace_takes_the_traced_path(
    client: FacadeClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch, spans: InMemorySpanExporter
) -> None:
    backend.add_order("partner-a")
    await post(client)
    await post(client, {"traceparent": UNSAMPLED})  # not sampled: the lane's, nothing recorded
    spans.clear()
    served = laned(monkeypatch)
    lane_hit = await post(client, {"traceparent": UNSAMPLED})
    traced = await post(client, {"traceparent": SAMPLED})
    assert served == [True]  # the sampled one never reached the lane
    assert traced.content == lane_hit.content and backend.calls["ListOrders"] == 1  # a hit all the same
    [server] = spans.get_finished_spans()
    assert server.name == "POST /graphql" and server.parent is not None
    assert f"{server.context.trace_id:032x}" == SAMPLED.split("-")[1]
    assert f"{server.parent.span_id:016x}" == SAMPLED.split("-")[2]


async def test_without_spans_recorded_a_sampled_traceparent_still_takes_the_lane(
    client: FacadeClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.add_order("partner-a")
    await post(client)
    served = laned(monkeypatch)
    await post(client, {"traceparent": SAMPLED})
    assert served == [True]
