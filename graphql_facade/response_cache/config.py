"""The knobs of the response cache, read from the environment (``MES_FACADE_CACHE_*``).

=========================================  =======  ===============================================
variable                                   default  meaning
=========================================  =======  ===============================================
``MES_FACADE_RESPONSE_CACHE_TTL_S``        60       an answer's lifetime, events or not
``MES_FACADE_CACHE_ANALYTICS_TTL_S``       300      the lifetime of an answer that reads only the
                                                    analytics read model (no event touches it); an
                                                    answer that also reads live data lives as long
                                                    as the shorter of the two
``MES_FACADE_CACHE_MAX_STALE_MS``          1000     a stale answer is served at most this long
                                                    after the first event that touched it; later
                                                    requests wait for the recomputation
``MES_FACADE_CACHE_REFRESH_INTERVAL_MS``   500      at most one recomputation of an answer starts
                                                    per interval (a burst of events costs one)
``MES_FACADE_CACHE_REFRESH_CONCURRENCY``   2        background recomputations running at once
``MES_FACADE_CACHE_LEASE_MS``              3000     with Redis: how long one replica may hold the
                                                    right to compute a key (0: no lease)
``MES_FACADE_MEMORY_CACHE_MAX_ENTRIES``    20000    answers held in each replica's memory
=========================================  =======  ===============================================

An event is visible after at most ``max_stale`` plus one computation (recomputations start at
most ``refresh_interval`` apart, so ``refresh_interval`` must not exceed ``max_stale``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphql_facade.env_values import non_negative_number
from graphql_facade.response_cache.tags import ANALYTICS

__all__ = ["CacheConfig"]

_ANALYTICS_ONLY = frozenset({ANALYTICS})


@dataclass(frozen=True)
class CacheConfig:
    ttl_s: float = 60.0
    #: The TTL of answers of the analytics read model (``analytics:*``).
    analytics_ttl_s: float = 300.0
    max_stale_s: float = 1.0
    refresh_interval_s: float = 0.5
    refresh_concurrency: int = 2
    lease_s: float = 3.0
    max_entries: int = 20_000
    #: Recent events kept to date answers computed around them.
    touch_log: int = 4096

    def __post_init__(self) -> None:
        if self.ttl_s <= 0:
            raise ValueError("MES_FACADE_RESPONSE_CACHE_TTL_S must be positive")
        if self.analytics_ttl_s <= 0:
            raise ValueError("MES_FACADE_CACHE_ANALYTICS_TTL_S must be positive")
        if self.refresh_interval_s > self.max_stale_s:
            raise ValueError(
                "MES_FACADE_CACHE_REFRESH_INTERVAL_MS must not exceed MES_FACADE_CACHE_MAX_STALE_MS "
                f"({self.refresh_interval_s * 1000:g} > {self.max_stale_s * 1000:g})"
            )
        if self.refresh_concurrency < 1 or self.max_entries < 1:
            raise ValueError("MES_FACADE_CACHE_REFRESH_CONCURRENCY and the cache's max entries must be at least 1")

    def ttl_of(self, reads: frozenset[str]) -> float:
        """The lifetime of an answer that reads ``reads``: the analytics TTL when it reads nothing but the
        analytics read model, else the shorter of the two TTLs (for the parts that events keep fresh)."""
        if reads == _ANALYTICS_ONLY:
            return self.analytics_ttl_s
        return min(self.ttl_s, self.analytics_ttl_s) if ANALYTICS in reads else self.ttl_s

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, ttl_s: float = 60.0, max_entries: int = 20_000) -> CacheConfig:
        def millis(name: str, default: float) -> float:
            return non_negative_number(name, env.get(name), default, unit="milliseconds") / 1000.0

        def seconds(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None

        raw = env.get("MES_FACADE_CACHE_REFRESH_CONCURRENCY", "").strip() or "2"
        if not raw.isdigit():
            raise ValueError(f"MES_FACADE_CACHE_REFRESH_CONCURRENCY must be a positive integer, not {raw!r}")
        return cls(
            ttl_s=ttl_s,
            analytics_ttl_s=seconds("MES_FACADE_CACHE_ANALYTICS_TTL_S", 300.0),
            max_stale_s=millis("MES_FACADE_CACHE_MAX_STALE_MS", 1000.0),
            refresh_interval_s=millis("MES_FACADE_CACHE_REFRESH_INTERVAL_MS", 500.0),
            refresh_concurrency=int(raw),
            lease_s=millis("MES_FACADE_CACHE_LEASE_MS", 3000.0),
            max_entries=max_entries,
        )
