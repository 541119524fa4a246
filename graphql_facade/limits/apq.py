"""Automatic persisted queries (the Apollo APQ protocol).

A client may send ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}``:

* hash without ``query``: the stored query is used; unknown hash → ``PERSISTED_QUERY_NOT_FOUND``
  with HTTP **200** (Apollo clients retry with the full query on exactly that answer);
* hash with ``query``: ``sha256(query)`` must equal the hash (``PERSISTED_QUERY_HASH_MISMATCH``,
  400), then the query is stored and used;
* another ``version`` → ``PERSISTED_QUERY_NOT_SUPPORTED`` (400); a malformed hash or neither
  query nor hash → ``BAD_REQUEST`` (400);
* no ``persistedQuery`` extension: the request's ``query`` is used as is.

Stores are content-addressed (a hash only ever maps to its own text), so they need no tenant
scoping; APQ saves bandwidth and parsing, it is not an allow-list. Both stores are bounded:
:class:`PersistedQueryStore` is an in-process LRU (entries *and* total characters),
:class:`RedisPersistedQueryStore` shares entries between replicas with a TTL refreshed on
every hit.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from redis.asyncio import Redis

from graphql_facade.limits._redis import as_str
from graphql_facade.limits.errors import LimitCode, LimitError

__all__ = [
    "MemoryPersistedQueryStore",
    "PersistedQueryStore",
    "QueryStore",
    "RedisPersistedQueryStore",
    "query_hash",
    "resolve_persisted_query",
]

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def query_hash(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


class QueryStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, query: str) -> None: ...


class PersistedQueryStore:
    """In-process LRU of persisted queries, bounded by entries and by total characters."""

    def __init__(self, max_entries: int = 5000, max_chars: int = 32_000_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._queries)

    async def get(self, sha256: str) -> str | None:
        async with self._lock:
            query = self._queries.get(sha256)
            if query is not None:
                self._queries.move_to_end(sha256)
            return query

    async def put(self, sha256: str, query: str) -> None:
        if len(query) > self.max_chars:
            return
        async with self._lock:
            previous = self._queries.pop(sha256, None)
            if previous is not None:
                self._chars -= len(previous)
            self._queries[sha256] = query
            self._chars += len(query)
            while len(self._queries) > self.max_entries or self._chars > self.max_chars:
                _, evicted = self._queries.popitem(last=False)
                self._chars -= len(evicted)


MemoryPersistedQueryStore = PersistedQueryStore


class RedisPersistedQueryStore:
    """Persisted queries in Redis under ``prefix + sha256`` with a sliding TTL."""

    def __init__(self, redis: Redis, *, ttl_s: int = 86_400, prefix: str = "mes:apq:") -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._prefix = prefix

    async def get(self, sha256: str) -> str | None:
        value = await self._redis.getex(self._prefix + sha256, ex=self._ttl_s)
        return None if value is None else as_str(value)

    async def put(self, sha256: str, query: str) -> None:
        await self._redis.set(self._prefix + sha256, query.encode("utf-8"), ex=self._ttl_s)


def _bad_request(message: str) -> LimitError:
    return LimitError(LimitCode.BAD_REQUEST, message)


async def resolve_persisted_query(store: QueryStore, query: str | None, extensions: Mapping[str, Any] | None) -> str:
    """The query text to run for a request (see the module docstring for the protocol)."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        if not query:
            raise _bad_request("No GraphQL query found in the request.")
        return query
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise LimitError(LimitCode.PERSISTED_QUERY_NOT_SUPPORTED, "PersistedQueryNotSupported")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise _bad_request("persistedQuery.sha256Hash must be a SHA-256 hex digest.")
    sha256 = sha256.lower()
    if not query:
        stored = await store.get(sha256)
        if stored is None:
            raise LimitError(LimitCode.PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
        return stored
    if query_hash(query) != sha256:
        raise LimitError(LimitCode.PERSISTED_QUERY_HASH_MISMATCH, "provided sha does not match query")
    await store.put(sha256, query)
    return query
