"""Prometheus metrics of the facade, and the listener that serves them.

:class:`MetricsListener` serves the default registry as Prometheus text on a port of its own
(``MES_FACADE_METRICS_PORT``), apart from the port partners call: ``prometheus_client``'s threaded
WSGI server in a daemon thread, so a scrape never waits for the event loop. The lifespan of the app
(``graphql_facade.app``) starts it and closes it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

__all__ = [
    "ADMISSION_QUEUED",
    "ADMISSION_REFUSED",
    "API_KEY_LOOKUPS",
    "API_KEY_REFUSED",
    "BACKEND_CALLS",
    "BACKEND_LATENCY",
    "CACHE_ENTRIES",
    "CACHE_ERRORS",
    "CACHE_INVALIDATIONS",
    "CACHE_LOOKUPS",
    "CACHE_REFRESHES",
    "CACHE_STALE_AGE",
    "EVENTS",
    "INFLIGHT",
    "QUERY_COST",
    "REQUESTS",
    "REQUEST_LATENCY",
    "SHED",
    "SUBSCRIPTIONS",
    "USAGE_DROPPED",
    "USAGE_OVERFLOW",
    "USAGE_PUBLISHED",
    "WS_CREDENTIAL_CLOSES",
    "MetricsListener",
    "record_backend_call",
    "record_request",
]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "mes_facade_requests_total", "GraphQL HTTP requests by audience, kind and outcome", ["audience", "kind", "outcome"]
)
REQUEST_LATENCY = Histogram(
    "mes_facade_request_seconds", "GraphQL HTTP request latency", ["audience", "cache"], buckets=_LATENCY_BUCKETS
)
INFLIGHT = Gauge("mes_facade_inflight_requests", "GraphQL HTTP requests being served")
SHED = Counter("mes_facade_shed_total", "Requests refused because the replica stayed full while they waited")
ADMISSION_QUEUED = Counter(
    "mes_facade_admission_queued_total", "Requests that waited in their caller's queue before running"
)
ADMISSION_REFUSED = Counter(
    "mes_facade_admission_refused_total",
    "Requests refused by fair admission (queue_full: the caller's queue was full; own_cap: its own"
    " concurrency held it past the wait; address: unauthenticated requests over the per-address limit)",
    ["reason"],
)
CACHE_LOOKUPS = Counter(
    "mes_facade_cache_lookups_total",
    "Cache lookups by cache and result (response cache: hit, stale, wait, miss, bypass)",
    ["cache", "result"],
)
CACHE_REFRESHES = Counter(
    "mes_facade_cache_refreshes_total",
    "Background recomputations of stale answers by outcome (done, failed, deferred: too many running)",
    ["outcome"],
)
CACHE_INVALIDATIONS = Counter(
    "mes_facade_cache_invalidations_total", "Cached answers marked stale by an event (or by a restart of the source)"
)
CACHE_STALE_AGE = Histogram(
    "mes_facade_cache_stale_age_seconds",
    "How long ago a served stale answer went stale",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
CACHE_ENTRIES = Gauge("mes_facade_cache_entries", "Answers held in this replica's response cache")
CACHE_ERRORS = Counter("mes_facade_cache_errors_total", "Cache backend failures (served as misses)", ["backend", "op"])
BACKEND_CALLS = Counter("mes_facade_backend_calls_total", "gRPC calls to the services", ["method", "code"])
BACKEND_LATENCY = Histogram(
    "mes_facade_backend_seconds", "gRPC call latency seen by the facade", ["method"], buckets=_LATENCY_BUCKETS
)
QUERY_COST = Histogram(
    "mes_facade_query_cost",
    "Query cost by audience (requested and actual)",
    ["audience", "kind"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000),
)
API_KEY_LOOKUPS = Counter(
    "mes_facade_api_key_lookups_total",
    "Partner API keys looked up at the orders service by outcome (valid, unknown, error)",
    ["outcome"],
)
API_KEY_REFUSED = Counter(
    "mes_facade_api_key_refused_total",
    "Partner API keys refused without a lookup by reason (checksum: malformed, legacy or a bad checksum; "
    "negative_cache: an unknown key seen before)",
    ["reason"],
)
EVENTS = Counter("mes_facade_events_total", "JetStream events received by this replica", ["stream"])
SUBSCRIPTIONS = Gauge("mes_facade_subscriptions", "Active GraphQL subscriptions", ["audience"])
WS_CREDENTIAL_CLOSES = Counter(
    "mes_facade_ws_credential_closes_total",
    "Partner WebSockets closed with 4403 because their API key no longer holds, by what noticed it"
    " (event: a revocation or rotation event; subscribe: the re-check of a subscribe message; sweep: the"
    " periodic re-check)",
    ["trigger"],
)

#: The partners' usage events (``graphql_facade.usage``): one per partner active in a minute.
USAGE_PUBLISHED = Counter(
    "mes_facade_usage_events_published_total", "Partner usage events published to JetStream (acknowledged)"
)
USAGE_DROPPED = Counter(
    "mes_facade_usage_events_dropped_total",
    "Partner usage events never published, by reason (buffer_full: NATS was away longer than"
    " MES_FACADE_USAGE_BUFFER_MINUTES, the oldest minute went; shutdown: still unpublished when the"
    " facade stopped)",
    ["reason"],
)
USAGE_OVERFLOW = Counter(
    "mes_facade_usage_overflow_total",
    "Partner requests not counted in the usage events: their minute already held"
    " MES_FACADE_USAGE_MAX_PARTNERS partners",
)


def record_backend_call(method: str, code: str, seconds: float) -> None:
    """A finished gRPC call of the facade (``clients`` observer): counted by code, timed by method."""
    BACKEND_CALLS.labels(method, code).inc()
    BACKEND_LATENCY.labels(method).observe(seconds)


_REQUEST_CHILDREN: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}


def record_request(audience: str, kind: str, status: int, cache: str, seconds: float) -> None:
    """One answered GraphQL HTTP request: counted by outcome, timed by cache result.

    The labelled children are looked up once per label set (``labels()`` costs a few microseconds,
    which matters on a cache hit).
    """
    key = (audience, kind, status, cache)
    children = _REQUEST_CHILDREN.get(key)
    if children is None:
        children = (REQUESTS.labels(audience, kind, str(status)), REQUEST_LATENCY.labels(audience, cache))
        if len(_REQUEST_CHILDREN) < 1024:
            _REQUEST_CHILDREN[key] = children
    children[0].inc()
    children[1].observe(seconds)


class MetricsListener:
    """A running ``/metrics`` endpoint; ``port`` is the bound one (also when asked for 0)."""

    def __init__(self, host: str, httpd: WSGIServer, thread: threading.Thread) -> None:
        self.host = host
        self.port = int(httpd.server_port)
        self._httpd = httpd
        self._thread = thread

    @classmethod
    def start(cls, host: str, port: int) -> MetricsListener:
        """Serve the default registry on ``host:port``; raises OSError when the port is taken."""
        httpd, thread = start_http_server(port, addr=host)
        return cls(host, httpd, thread)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    async def close(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        await asyncio.to_thread(self._stop)
