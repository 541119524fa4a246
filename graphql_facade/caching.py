"""Caching behind a small interface of our own, stored with aiocache.

:class:`Cache` is the port: byte values with a TTL. :func:`open_cache` gives the process
memory (default) or Redis (``redis_url``); :class:`NullCache` turns caching off. A cache
failure never fails a request: it is logged, counted and treated as a miss.

Two users sit on top:

* the response cache (:mod:`graphql_facade.response_cache`): serialized GraphQL ``data`` of
  queries, in each replica's memory and, with Redis, shared between replicas (``add`` gives
  its leases);
* :class:`ReferenceCache`: styles and alloys (reference data) with a TTL,
  as serialized protobuf messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlparse

from aiocache import SimpleMemoryCache
from aiocache.backends.redis import RedisCache
from aiocache.serializers import BaseSerializer
from google.protobuf.message import DecodeError, Message

from graphql_facade.metrics import CACHE_ERRORS, CACHE_LOOKUPS
from mes_platform.telemetry.logs import get_logger

__all__ = [
    "AiocacheStore",
    "Cache",
    "CachedResponse",
    "NullCache",
    "ReferenceCache",
    "canonical_json",
    "open_cache",
]

_log = get_logger("mes.facade.cache")
M = TypeVar("M", bound=Message)


class Cache(Protocol):
    """Byte values under string keys, each with its own TTL."""

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def set_many(self, items: Mapping[str, bytes], ttl_s: float) -> None: ...

    async def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Store ``value`` unless ``key`` exists; True when stored (a failure is False)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


class NullCache:
    """Caching switched off: every lookup misses, every write is dropped."""

    async def get(self, key: str) -> bytes | None:
        return None

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [None] * len(keys)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        return None

    async def set_many(self, items: Mapping[str, bytes], ttl_s: float) -> None:
        return None

    async def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        return False

    async def delete(self, key: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _BytesSerializer(BaseSerializer):  # type: ignore[misc]
    """Stores bytes as they are (no encoding on the way back from Redis)."""

    DEFAULT_ENCODING = None

    def dumps(self, value: bytes) -> bytes:
        return value

    def loads(self, value: bytes | None) -> bytes | None:
        return value


class AiocacheStore:
    """:class:`Cache` over an aiocache backend; errors count as misses."""

    def __init__(self, backend: Any, *, kind: str, prefix: str = "mesf:", max_entries: int | None = None) -> None:
        self._backend = backend
        self._kind = kind
        self._prefix = prefix
        self._max_entries = max_entries

    def _full(self) -> bool:
        if self._max_entries is None:
            return False
        entries = getattr(self._backend, "_cache", None)
        return entries is not None and len(entries) >= self._max_entries

    def _failed(self, op: str, exc: Exception) -> None:
        CACHE_ERRORS.labels(self._kind, op).inc()
        _log.warning("cache_error", backend=self._kind, op=op, error=type(exc).__name__)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._backend.get(self._prefix + key)
        except Exception as exc:
            self._failed("get", exc)
            return None
        return value if isinstance(value, bytes) else None

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            values = await self._backend.multi_get([self._prefix + k for k in keys])
        except Exception as exc:
            self._failed("get_many", exc)
            return [None] * len(keys)
        return [v if isinstance(v, bytes) else None for v in values]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if self._full():
            return
        try:
            await self._backend.set(self._prefix + key, value, ttl=_ttl(ttl_s))
        except Exception as exc:
            self._failed("set", exc)

    async def set_many(self, items: Mapping[str, bytes], ttl_s: float) -> None:
        if not items or self._full():
            return
        try:
            await self._backend.multi_set([(self._prefix + k, v) for k, v in items.items()], ttl=_ttl(ttl_s))
        except Exception as exc:
            self._failed("set_many", exc)

    async def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        try:
            return bool(await self._backend.add(self._prefix + key, value, ttl=_ttl(ttl_s)))
        except ValueError:
            return False  # the key exists
        except Exception as exc:
            self._failed("add", exc)
            return False

    async def delete(self, key: str) -> None:
        try:
            await self._backend.delete(self._prefix + key)
        except Exception as exc:
            self._failed("delete", exc)

    async def aclose(self) -> None:
        try:
            await self._backend.close()
        except Exception as exc:
            self._failed("close", exc)


def _ttl(ttl_s: float) -> int | float:
    # aiocache sends int TTLs as EX seconds and float ones as PX milliseconds.
    return int(ttl_s) if float(ttl_s).is_integer() else float(ttl_s)


def open_cache(redis_url: str | None, *, max_entries: int = 20_000, prefix: str = "mesf:") -> Cache:
    """Redis when ``redis_url`` is given (``redis://[:password@]host:port/db``), else process memory."""
    if not redis_url:
        # No per-operation timeout in memory: aiocache would wrap every call in asyncio.wait_for.
        backend = SimpleMemoryCache(serializer=_BytesSerializer(), timeout=None)
        return AiocacheStore(backend, kind="memory", prefix=prefix, max_entries=max_entries)
    url = urlparse(redis_url)
    if url.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must start with redis:// or rediss://, not {redis_url!r}")
    db = (url.path or "/0").lstrip("/") or "0"
    backend = RedisCache(
        serializer=_BytesSerializer(),
        endpoint=url.hostname or "127.0.0.1",
        port=url.port or 6379,
        db=int(db),
        password=unquote(url.password) if url.password else None,
        ssl=url.scheme == "rediss",
        timeout=1,
        create_connection_timeout=1,
    )
    return AiocacheStore(backend, kind="redis", prefix=prefix)


def canonical_json(value: Any) -> str:
    """Key material for variables: sorted keys, no spaces; equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class CachedResponse:
    #: The serialized ``data`` member of the response (JSON bytes).
    data: bytes
    #: The actual cost measured when the entry was computed (None when not measured).
    cost: int | None


class ReferenceCache:
    """Reference data (styles, alloys) as serialized messages with a TTL."""

    def __init__(self, cache: Cache, *, ttl_s: float) -> None:
        self._cache = cache
        self._ttl_s = ttl_s

    async def get_many(self, kind: str, ids: Sequence[str], cls: type[M]) -> list[M | None]:
        raw = await self._cache.get_many([f"ref:{kind}:{i}" for i in ids])
        found: list[M | None] = []
        for value in raw:
            found.append(_decode(cls, value))
        hits = sum(1 for v in found if v is not None)
        CACHE_LOOKUPS.labels(kind, "hit").inc(hits)
        CACHE_LOOKUPS.labels(kind, "miss").inc(len(found) - hits)
        return found

    async def put_many(self, kind: str, items: Mapping[str, Message]) -> None:
        await self._cache.set_many({f"ref:{kind}:{i}": m.SerializeToString() for i, m in items.items()}, self._ttl_s)

    async def get(self, kind: str, ident: str, cls: type[M]) -> M | None:
        return (await self.get_many(kind, [ident], cls))[0]

    async def put(self, kind: str, ident: str, message: Message) -> None:
        await self.put_many(kind, {ident: message})

    async def forget(self, kind: str, ident: str) -> None:
        await self._cache.delete(f"ref:{kind}:{ident}")


def _decode(cls: type[M], value: bytes | None) -> M | None:
    if value is None:
        return None
    try:
        return cls.FromString(value)
    except DecodeError:
        return None
