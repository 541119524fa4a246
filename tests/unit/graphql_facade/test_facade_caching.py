"""Response cache (serialized data, answered before GraphQL runs), tenant isolation, invalidation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from graphql_facade.caching import NullCache, open_cache
from graphql_facade.compiled import Runner
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.response_cache import CacheConfig, ResponseCache
from mes.orders.v1 import orders_pb2 as ords
from mes_contracts.events import LOT_RECEIVED, ORDER_STATUS_CHANGED, ORDER_SUBMITTED
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    PARTNER_B,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

BOARD = "query Board($f: OrderFilter) { orders(first: 20, filter: $f) { nodes { id status } } }"


def event(stream: str, seq: int, subject: str = ORDER_SUBMITTED.subject, data: bytes = b"") -> EventEnvelope:
    return EventEnvelope(stream=stream, seq=seq, subject=subject, data=data, time=datetime.now(UTC))


def forbid_execution(client: FacadeClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    ran: list[str] = []
    for schema in (client.facade.schemas.operator, client.facade.schemas.partner):
        original = schema.execute

        async def execute(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            ran.append("execute")
            return await _original(*args, **kwargs)

        monkeypatch.setattr(schema, "execute", execute)
    run = Runner.run

    async def compiled(self: Runner) -> Any:
        ran.append("execute")
        return await run(self)

    monkeypatch.setattr(Runner, "run", compiled)
    return ran


async def test_operator_hit_answers_without_graphql(
    client: FacadeClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.add_order("partner-a")
    ran = forbid_execution(client, monkeypatch)
    first = await client.gql(BOARD)
    second = await client.gql(BOARD)
    assert first.json()["data"] == second.json()["data"]
    assert ran == ["execute"]  # the second answer never reached Strawberry
    assert backend.calls["ListOrders"] == 1
    assert (
        second.json()["extensions"]["cost"]["actualQueryCost"] == first.json()["extensions"]["cost"]["actualQueryCost"]
    )


async def test_variables_and_operation_are_part_of_the_key(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a", status=ords.ORDER_STATUS_SHIPPED)
    await client.gql(BOARD, {"f": {"statuses": ["SHIPPED"]}})
    other = await client.gql(BOARD, {"f": {"statuses": ["SUBMITTED"]}})
    assert other.json()["data"]["orders"]["nodes"] == []
    reordered = await client.gql(BOARD, {"f": {"lateOnly": False, "statuses": ["SHIPPED"]}})
    assert len(reordered.json()["data"]["orders"]["nodes"]) == 1
    assert backend.calls["ListOrders"] == 3


async def test_partner_b_never_receives_partner_a_data(client: FacadeClient, backend: FakeBackend) -> None:
    a = backend.add_order("partner-a")
    b = backend.add_order("partner-b")
    query = "{ orders(first: 10) { nodes { id partnerReference } } }"
    seen_a = (await client.gql(query, headers=PARTNER_A)).json()["data"]
    seen_a_again = (await client.gql(query, headers=PARTNER_A)).json()["data"]
    seen_b = (await client.gql(query, headers=PARTNER_B)).json()["data"]
    assert (
        seen_a == seen_a_again == {"orders": {"nodes": [{"id": a.order_id, "partnerReference": a.partner_reference}]}}
    )
    assert seen_b == {"orders": {"nodes": [{"id": b.order_id, "partnerReference": b.partner_reference}]}}
    assert backend.calls["ListOrders"] == 2  # A's second answer came from the cache, B's did not
    operator = (await client.gql(query)).json()
    assert len(operator["data"]["orders"]["nodes"]) == 2


async def test_partner_hits_still_pay_their_cost(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    query = "{ orders(first: 10) { nodes { id } } }"
    first = (await client.gql(query, headers=PARTNER_A)).json()["extensions"]["cost"]
    second = (await client.gql(query, headers=PARTNER_A)).json()["extensions"]["cost"]
    assert second["requestedQueryCost"] == first["requestedQueryCost"]
    assert second["actualQueryCost"] == first["actualQueryCost"]
    assert second["throttleStatus"]["currentlyAvailable"] < 2000


async def test_an_event_makes_fresh_data_visible(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    hub = client.facade.hub
    hub.start_at({"ORDERS": 10, "INVENTORY": 0, "PRODUCTION": 0})
    before = (await client.gql(BOARD)).json()["data"]["orders"]["nodes"][0]["status"]
    order.status = ords.ORDER_STATUS_ACCEPTED
    cached = (await client.gql(BOARD)).json()["data"]["orders"]["nodes"][0]["status"]
    assert before == cached == "SUBMITTED"
    hub.publish(event("ORDERS", 11, ORDER_STATUS_CHANGED.subject))
    fresh = (await client.gql(BOARD)).json()["data"]["orders"]["nodes"][0]["status"]
    assert fresh == "ACCEPTED"
    as_of = (await client.gql("{ asOf { seq } }")).json()["data"]["asOf"]
    assert as_of == {"seq": 11}


async def test_errors_are_not_cached(client: FacadeClient, backend: FakeBackend) -> None:
    import grpc

    from clients import UnavailableError

    backend.fail["CountOrders"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    query = "{ orderCounts { total } }"
    assert "errors" in (await client.gql(query)).json()
    del backend.fail["CountOrders"]
    assert (await client.gql(query)).json()["data"] == {"orderCounts": {"total": 0}}


async def test_mutations_are_never_cached(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a")
    mutation = "mutation($id: ID!) { cancelOrder(id: $id) { status } }"
    await client.gql(mutation, {"id": order.order_id})
    again = await client.gql(mutation, {"id": order.order_id})
    assert again.json()["errors"][0]["extensions"]["code"] == "INVALID_STATE_TRANSITION"
    assert backend.calls["CancelOrder"] == 2


async def test_caches_off(backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
        assert isinstance(client.facade.cache, NullCache) and client.facade.responses is None
        await client.gql(BOARD)
        await client.gql(BOARD)
    assert backend.calls["ListOrders"] == 2


async def test_response_cache_keys() -> None:
    hub = EventHub()
    responses: ResponseCache[object] = ResponseCache(CacheConfig(), hub)

    def key(scope: str, variables: dict[str, Any] | None = None, name: str | None = None) -> str:
        return responses.key(scope=scope, document_id="doc", operation_name=name, variables=variables)

    assert key("partner:a") != key("partner:b") != key("operator")
    assert key("operator", {"a": 1, "b": 2}) == key("operator", {"b": 2, "a": 1})
    assert key("operator", {"a": 1}) != key("operator", {"a": 2})
    assert key("operator", name="A") != key("operator", name="B")
    assert "partner:a" in key("partner:a")  # the tenant is visible in the key
    hub.start_at({"ORDERS": 5})
    live = key("operator")
    hub.publish(event("INVENTORY", 1, LOT_RECEIVED.subject))
    assert key("operator") == live  # events mark entries stale; keys stay


async def test_memory_store_round_trip_and_ttl() -> None:
    import asyncio

    cache = open_cache(None, max_entries=2)
    await cache.set("a", b"1", 0.05)
    await cache.set_many({"b": b"2"}, 60)
    await cache.set("c", b"3", 60)  # full: the new entry is dropped (nothing is evicted before its TTL)
    assert await cache.get_many(["a", "b", "c"]) == [b"1", b"2", None]
    await asyncio.sleep(0.1)
    assert await cache.get("a") is None
    await cache.delete("b")
    assert await cache.get("b") is None
    await cache.aclose()


async def test_hash_only_persisted_queries_hit_without_the_store(
    client: FacadeClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    backend.add_order("partner-a")
    digest = hashlib.sha256(BOARD.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    await client.http.post("/graphql", json={"query": BOARD, "extensions": apq}, headers=OPERATOR)
    lookups: list[str] = []
    store = client.facade.apq
    original = store.get

    async def spy(sha256: str) -> str | None:
        lookups.append(sha256)
        return await original(sha256)

    monkeypatch.setattr(store, "get", spy)
    by_hash = await client.http.post("/graphql", json={"extensions": apq}, headers=OPERATOR)
    assert by_hash.json()["data"]["orders"]["nodes"]
    assert lookups == [] and backend.calls["ListOrders"] == 1
    by_text = await client.gql(BOARD)  # the same document sent as text shares the entry
    assert by_text.json()["data"] == by_hash.json()["data"] and backend.calls["ListOrders"] == 1
