"""Redis implementations on a real server: arithmetic, TTLs, script fallback, APQ, and atomicity
across two processes (each with its own event loop and connections)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graphql_facade.limits import (
    LimitCode,
    LimitError,
    Limits,
    RedisCostBucket,
    RedisPersistedQueryStore,
    RedisRateLimiter,
    make_limiters,
    query_hash,
    resolve_persisted_query,
)
from tests._infra.ports import free_port

ROOT = Path(__file__).resolve().parents[4]
WORKER = Path(__file__).with_name("_limits_redis_worker.py")
SLOW = Limits(max_cost=1000, bucket_capacity=1000, restore_rate=0.001)  # refill negligible in a test


async def test_bucket_take_refund_and_wait(redis_client: Redis, key_prefix: str) -> None:
    bucket = RedisCostBucket(redis_client, prefix=key_prefix)
    first = await bucket.take("p1", 600, SLOW)
    assert first.allowed
    assert first.currently_available == pytest.approx(400, abs=0.01)
    assert (first.maximum_available, first.restore_rate) == (1000.0, 0.001)
    refused = await bucket.take("p1", 500, SLOW)
    assert not refused.allowed
    assert refused.currently_available == pytest.approx(400, abs=0.01)
    assert refused.retry_after_s == pytest.approx(100 / 0.001, rel=1e-3)
    assert (await bucket.refund("p1", 300, SLOW)).currently_available == pytest.approx(700, abs=0.01)
    assert (await bucket.refund("p1", 10_000, SLOW)).currently_available == 1000.0
    assert (await bucket.take("p2", 1000, SLOW)).allowed


async def test_bucket_refills_with_redis_time(redis_client: Redis, key_prefix: str) -> None:
    fast = Limits(max_cost=1000, bucket_capacity=1000, restore_rate=1000.0)
    bucket = RedisCostBucket(redis_client, prefix=key_prefix)
    assert (await bucket.take("p1", 1000, fast)).currently_available < 50
    await asyncio.sleep(0.1)
    available = (await bucket.take("p1", 0, fast)).currently_available
    assert 90 <= available <= 1000


async def test_bucket_state_expires_once_it_would_be_full(redis_client: Redis, key_prefix: str) -> None:
    limits = Limits(max_cost=100, bucket_capacity=100, restore_rate=10.0)
    bucket = RedisCostBucket(redis_client, prefix=key_prefix)
    await bucket.take("p1", 50, limits)
    ttl_ms = await redis_client.pttl(key_prefix + "p1")
    assert 5000 < ttl_ms <= 6000  # 50 points / 10 per s = 5 s, plus 1 s of margin
    fields = await redis_client.hgetall(key_prefix + "p1")
    assert set(fields) == {b"available", b"ts"}


async def test_scripts_survive_a_script_cache_flush(redis_client: Redis, key_prefix: str) -> None:
    bucket = RedisCostBucket(redis_client, prefix=key_prefix)
    limiter = RedisRateLimiter(redis_client, prefix=key_prefix)
    await redis_client.script_flush()
    assert (await bucket.take("p1", 1, SLOW)).allowed  # NOSCRIPT -> EVAL
    assert (await limiter.hit("r1", 5, 60.0)).allowed
    from graphql_facade.limits.bucket import _BUCKET_LUA

    assert (await redis_client.script_exists(_BUCKET_LUA.sha)) == [True]


async def test_rate_limiter_gcra_on_redis(redis_client: Redis, key_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=key_prefix)
    states = [await limiter.hit("k", 10, 3600.0) for _ in range(11)]
    assert [s.remaining for s in states[:10]] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert all(s.allowed for s in states[:10]) and not states[10].allowed
    assert states[10].retry_after_s == pytest.approx(360.0, abs=1.0)
    assert states[9].reset_s == pytest.approx(3600.0, abs=1.0)
    assert 3_600_000 < await redis_client.pttl(key_prefix + "k") <= 3_601_000
    assert (await limiter.hit("other", 10, 3600.0, weight=4)).remaining == 6


async def test_string_responses_are_parsed_too(redis_url: str, key_prefix: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert (await RedisCostBucket(client, prefix=key_prefix).take("p", 5, SLOW)).currently_available == (
            pytest.approx(995, abs=0.01)
        )
        assert (await RedisRateLimiter(client, prefix=key_prefix).hit("r", 2, 60.0)).remaining == 1
        store = RedisPersistedQueryStore(client, prefix=key_prefix)
        await store.put("h", "{ a }")
        assert await store.get("h") == "{ a }"
    finally:
        await client.aclose()


async def test_persisted_queries_in_redis(redis_client: Redis, key_prefix: str) -> None:
    store = RedisPersistedQueryStore(redis_client, ttl_s=300, prefix=key_prefix)
    query = "{ viewer { name } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": query_hash(query)}}
    with pytest.raises(LimitError) as info:
        await resolve_persisted_query(store, None, extensions)
    assert info.value.code == LimitCode.PERSISTED_QUERY_NOT_FOUND
    assert await resolve_persisted_query(store, query, extensions) == query
    assert await resolve_persisted_query(store, None, extensions) == query
    key = key_prefix + query_hash(query)
    await redis_client.expire(key, 10)
    assert await store.get(query_hash(query)) == query
    assert 290 < await redis_client.ttl(key) <= 300  # a hit slides the TTL


async def test_make_limiters_with_a_url_uses_redis(redis_url: str, key_prefix: str) -> None:
    limiters = make_limiters(redis_url, prefix=key_prefix)
    try:
        assert isinstance(limiters.bucket, RedisCostBucket)
        assert isinstance(limiters.rate, RedisRateLimiter)
        assert limiters.redis is not None
        assert (await limiters.bucket.take("p", 1, SLOW)).allowed
        assert await limiters.redis.exists(key_prefix + "cost:p") == 1
        assert (await limiters.rate.hit("p", 1, 60.0)).allowed
        assert await limiters.redis.exists(key_prefix + "rate:p") == 1
    finally:
        await limiters.aclose()


async def test_unreachable_redis_fails_open_or_closed_as_configured() -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        state = await RedisCostBucket(client).take("p", 5, SLOW)
        assert state.allowed and state.degraded
        rate = await RedisRateLimiter(client).hit("p", 5, 60.0)
        assert rate.allowed and rate.degraded
        with pytest.raises(RedisError):
            await RedisCostBucket(client, fail_open=False).take("p", 5, SLOW)
        with pytest.raises(RedisError):
            await RedisRateLimiter(client, fail_open=False).hit("p", 5, 60.0)
    finally:
        await client.aclose()


# -- atomicity across processes ----------------------------------------------------------


async def _run_workers(redis_url: str, kind: str, prefix: str, calls_each: int, parties: int = 2) -> list[list[bool]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    args = [str(WORKER), redis_url, kind, prefix, "shared", str(calls_each), str(parties), prefix + "barrier"]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
        )
        for _ in range(parties)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=60)
    results = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        results.append(json.loads(out))
    return results


async def test_two_processes_never_overdraw_one_bucket(redis_url: str, redis_client: Redis, key_prefix: str) -> None:
    results = await _run_workers(redis_url, "bucket", key_prefix, calls_each=25)
    assert [len(r) for r in results] == [25, 25]
    assert sum(sum(r) for r in results) == 10  # capacity 100 / cost 10, whatever the interleaving
    available = float(await redis_client.hget(key_prefix + "shared", "available") or "nan")
    assert 0 <= available < 10


async def test_two_processes_never_exceed_one_rate_limit(redis_url: str, key_prefix: str) -> None:
    results = await _run_workers(redis_url, "rate", key_prefix, calls_each=25)
    assert sum(sum(r) for r in results) == 10
