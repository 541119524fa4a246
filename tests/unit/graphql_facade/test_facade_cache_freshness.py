"""The response cache on its own: single flight, stale-while-revalidate within the bound, narrow
marking by events, read-your-writes positions, restarts of the event source."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.response_cache import (
    Answer,
    CacheConfig,
    MinPositionError,
    ResponseCache,
    State,
    format_positions,
    parse_min_positions,
)
from graphql_facade.response_cache.positions import covers
from mes.orders.v1 import orders_events_pb2 as ord_ev
from mes.orders.v1 import orders_pb2 as ords
from mes_contracts.events import LOT_RECEIVED, ORDER_STATUS_CHANGED

KEY = "resp:operator:board"


class Source:
    """A computation that counts its runs, answers ``version`` and can be held until released."""

    def __init__(self, reads: frozenset[str] = frozenset({"o:*:*"})) -> None:
        self.runs = 0
        self.version = 0
        self.reads: frozenset[str] | None = reads
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> Answer[int]:
        self.runs += 1
        seen = self.version
        if self.gate is not None:
            await self.gate.wait()
        return Answer(seen, f'{{"v":{seen}}}'.encode(), 3, self.reads)


def status_event(seq: int, order_id: str = "o1", partner: str = "p1") -> EventEnvelope:
    payload = ord_ev.OrderStatusChangedEvent(
        order_id=order_id,
        partner_id=partner,
        from_status=ords.ORDER_STATUS_SUBMITTED,
        to_status=ords.ORDER_STATUS_ACCEPTED,
    ).SerializeToString()
    return EventEnvelope("ORDERS", seq, ORDER_STATUS_CHANGED.subject, payload, datetime.now(UTC))


def make(**config: float) -> tuple[ResponseCache[int], EventHub]:
    hub = EventHub()
    hub.start_at({"ORDERS": 10, "INVENTORY": 0, "PRODUCTION": 0})
    defaults: dict[str, float] = {"max_stale_s": 0.2, "refresh_interval_s": 0.05}
    defaults.update(config)
    return ResponseCache(CacheConfig(**defaults), hub), hub  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_misses_make_one_computation() -> None:
    cache, _ = make()
    source = Source()
    source.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.fetch(KEY, None, source)) for _ in range(20)]
    await settle()
    source.gate.set()
    fetched = await asyncio.gather(*waiting)
    assert source.runs == 1
    assert sorted(f.state for f in fetched).count(State.MISS) == 1
    assert {f.state for f in fetched} == {State.MISS, State.WAIT}
    assert all(f.entry is not None and f.entry.data == b'{"v":0}' for f in fetched)
    assert cache.lookup(KEY)[0] is State.HIT


async def test_a_touched_answer_is_served_stale_while_one_recomputation_runs() -> None:
    cache, hub = make()
    source = Source()
    await cache.fetch(KEY, None, source)
    source.version = 1
    hub.publish(status_event(11))
    state, entry = cache.lookup(KEY)
    assert state is State.STALE and entry is not None and entry.data == b'{"v":0}'
    source.gate = asyncio.Event()
    await asyncio.sleep(0.06)  # the refresh interval since the first computation started
    for _ in range(10):  # many stale hits, one recomputation
        cache.refresh(KEY, entry, source)
    await settle()
    assert source.runs == 2
    assert cache.lookup(KEY)[0] is State.STALE  # still served while it runs
    source.gate.set()
    await settle()
    state, entry = cache.lookup(KEY)
    assert state is State.HIT and entry is not None and entry.data == b'{"v":1}'


async def test_past_the_bound_requests_wait_for_the_recomputation() -> None:
    cache, hub = make(max_stale_s=0.05, refresh_interval_s=0.05)
    source = Source()
    await cache.fetch(KEY, None, source)
    hub.publish(status_event(11))
    await asyncio.sleep(0.08)
    assert cache.lookup(KEY)[0] is State.EXPIRED
    source.version = 2
    fetched = await cache.fetch(KEY, None, source)
    assert fetched.state is State.MISS and fetched.entry is not None and fetched.entry.data == b'{"v":2}'


async def test_an_event_during_a_computation_leaves_its_answer_stale() -> None:
    cache, hub = make()
    source = Source()
    source.gate = asyncio.Event()
    task = asyncio.create_task(cache.fetch(KEY, None, source))
    await settle()
    hub.publish(status_event(11))  # received after the computation read its positions
    source.gate.set()
    fetched = await task
    assert fetched.entry is not None and fetched.entry.stale_since is not None
    assert cache.lookup(KEY)[0] is State.STALE


async def test_recomputations_are_debounced_and_bounded() -> None:
    cache, hub = make(refresh_interval_s=0.2, max_stale_s=1.0, refresh_concurrency=1)
    source = Source()
    await cache.fetch(KEY, None, source)
    await cache.fetch("other", None, source)
    hub.publish(status_event(11))
    _, entry = cache.lookup(KEY)
    _, other = cache.lookup("other")
    assert entry is not None and other is not None
    source.gate = asyncio.Event()
    await asyncio.sleep(0.2)
    cache.refresh(KEY, entry, source)
    cache.refresh("other", other, source)  # over the bound of one background computation
    await settle()
    assert source.runs == 3
    source.gate.set()
    await settle()
    hub.publish(status_event(12))
    _, entry = cache.lookup(KEY)
    _, other = cache.lookup("other")
    assert entry is not None and other is not None
    cache.refresh(KEY, entry, source)  # its last computation started less than the interval ago
    await settle()
    assert source.runs == 3
    cache.refresh("other", other, source)  # deferred before: starts now
    await asyncio.sleep(0.2)
    cache.refresh(KEY, entry, source)
    await settle()
    assert source.runs == 5


async def test_unrelated_events_leave_answers_fresh() -> None:
    cache, hub = make()
    await cache.fetch(KEY, None, Source(frozenset({"o:p2:*"})))
    hub.publish(status_event(11, partner="p1"))
    assert cache.lookup(KEY)[0] is State.HIT
    hub.publish(EventEnvelope("INVENTORY", 1, LOT_RECEIVED.subject, b"\xff\xff", datetime.now(UTC)))  # unreadable
    assert cache.lookup(KEY)[0] is State.STALE
    await cache.fetch("k2", None, Source(frozenset({"o:p2:*"})))
    hub.publish(status_event(12, partner="p1"))
    assert cache.lookup("k2")[0] is State.HIT


async def test_errors_are_shared_with_the_waiters_but_not_stored() -> None:
    cache, _ = make()
    source = Source()
    source.reads = None
    source.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.fetch(KEY, None, source)) for _ in range(3)]
    await settle()
    source.gate.set()
    fetched = await asyncio.gather(*waiting)
    assert source.runs == 1 and all(f.answer is not None and f.entry is None for f in fetched)
    assert cache.lookup(KEY)[0] is State.MISS


async def test_a_failed_computation_fails_its_waiters_and_the_next_request_computes_again() -> None:
    cache, _ = make()

    async def boom() -> Answer[int]:
        await asyncio.sleep(0)
        raise RuntimeError("backend down")

    results = await asyncio.gather(*(cache.fetch(KEY, None, boom) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert (await cache.fetch(KEY, None, Source())).state is State.MISS


async def test_newer_positions_bypass_the_answer_unless_it_is_known_to_reflect_them() -> None:
    cache, hub = make()
    source = Source()
    await cache.fetch(KEY, None, source)
    assert cache.lookup(KEY, {"ORDERS": 10})[0] is State.HIT  # computed at ORDERS:10
    assert cache.lookup(KEY, {"ORDERS": 11})[0] is State.BYPASS  # this replica has not seen 11 yet
    hub.publish(EventEnvelope("INVENTORY", 1, LOT_RECEIVED.subject, b"x", datetime.now(UTC)))
    hub.publish(status_event(11, partner="p2"))
    assert cache.lookup(KEY, {"ORDERS": 11})[0] is State.BYPASS  # stale: 11 may be the caller's write
    fetched = await cache.fetch(KEY, {"ORDERS": 11}, source)
    assert fetched.state is State.BYPASS and source.runs == 2
    assert cache.lookup(KEY, {"ORDERS": 11})[0] is State.HIT
    cache2, hub2 = make()
    await cache2.fetch(KEY, None, Source(frozenset({"o:p9:*"})))
    hub2.publish(status_event(11, partner="p1"))
    assert cache2.lookup(KEY, {"ORDERS": 11})[0] is State.HIT  # seen, and it did not touch the answer


def test_min_position_header() -> None:
    assert parse_min_positions(None) is None and parse_min_positions(" ") is None
    assert parse_min_positions("ORDERS:12, production:3,ORDERS:9") == {"ORDERS": 12, "PRODUCTION": 3}
    for bad in ("ORDERS", "ORDERS:-1", "NOPE:3", "ORDERS:1x", "ORDERS:1," * 40):
        with pytest.raises(MinPositionError, match="x-mes-min-position"):
            parse_min_positions(bad)
    assert format_positions({"PRODUCTION": 4, "ORDERS": 2, "INVENTORY": 0}) == "ORDERS:2,PRODUCTION:4"
    assert covers({"ORDERS": 5}, {"ORDERS": 5}, seen={}, fresh=False)
    assert not covers({"ORDERS": 5}, {"ORDERS": 6}, seen={"ORDERS": 6}, fresh=False)
    assert covers({"ORDERS": 5}, {"ORDERS": 6}, seen={"ORDERS": 6}, fresh=True)


async def test_a_restart_of_the_event_source_makes_everything_stale() -> None:
    cache, hub = make()
    await cache.fetch(KEY, None, Source(frozenset({"o:p2:*"})))
    hub.set_offline()
    assert cache.lookup(KEY)[0] is State.STALE
    await cache.fetch("k2", None, Source(frozenset({"o:p2:*"})))
    hub.start_at({})
    assert cache.lookup("k2")[0] is State.STALE


def test_config_from_env() -> None:
    config = CacheConfig.from_env(
        {"MES_FACADE_CACHE_MAX_STALE_MS": "1500", "MES_FACADE_CACHE_REFRESH_INTERVAL_MS": "300"}, ttl_s=30
    )
    assert (config.ttl_s, config.max_stale_s, config.refresh_interval_s, config.lease_s) == (30, 1.5, 0.3, 3.0)
    with pytest.raises(ValueError, match="must not exceed"):
        CacheConfig.from_env({"MES_FACADE_CACHE_REFRESH_INTERVAL_MS": "2000"})
    with pytest.raises(ValueError, match="milliseconds"):
        CacheConfig.from_env({"MES_FACADE_CACHE_LEASE_MS": "soon"})
    with pytest.raises(ValueError, match="CONCURRENCY"):
        CacheConfig.from_env({"MES_FACADE_CACHE_REFRESH_CONCURRENCY": "0"})


async def test_past_its_ttl_an_answer_is_recomputed_like_a_stale_one_without_a_stampede() -> None:
    cache, _ = make(ttl_s=0.05, max_stale_s=0.2, refresh_interval_s=0.0)
    source = Source()
    await cache.fetch(KEY, None, source)
    await asyncio.sleep(0.08)
    state, entry = cache.lookup(KEY)
    assert state is State.STALE and entry is not None  # served while one recomputation runs
    cache.refresh(KEY, entry, source)
    await settle()
    assert source.runs == 2 and cache.lookup(KEY)[0] is State.HIT
    await asyncio.sleep(0.4)  # past the TTL and the bound: gone
    assert cache.lookup(KEY)[0] is State.MISS
