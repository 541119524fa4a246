"""Request-rate limiter per key: GCRA (generic cell rate algorithm).

``hit(key, limit, window_s)`` admits at most ``limit`` requests per ``window_s`` seconds,
spread out: a burst of ``limit`` is allowed from idle, after which one request is admitted
every ``window_s / limit`` seconds. GCRA stores a single number per key — the *theoretical
arrival time* (TAT) — so it is exact, O(1) and needs no log of timestamps:

* ``interval = window_s / limit``; ``tat = max(stored_tat, now)``;
* ``new_tat = tat + weight * interval``; admit when ``now >= new_tat - window_s``, then store
  ``new_tat``; otherwise store nothing and report ``retry_after_s = new_tat - window_s - now``;
* ``remaining = floor((window_s - (tat' - now)) / interval)``, ``reset_s = tat' - now`` (the
  seconds until the whole quota is available again), where ``tat'`` is the stored TAT.

``weight`` (default 1) charges several units at once (e.g. three ``submitOrder`` fields in one
mutation); a weight above ``limit`` is never admitted.

:class:`RedisRateLimiter` runs the same arithmetic in one Lua script with Redis ``TIME`` (atomic
across replicas; key TTL = ``reset_s``). ``fail_open`` behaves as in the cost bucket.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graphql_facade.limits._redis import LuaScript, as_float

__all__ = ["MemoryRateLimiter", "RateLimiter", "RateState", "RedisRateLimiter", "gcra"]

log = logging.getLogger(__name__)
_EPSILON = 1e-6  # one microsecond of slack against float rounding


@dataclass(frozen=True)
class RateState:
    allowed: bool
    remaining: int
    reset_s: float
    limit: int
    window_s: float = 60.0
    retry_after_s: float = 0.0
    degraded: bool = False


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float, *, weight: int = 1) -> RateState: ...


def _state(allowed: bool, ahead: float, retry: float, limit: int, window_s: float) -> RateState:
    interval = window_s / limit
    remaining = math.floor((window_s - ahead) / interval + _EPSILON)
    return RateState(allowed, max(0, min(limit, remaining)), max(ahead, 0.0), limit, window_s, max(retry, 0.0))


def gcra(tat: float | None, now: float, limit: int, window_s: float, weight: int = 1) -> tuple[float | None, RateState]:
    """Pure GCRA step: ``(tat to store or None when denied, state)``."""
    interval = window_s / limit
    current = now if tat is None or tat < now else tat
    new_tat = current + interval * weight
    allow_at = new_tat - window_s
    if now + _EPSILON < allow_at:
        return None, _state(False, current - now, allow_at - now, limit, window_s)
    return new_tat, _state(True, new_tat - now, 0.0, limit, window_s)


class MemoryRateLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._tats: OrderedDict[str, float] = OrderedDict()

    async def hit(self, key: str, limit: int, window_s: float, *, weight: int = 1) -> RateState:
        # Nothing here awaits: the event loop runs it atomically (no lock needed, none paid for).
        now = self._clock()
        new_tat, state = gcra(self._tats.get(key), now, limit, window_s, weight)
        if new_tat is not None:
            self._tats[key] = new_tat
            self._tats.move_to_end(key)
            while len(self._tats) > self._max_keys:
                self._tats.popitem(last=False)
        return state


_GCRA_LUA = LuaScript(
    """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval * weight
local allow_at = new_tat - window
if now + 0.000001 < allow_at then
  return {0, string.format('%.17g', tat - now), string.format('%.17g', allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, string.format('%.17g', new_tat - now), '0'}
"""
)


class RedisRateLimiter:
    def __init__(self, redis: Redis, *, prefix: str = "mes:limits:rate:", fail_open: bool = True) -> None:
        self._redis = redis
        self._prefix = prefix
        self._fail_open = fail_open

    async def hit(self, key: str, limit: int, window_s: float, *, weight: int = 1) -> RateState:
        args = (limit, repr(float(window_s)), weight)
        try:
            allowed, ahead, retry = await _GCRA_LUA(self._redis, [self._prefix + key], args)
        except RedisError:
            if not self._fail_open:
                raise
            log.warning("rate limiter unavailable, admitting request", exc_info=True)
            return RateState(True, limit, 0.0, limit, window_s, degraded=True)
        return _state(bool(int(allowed)), as_float(ahead), as_float(retry), limit, window_s)
