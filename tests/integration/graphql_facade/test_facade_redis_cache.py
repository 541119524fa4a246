"""The caches on Redis, shared by two facade replicas: answers across replicas, tenant isolation,
invalidation by events, and the lease that lets one replica compute a key while the other waits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from graphql_facade.caching import Cache, open_cache
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.response_cache import Answer, CacheConfig, ResponseCache
from mes.orders.v1 import orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED
from tests.integration.graphql_facade.conftest import facade_app
from tests.unit.graphql_facade.conftest import PARTNER_A_KEY, PARTNER_B_KEY, facade_settings
from tests.unit.graphql_facade.facade_fakes import FakeBackend

PARTNER_A = {"X-API-Key": PARTNER_A_KEY}
PARTNER_B = {"X-API-Key": PARTNER_B_KEY}
OPERATOR = {"Authorization": "Bearer op-token"}
QUERY = "{ orders(first: 10) { nodes { id partnerReference status } } }"


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    value = f"mes-test:facade:{uuid.uuid4().hex}:"
    yield value
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=value + "*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def redis_cache(redis_url: str, prefix: str) -> Cache:
    return open_cache(redis_url, prefix=prefix)


async def test_store_round_trip(redis_url: str, prefix: str) -> None:
    cache = redis_cache(redis_url, prefix)
    await cache.set("k", b"\x00\xffbytes", 60)
    await cache.set_many({"a": b"1", "b": b"2"}, 0.5)
    assert await cache.get("k") == b"\x00\xffbytes"
    assert await cache.get_many(["a", "b", "missing"]) == [b"1", b"2", None]
    await cache.delete("k")
    assert await cache.get("k") is None
    await cache.aclose()


async def test_unreachable_redis_is_a_miss_not_an_error() -> None:
    cache = open_cache("redis://127.0.0.1:1/0")
    assert await cache.get("k") is None
    await cache.set("k", b"v", 1)  # logged and counted, not raised
    await cache.aclose()


async def test_replicas_share_entries_but_never_across_tenants(redis_url: str, prefix: str) -> None:
    backend = FakeBackend()
    backend.add_partner("partner-a", PARTNER_A_KEY)
    backend.add_partner("partner-b", PARTNER_B_KEY)
    a = backend.add_order("partner-a")
    b = backend.add_order("partner-b")
    hub_one, hub_two = EventHub(), EventHub()
    for hub in (hub_one, hub_two):
        hub.start_at({"ORDERS": 50, "INVENTORY": 0, "PRODUCTION": 0})  # as if both consumed the same stream
    settings = facade_settings(REDIS_URL=redis_url)
    async with (
        facade_app(settings, backend=backend, cache=redis_cache(redis_url, prefix), hub=hub_one) as one,
        facade_app(settings, backend=backend, cache=redis_cache(redis_url, prefix), hub=hub_two) as two,
    ):
        seen_a = (await one.gql(QUERY, headers=PARTNER_A)).json()["data"]
        assert seen_a["orders"]["nodes"] == [
            {"id": a.order_id, "partnerReference": a.partner_reference, "status": "IN_PRODUCTION"}
        ]
        calls = backend.calls["ListOrders"]
        again_a = (await two.gql(QUERY, headers=PARTNER_A)).json()["data"]
        assert again_a == seen_a and backend.calls["ListOrders"] == calls  # the other replica's entry
        seen_b = (await two.gql(QUERY, headers=PARTNER_B)).json()["data"]
        assert seen_b["orders"]["nodes"] == [
            {"id": b.order_id, "partnerReference": b.partner_reference, "status": "IN_PRODUCTION"}
        ]
        assert a.order_id not in str(seen_b)
        operator = (await one.gql(QUERY, headers=OPERATOR)).json()["data"]
        assert len(operator["orders"]["nodes"]) == 2

        a.status = orders_pb2.ORDER_STATUS_READY_TO_SHIP
        event = EventEnvelope("ORDERS", 51, ORDER_STATUS_CHANGED.subject, b"", datetime.now(UTC))
        for hub in (hub_one, hub_two):
            hub.publish(event)
        fresh = (await two.gql(QUERY, headers=PARTNER_A)).json()["data"]
        assert fresh["orders"]["nodes"][0]["status"] == "READY_TO_SHIP"


async def test_keys_in_redis_carry_the_tenant(redis_url: str, prefix: str) -> None:
    hub = EventHub()
    cache = redis_cache(redis_url, prefix)
    responses: ResponseCache[None] = ResponseCache(CacheConfig(ttl_s=5), hub, shared=cache)
    key_a = responses.key(scope="partner:partner-a", document_id="d", operation_name=None, variables=None)
    key_b = responses.key(scope="partner:partner-b", document_id="d", operation_name=None, variables=None)

    async def compute() -> Answer[None]:
        return Answer(None, b'{"x":1}', 3, frozenset({"o:partner-a:*"}))

    await responses.fetch(key_a, None, compute)
    other: ResponseCache[None] = ResponseCache(CacheConfig(ttl_s=5), hub, shared=cache)  # another replica
    assert other.lookup(key_b)[1] is None
    fetched = await other.fetch(key_a, None, compute_nothing)
    assert fetched.entry is not None and fetched.entry.data == b'{"x":1}' and fetched.entry.cost == 3
    client = Redis.from_url(redis_url)
    stored = [key.decode() async for key in client.scan_iter(match=prefix + "*")]
    await client.aclose()
    assert stored == [prefix + key_a] and ":partner:partner-a:" in stored[0]
    await responses.aclose()
    await other.aclose()
    await cache.aclose()


async def compute_nothing() -> Answer[None]:
    raise AssertionError("the other replica's answer should have been taken")


async def test_one_replica_computes_a_key_while_the_others_wait_for_it(redis_url: str, prefix: str) -> None:
    """Concurrent misses of one key on three replicas: one computation (with the lease), not three."""
    cache = redis_cache(redis_url, prefix)
    hubs = [EventHub() for _ in range(3)]
    strict = CacheConfig(max_stale_s=0, refresh_interval_s=0)
    replicas: list[ResponseCache[int]] = [ResponseCache(strict, hub, shared=cache) for hub in hubs]
    key = replicas[0].key(scope="operator", document_id="board", operation_name=None, variables=None)
    runs: list[int] = []

    async def compute() -> Answer[int]:
        runs.append(1)
        await asyncio.sleep(0.3)  # long enough for every replica to miss meanwhile
        return Answer(len(runs), b'{"board":[]}', 5, frozenset({"o:*:*"}))

    fetched = await asyncio.gather(*(r.fetch(key, None, compute) for r in replicas for _ in range(4)))
    assert len(runs) == 1
    assert all(f.entry is not None and f.entry.data == b'{"board":[]}' for f in fetched)
    for hub in hubs:  # every replica's event source restarts: nothing they hold is known fresh
        hub.start_at({"ORDERS": 10})
    runs.clear()
    fetched = await asyncio.gather(*(r.fetch(key, None, compute) for r in replicas))
    assert len(runs) == 1 and [f.entry is not None for f in fetched] == [True] * 3
    separate = redis_cache(redis_url, prefix + "x:")
    without_lease = [ResponseCache(CacheConfig(lease_s=0), EventHub(), shared=separate) for _ in range(3)]
    runs.clear()
    await asyncio.gather(*(r.fetch(key, None, compute) for r in without_lease))
    assert len(runs) == 3  # what the lease saves
    for replica in (*replicas, *without_lease):
        await replica.aclose()
    await cache.aclose()
    await separate.aclose()
