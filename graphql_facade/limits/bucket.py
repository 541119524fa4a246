"""Leaky bucket of query-cost points per key (Shopify semantics).

A bucket holds at most ``limits.bucket_capacity`` points and refills continuously at
``limits.restore_rate`` points per second; a new key starts full. Before execution the
endpoint *takes* the requested cost: if the bucket holds at least that much it is
admitted and the points are removed, otherwise nothing is removed and the state says how
long to wait (``retry_after_s = (cost - available) / restore_rate``). After execution the
endpoint *refunds* ``requested - actual`` (never above capacity).

``take`` and ``refund`` never raise for a full bucket: they return a :class:`BucketState`.
A cost larger than the capacity can never be admitted; :class:`~graphql_facade.limits.tiers.Limits`
guarantees ``max_cost <= bucket_capacity`` and ``check_cost`` runs first.

Implementations:

* :class:`MemoryCostBucket` — one process (tests, single replica, the dev stack). An
  ``asyncio.Lock`` serializes updates; time comes from an injectable monotonic clock. The key
  table is an LRU bounded by ``max_keys`` (dropping an idle key hands it a full bucket, which it
  would have had anyway once refilled).
* :class:`RedisCostBucket` — shared by every facade replica. One Lua script reads, refills,
  decides and writes atomically (EVALSHA, EVAL on ``NOSCRIPT``); the clock is Redis ``TIME``
  read inside the script, so replicas with skewed clocks agree; state is a hash
  ``{available, ts}`` whose TTL is the time to refill, after which a missing key means "full".
  With ``fail_open=True`` (default) a Redis error admits the request and returns a state with
  ``degraded=True`` (and logs); ``fail_open=False`` propagates the error.

The request-rate limiter lives in :mod:`graphql_facade.limits.ratelimit` and is re-exported
here, together with :func:`make_limiters`, which picks Redis when a URL is given.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graphql_facade.limits._redis import LuaScript, as_float
from graphql_facade.limits.ratelimit import MemoryRateLimiter, RateLimiter, RateState, RedisRateLimiter
from graphql_facade.limits.tiers import Limits

__all__ = [
    "BucketState",
    "CostBucket",
    "Limiters",
    "MemoryCostBucket",
    "MemoryRateLimiter",
    "RateLimiter",
    "RateState",
    "RedisCostBucket",
    "RedisRateLimiter",
    "leak",
    "make_limiters",
]

log = logging.getLogger(__name__)
Clock = Callable[[], float]


@dataclass(frozen=True)
class BucketState:
    allowed: bool
    currently_available: float
    maximum_available: float
    restore_rate: float
    retry_after_s: float = 0.0
    degraded: bool = False  # the shared store was unreachable; nothing was enforced

    @classmethod
    def unthrottled(cls, limits: Limits) -> BucketState:
        """The state reported to callers whose bucket is not enforced (operators)."""
        return cls(True, float(limits.bucket_capacity), float(limits.bucket_capacity), limits.restore_rate)


class CostBucket(Protocol):
    async def take(self, key: str, cost: int, limits: Limits) -> BucketState: ...

    async def refund(self, key: str, amount: int, limits: Limits) -> BucketState: ...


def leak(available: float, elapsed_s: float, limits: Limits) -> float:
    """Points available after ``elapsed_s`` seconds of refill (capped at the capacity)."""
    return min(float(limits.bucket_capacity), available + max(elapsed_s, 0.0) * limits.restore_rate)


def _state(allowed: bool, available: float, limits: Limits, retry_after_s: float = 0.0) -> BucketState:
    return BucketState(allowed, available, float(limits.bucket_capacity), limits.restore_rate, retry_after_s)


class MemoryCostBucket:
    def __init__(self, *, clock: Clock = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (available, at)

    def _current(self, key: str, limits: Limits, now: float) -> float:
        entry = self._buckets.get(key)
        if entry is None:
            return float(limits.bucket_capacity)
        available, at = entry
        return leak(min(available, float(limits.bucket_capacity)), now - at, limits)

    def _store(self, key: str, available: float, now: float) -> None:
        self._buckets[key] = (available, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    # take and refund never await: the event loop runs each atomically (no lock needed).
    async def take(self, key: str, cost: int, limits: Limits) -> BucketState:
        now = self._clock()
        available = self._current(key, limits, now)
        if cost <= available:
            self._store(key, available - cost, now)
            return _state(True, available - cost, limits)
        self._store(key, available, now)
        return _state(False, available, limits, (cost - available) / limits.restore_rate)

    async def refund(self, key: str, amount: int, limits: Limits) -> BucketState:
        now = self._clock()
        available = min(float(limits.bucket_capacity), self._current(key, limits, now) + max(amount, 0))
        self._store(key, available, now)
        return _state(True, available, limits)


_BUCKET_LUA = LuaScript(
    """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'available', 'ts')
local available = tonumber(state[1])
local last = tonumber(state[2])
if available == nil or last == nil then
  available = capacity
  last = now
end
if now > last then
  available = available + (now - last) * rate
  last = now
end
if available > capacity then available = capacity end
local allowed = 1
local retry = 0
if ARGV[4] == 'take' then
  if amount <= available then
    available = available - amount
  else
    allowed = 0
    retry = (amount - available) / rate
  end
elseif amount > 0 then
  available = math.min(capacity, available + amount)
end
redis.call('HSET', KEYS[1], 'available', string.format('%.17g', available), 'ts', string.format('%.17g', last))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - available) / rate * 1000) + 1000)
return {allowed, string.format('%.17g', available), string.format('%.17g', retry)}
"""
)


class RedisCostBucket:
    def __init__(self, redis: Redis, *, prefix: str = "mes:limits:cost:", fail_open: bool = True) -> None:
        self._redis = redis
        self._prefix = prefix
        self._fail_open = fail_open

    async def _run(self, key: str, amount: int, limits: Limits, mode: str) -> BucketState:
        args = (limits.bucket_capacity, repr(float(limits.restore_rate)), amount, mode)
        try:
            allowed, available, retry = await _BUCKET_LUA(self._redis, [self._prefix + key], args)
        except RedisError:
            if not self._fail_open:
                raise
            log.warning("cost bucket unavailable, admitting request", exc_info=True)
            capacity = float(limits.bucket_capacity)
            return BucketState(True, capacity, capacity, limits.restore_rate, degraded=True)
        return _state(bool(int(allowed)), as_float(available), limits, as_float(retry))

    async def take(self, key: str, cost: int, limits: Limits) -> BucketState:
        return await self._run(key, cost, limits, "take")

    async def refund(self, key: str, amount: int, limits: Limits) -> BucketState:
        return await self._run(key, amount, limits, "refund")


@dataclass
class Limiters:
    """The cost bucket and the request-rate limiter of one facade process."""

    bucket: CostBucket
    rate: RateLimiter
    redis: Redis | None = None

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def make_limiters(redis_url: str | None, *, prefix: str = "mes:limits:", fail_open: bool = True) -> Limiters:
    """Redis-backed limiters when ``redis_url`` is given (shared by all replicas), memory otherwise."""
    if not redis_url:
        return Limiters(MemoryCostBucket(), MemoryRateLimiter())
    redis = Redis.from_url(redis_url)
    return Limiters(
        RedisCostBucket(redis, prefix=prefix + "cost:", fail_open=fail_open),
        RedisRateLimiter(redis, prefix=prefix + "rate:", fail_open=fail_open),
        redis,
    )
