"""Answers shared between replicas through Redis, and the lease that lets one replica compute a key.

Every replica keeps its answers in memory (:class:`~graphql_facade.response_cache.entries.EntryTable`)
and, with Redis configured, also writes each answer it computes to Redis with the positions it
was computed at and the tags it reads; a replica that lacks an answer (or holds a stale one) first
reads Redis and takes the answer when its own events say nothing touched it since. To compute,
a replica takes a short lease on the key (``SET NX`` with a TTL); a replica that finds the lease
taken waits (polling the lease) for the other's answer, for at most the lease's TTL, then
computes itself. A Redis failure is a miss (:class:`~graphql_facade.caching.AiocacheStore`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphql_facade.caching import Cache
from graphql_facade.response_cache.positions import Positions

__all__ = ["SharedAnswers", "Stored"]


@dataclass(frozen=True, slots=True)
class Stored:
    """An answer as kept in Redis."""

    data: bytes
    cost: int | None
    positions: Positions
    reads: frozenset[str]
    #: ``time.time()`` when it was computed (its TTL runs from there).
    computed: float


def encode(stored: Stored) -> bytes:
    head = {"c": stored.cost, "p": dict(stored.positions), "r": sorted(stored.reads), "w": stored.computed}
    return json.dumps(head, separators=(",", ":")).encode() + b"\n" + stored.data


def decode(raw: bytes | None) -> Stored | None:
    if raw is None:
        return None
    head, sep, data = raw.partition(b"\n")
    if not sep:
        return None
    try:
        meta = json.loads(head)
        cost = meta["c"]
        positions = {str(k): int(v) for k, v in meta["p"].items()}
        return Stored(data, None if cost is None else int(cost), positions, frozenset(meta["r"]), float(meta["w"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class SharedAnswers:
    """Answers and leases in a shared :class:`~graphql_facade.caching.Cache` (Redis)."""

    def __init__(
        self, cache: Cache, *, ttl_of: Callable[[frozenset[str]], float], lease_s: float, poll_s: float = 0.02
    ) -> None:
        self._cache = cache
        #: An answer's TTL from what it reads (``CacheConfig.ttl_of``).
        self._ttl_of = ttl_of
        self._lease_s = lease_s
        self._poll_s = poll_s

    @property
    def leases(self) -> bool:
        return self._lease_s > 0

    async def get(self, key: str) -> Stored | None:
        stored = decode(await self._cache.get(key))
        if stored is None or stored.computed + self._ttl_of(stored.reads) <= time.time():
            return None
        return stored

    async def put(self, key: str, stored: Stored) -> None:
        await self._cache.set(key, encode(stored), self._ttl_of(stored.reads))

    async def lease(self, key: str) -> bool:
        """Take the lease of ``key`` (True), or find it taken by another replica (False)."""
        return await self._cache.add(f"lease:{key}", b"1", self._lease_s)

    async def release(self, key: str) -> None:
        await self._cache.delete(f"lease:{key}")

    async def wait_released(self, key: str) -> None:
        """Until the lease of ``key`` is released or expires (at most its TTL)."""
        deadline = time.monotonic() + self._lease_s
        while time.monotonic() < deadline:
            await asyncio.sleep(self._poll_s)
            if await self._cache.get(f"lease:{key}") is None:
                return
