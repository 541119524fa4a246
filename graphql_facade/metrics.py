"""Prometheus metrics of the facade, and the listener that serves them.

RED per GraphQL operation (:func:`record_operation`, fed by the endpoint and the hit lane):
``mes_graphql_requests_total{audience,operation,outcome}`` and
``mes_graphql_request_duration_seconds{operation}``. ``operation`` is the operation's name: the
request's ``operationName``, else the name of the one operation of its document (parsed once per
document text); anonymous documents, hash-only persisted queries sent without ``operationName`` and
names that are not GraphQL names are ``other``, and so are the operations of any name beyond the
first :data:`MAX_OPERATION_LABELS` a process has seen, so the label has a bounded set of values.
``outcome`` is ``ok``, ``client_error`` (HTTP 4xx, or errors that are the caller's: invalid input,
not found, refused by a limit...) or ``server_error`` (HTTP 5xx, or an error coded
``INTERNAL_SERVER_ERROR``, ``UNAVAILABLE``, ``TIMEOUT`` or ``OVERLOADED``).

``mes_facade_throttled_total{partner,code}``: partners' requests refused by a limit
(:data:`THROTTLE_CODES`; :func:`record_refusal`). Partners are tens, so the label stays small.

:class:`MetricsListener` serves the default registry as Prometheus text on a port of its own
(``MES_FACADE_METRICS_PORT``), apart from the port partners call: ``prometheus_client``'s threaded
WSGI server in a daemon thread, so a scrape never waits for the event loop. The lifespan of the app
(``graphql_facade.app``) starts it and closes it.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from graphql import GraphQLError, OperationDefinitionNode, parse
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
    "GRAPHQL_REQUESTS",
    "GRAPHQL_REQUEST_DURATION",
    "INFLIGHT",
    "MAX_OPERATION_LABELS",
    "OTHER_OPERATION",
    "QUERY_COST",
    "REQUESTS",
    "REQUEST_LATENCY",
    "SHED",
    "SUBSCRIPTIONS",
    "THROTTLED",
    "THROTTLE_CODES",
    "USAGE_DROPPED",
    "USAGE_OVERFLOW",
    "USAGE_PUBLISHED",
    "WS_CREDENTIAL_CLOSES",
    "MetricsListener",
    "OperationNames",
    "operation_outcome",
    "record_backend_call",
    "record_operation",
    "record_refusal",
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
GRAPHQL_REQUESTS = Counter(
    "mes_graphql_requests_total",
    "GraphQL operations answered over HTTP by audience, operation (bounded: 'other' beyond the known names)"
    " and outcome (ok, client_error, server_error)",
    ["audience", "operation", "outcome"],
)
GRAPHQL_REQUEST_DURATION = Histogram(
    "mes_graphql_request_duration_seconds",
    "Server time of a GraphQL operation answered over HTTP",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
THROTTLED = Counter(
    "mes_facade_throttled_total",
    "Partner requests refused by a limit, by partner and code (THROTTLED: the cost bucket; RATE_LIMITED:"
    " requests per minute; TOO_MANY_CONCURRENT_REQUESTS: its concurrency)",
    ["partner", "code"],
)
#: The refusals :data:`THROTTLED` counts.
THROTTLE_CODES = frozenset({"THROTTLED", "RATE_LIMITED", "TOO_MANY_CONCURRENT_REQUESTS"})
#: The ``operation`` label of anonymous operations and of those beyond the bound.
OTHER_OPERATION = "other"
#: Operation names a process gives a label of their own; the operations of later names are ``other``.
MAX_OPERATION_LABELS = 100
#: ``extensions.code`` values that make an answer a server error.
_SERVER_CODES = tuple(
    f'"code":"{code}"'.encode() for code in ("INTERNAL_SERVER_ERROR", "UNAVAILABLE", "TIMEOUT", "OVERLOADED")
)
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
#: Documents longer than this are not parsed for their operation's name (``other``).
_MAX_PARSED = 64 * 1024


class OperationNames:
    """The ``operation`` label of a request: bounded to ``limit`` names, the rest ``other``.

    A document's name is found by parsing it once (at most ``memo`` texts are remembered; beyond that
    the oldest is forgotten)."""

    def __init__(self, limit: int = MAX_OPERATION_LABELS, *, memo: int = 2048) -> None:
        self._limit = limit
        self._memo = memo
        self._labels: set[str] = set()
        self._documents: dict[str, str | None] = {}

    def label(self, query: object, operation_name: object) -> str:
        """``operationName`` when it is a GraphQL name, else the document's one named operation; bounded."""
        name = operation_name if isinstance(operation_name, str) and _NAME.fullmatch(operation_name) else None
        if name is None and isinstance(query, str):
            name = self._document_name(query)
        if name is None:
            return OTHER_OPERATION
        if name in self._labels:
            return name
        if len(self._labels) >= self._limit:
            return OTHER_OPERATION
        self._labels.add(name)
        return name

    def _document_name(self, query: str) -> str | None:
        if query in self._documents:
            return self._documents[query]
        name = _single_operation_name(query) if len(query) <= _MAX_PARSED else None
        if len(self._documents) >= self._memo:
            self._documents.pop(next(iter(self._documents)))
        self._documents[query] = name
        return name


def _single_operation_name(query: str) -> str | None:
    """The name of the document's operation when it has exactly one, and a name (None otherwise)."""
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].name is None:
        return None
    return operations[0].name.value


def operation_outcome(status: int, body: bytes) -> str:
    """``ok``, ``client_error`` or ``server_error`` of one operation's answer (its HTTP status and body:
    top-level ``errors``, and whether one of them has a server's code)."""
    if status >= 500:
        return "server_error"
    if not (body.startswith(b'{"errors":') or b'"errors":[{"message":' in body):
        return "client_error" if status >= 400 else "ok"
    if any(code in body for code in _SERVER_CODES):
        return "server_error"
    return "client_error"


_NAMES = OperationNames()
_OPERATION_CHILDREN: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def record_operation(audience: str, request: object, status: int, body: bytes, seconds: float) -> None:
    """One answered GraphQL operation: ``request`` is its JSON object (``query``, ``operationName``) or a
    parsed operation (``query``, ``operation_name``); ``status`` and ``body`` its answer."""
    if isinstance(request, Mapping):
        query, name = request.get("query"), request.get("operationName")
    else:
        query, name = getattr(request, "query", None), getattr(request, "operation_name", None)
    operation = _NAMES.label(query, name)
    key = (audience, operation, operation_outcome(status, body))
    children = _OPERATION_CHILDREN.get(key)
    if children is None:
        children = _OPERATION_CHILDREN[key] = (
            GRAPHQL_REQUESTS.labels(*key),
            GRAPHQL_REQUEST_DURATION.labels(operation),
        )
    children[0].inc()
    children[1].observe(seconds)


def record_refusal(partner: str | None, code: str) -> None:
    """A request (or one operation of a batch) refused with ``code``: counted when it is a partner's and a
    limit's (:data:`THROTTLE_CODES`)."""
    if partner is not None and code in THROTTLE_CODES:
        THROTTLED.labels(partner, code).inc()


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
