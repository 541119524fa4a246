"""The partners' API usage, counted per partner and minute (published by :mod:`graphql_facade.usage_events`).

Per HTTP request the endpoint makes a :class:`RequestUsage` the request's current one (:func:`track`,
a context variable); the stages note on it what they learn::

    endpoint                note_operations(items)         the request's operations (their ``operationName``)
    endpoint (a batch)      operation(index)               which one runs now, and its own server time
    prepare stage           note_operation_name(name)      the name of the operation the document runs
    prepare, settle stages  note_errors(errors)            the codes of the errors an answer carries
    settle stage            note_cost(actual)              the points charged after the refund
    endpoint (an error)     note_refusal(code, extensions) any refusal's code: THROTTLED and the points it
                                                           refused; RATE_LIMITED, TOO_MANY_CONCURRENT_REQUESTS
    backend calls           SubmissionWatch                the orders service's answers to ``SubmitOrder``

and when the response is ready the endpoint records it (:meth:`UsageMeter.record`, with the caller,
the HTTP status and the server time): for a partner, a few additions to its :class:`PartnerMinute`.
Operators are not counted, nor requests refused before their partner is known (401, or 429 for an
address over its unauthenticated limit).

Every request falls in one class: throttled (refused ``THROTTLED``; in a batch, one operation refused
so), rate limited (another 429: ``RATE_LIMITED``, ``TOO_MANY_CONCURRENT_REQUESTS``, or a batch with an
operation refused ``RATE_LIMITED``), another 4xx, a 5xx, or answered. Latencies go to fixed buckets
(:data:`LATENCY_BOUNDS_MS`), the same on every replica, so minutes and replicas add up.

* **Operations.** A request counts once in ``requests``, and once in each operation it carried (a
  batch: each of its operations in its own). An operation is named by its document (the operation
  the document runs, a persisted query's included), else by the request's ``operationName`` (a
  request refused before its document was parsed); anonymous documents, requests refused before
  their body was read and names that are not GraphQL names count as :data:`OTHER`. At most
  :data:`MAX_OPERATIONS` names per partner and minute; the operations of more names count as
  :data:`OTHER` (the names are the partners' own: their number is bounded, as a label's would be).
  An operation failed when its answer carried an error (in a batch, its own part of the answer; a
  response with an HTTP error status: every operation of it). Its server time is the request's;
  in a batch, the time the facade spent on that operation.
* **Error codes.** The distinct ``extensions.code`` values of the response's errors, refusals
  included: a request counts once per code it carried (at most :data:`MAX_ERROR_CODES` codes per
  partner and minute; the rest, and values that are not upper-case codes, as :data:`OTHER_CODE`).
* **Submissions.** The ``SubmitOrder`` calls of the partner's ``submitOrder`` mutations that the
  orders service answered, seen on the facade's gRPC channel (:class:`SubmissionWatch`): an order
  (``SubmitOrderResponse.replayed`` tells an idempotent replay, the same key and payload answered
  again, from a new order) or a refusal (``ALREADY_EXISTS``: the key was used with another payload,
  ``IDEMPOTENCY_KEY_REUSED``). A call that met no answer (``UNAVAILABLE``, retried by the client,
  ``DEADLINE_EXCEEDED``, ``CANCELLED``) is not one, nor a mutation refused before it called the
  service (a limit, invalid input: those count in the error codes). Whether the partner selected
  ``replayed`` in its mutation does not matter. The watch is on the channels the facade opens
  itself (:meth:`graphql_facade.runtime.Facade.start`, when it publishes usage events); a backend
  handed to it ready-made (tests' fakes) is not watched.

Minutes are UTC wall-clock minutes; a request counts in the minute it was answered. When the clock
passes into a new minute the open one is closed; :meth:`UsageMeter.close` hands the closed minutes
over (and, when the facade stops, the open one too). Everything runs on the event loop: no lock,
O(operations + codes) per request (dictionary lookups, a bisection of 13 bounds), and bounded memory:
at most ``max_partners`` partners per minute (the requests of more are counted by
``mes_facade_usage_overflow_total`` only), each with at most 51 operations and 51 codes.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

import grpc

from clients import OrdersClient
from graphql_facade.auth import Viewer
from graphql_facade.limits import LimitCode, Limits
from graphql_facade.metrics import USAGE_OVERFLOW

__all__ = [
    "LATENCY_BOUNDS_MS",
    "MAX_ERROR_CODES",
    "MAX_OPERATIONS",
    "OTHER",
    "OTHER_CODE",
    "SUBMIT_ORDER_METHOD",
    "ClosedMinute",
    "OperationMinute",
    "OperationUse",
    "PartnerMinute",
    "RequestUsage",
    "SubmissionWatch",
    "UsageMeter",
    "note_cost",
    "note_error",
    "note_errors",
    "note_operation_name",
    "note_operations",
    "note_refusal",
    "operation",
    "track",
    "untrack",
]

#: Upper bounds (ms) of the latency buckets; one more bucket holds what is above the last one.
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
#: Operation names counted per partner and minute; the operations of more names count as :data:`OTHER`.
MAX_OPERATIONS = 50
#: Error codes counted per partner and minute; more count as :data:`OTHER_CODE`.
MAX_ERROR_CODES = 50
#: Anonymous and unnamed operations, and those beyond :data:`MAX_OPERATIONS` names.
OTHER = "other"
#: Error codes beyond :data:`MAX_ERROR_CODES`.
OTHER_CODE = "OTHER"
_RATE_CODES = frozenset({LimitCode.RATE_LIMITED.value, LimitCode.TOO_MANY_CONCURRENT_REQUESTS.value})
#: A GraphQL name (the spec's ``Name``), of a sensible length.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def _buckets() -> list[int]:
    return [0] * (len(LATENCY_BOUNDS_MS) + 1)


def _name(value: object) -> str | None:
    return value if isinstance(value, str) and _NAME.fullmatch(value) else None


@dataclass(slots=True)
class OperationUse:
    """One operation of a request."""

    #: The document's operation name, else the request's ``operationName``; None: :data:`OTHER`.
    name: str | None = None
    #: Its answer carried an error.
    failed: bool = False
    #: Its own server time (an operation of a batch); None: the request's.
    seconds: float | None = None


@dataclass(slots=True)
class RequestUsage:
    """What one request used, noted by the stages while it runs."""

    cost_used: int = 0
    throttled: bool = False
    rate_limited: bool = False
    #: Points requested by operations refused ``THROTTLED``.
    rejected_cost: int = 0
    #: Its operations, in order (none when it was refused before its body was read).
    operations: list[OperationUse] = field(default_factory=list)
    #: The index of the batch operation running; None: what is noted applies to the whole request.
    current: int | None = None
    #: The distinct ``extensions.code`` values of the response's errors.
    codes: set[str] = field(default_factory=set)
    #: ``SubmitOrder`` calls the orders service answered, those answered as replays, and those refused
    #: ``IDEMPOTENCY_KEY_REUSED``.
    submissions: int = 0
    replays: int = 0
    key_reused: int = 0

    def fail(self, code: str | None) -> None:
        """The running operation (or the whole request) was answered with an error ``code``."""
        if code:
            self.codes.add(str(code))
        if self.current is not None and self.current < len(self.operations):
            self.operations[self.current].failed = True
        else:
            for op in self.operations:
                op.failed = True


_CURRENT: ContextVar[RequestUsage | None] = ContextVar("mes_facade_request_usage", default=None)


def track(usage: RequestUsage) -> Token[RequestUsage | None]:
    """Make ``usage`` the current request's, until :func:`untrack`."""
    return _CURRENT.set(usage)


def untrack(token: Token[RequestUsage | None]) -> None:
    _CURRENT.reset(token)


def note_operations(items: Sequence[object]) -> None:
    """The current request carries the operations ``items`` (the JSON objects of its body or batch)."""
    usage = _CURRENT.get()
    if usage is not None:
        usage.operations = [
            OperationUse(_name(item.get("operationName")) if isinstance(item, Mapping) else None) for item in items
        ]


@contextmanager
def operation(index: int) -> Iterator[None]:
    """Operation ``index`` of the current request's batch runs within: what is noted is its, and its
    server time is measured."""
    usage = _CURRENT.get()
    if usage is None or not 0 <= index < len(usage.operations):
        yield
        return
    usage.current = index
    started = time.perf_counter()
    try:
        yield
    finally:
        usage.operations[index].seconds = time.perf_counter() - started
        usage.current = None


def note_operation_name(name: str | None) -> None:
    """The running operation's document names it ``name`` (None: anonymous)."""
    usage = _CURRENT.get()
    if usage is None or not usage.operations:
        return
    op = usage.operations[usage.current if usage.current is not None else 0]
    op.name = _name(name)


def note_cost(points: int) -> None:
    """The current request was charged ``points`` for one operation (after the refund)."""
    usage = _CURRENT.get()
    if usage is not None:
        usage.cost_used += max(0, points)


def note_error(code: str) -> None:
    """The running operation (or the whole request) was answered with an error ``code``."""
    usage = _CURRENT.get()
    if usage is not None:
        usage.fail(code)


def note_errors(errors: Iterable[Mapping[str, Any]] | None) -> None:
    """The running operation's answer carries ``errors`` (GraphQL errors as sent: their ``extensions.code``)."""
    usage = _CURRENT.get()
    if usage is None or not errors:
        return
    for error in errors:
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        usage.fail(code if isinstance(code, str) else None)


def note_refusal(code: str, extensions: Mapping[str, Any]) -> None:
    """The current request (or one operation of its batch) was refused with ``code``."""
    usage = _CURRENT.get()
    if usage is None:
        return
    usage.fail(code)
    if code == LimitCode.THROTTLED:
        usage.throttled = True
        cost = extensions.get("cost")
        requested = cost.get("requestedQueryCost") if isinstance(cost, Mapping) else None
        if isinstance(requested, int):
            usage.rejected_cost += max(0, requested)
    elif code in _RATE_CODES:
        usage.rate_limited = True


#: The gRPC method of the orders service's ``SubmitOrder``.
SUBMIT_ORDER_METHOD = f"/{OrdersClient.grpc_service}/SubmitOrder"
#: Codes of calls that met no answer from the service (retried, or the client's own end).
_NO_ANSWER = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})


class SubmissionWatch(grpc.aio.UnaryUnaryClientInterceptor):
    """A client interceptor of the facade's gRPC channels: notes the orders service's answers to
    ``SubmitOrder`` on the current request (a submission, a replay, a reused key). Other calls, and
    calls outside a counted request, pass untouched; the caller gets the call as it ended."""

    async def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Awaitable[Any]], client_call_details: Any, request: Any
    ) -> Any:
        call = await continuation(client_call_details, request)
        usage = _CURRENT.get()
        if usage is None or _method(client_call_details) != SUBMIT_ORDER_METHOD:
            return call
        try:
            response = await call
        except grpc.aio.AioRpcError as err:
            code = err.code()
            if code not in _NO_ANSWER:
                usage.submissions += 1
                if code == grpc.StatusCode.ALREADY_EXISTS:  # SubmitOrder's one: IDEMPOTENCY_KEY_REUSED
                    usage.key_reused += 1
            return call  # awaited again by the caller: the same failure
        usage.submissions += 1
        if getattr(response, "replayed", False):
            usage.replays += 1
        return call


def _method(details: Any) -> str:
    method = getattr(details, "method", "")
    return method.decode() if isinstance(method, bytes) else str(method)


@dataclass(slots=True)
class OperationMinute:
    """One operation's share of a partner's minute (an ``OperationUsage``)."""

    operation: str
    requests: int = 0
    errors: int = 0
    latency_ms_sum: float = 0.0
    #: Non-cumulative counts per bucket of :data:`LATENCY_BOUNDS_MS`, the last one above every bound.
    latency_counts: list[int] = field(default_factory=_buckets)

    def add(self, failed: bool, latency_ms: float, bucket: int | None = None) -> None:
        self.requests += 1
        if failed:
            self.errors += 1
        self.latency_ms_sum += latency_ms
        self.latency_counts[bisect_left(LATENCY_BOUNDS_MS, latency_ms) if bucket is None else bucket] += 1


_UNNAMED = (OperationUse(),)


@dataclass(slots=True)
class PartnerMinute:
    """One partner's requests in one minute (the fields of ``PartnerUsageRecordedEvent``)."""

    partner_id: str
    tier: str
    cost_capacity: int
    requests: int = 0
    throttled: int = 0
    rate_limited: int = 0
    rejected_cost: int = 0
    cost_used: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    latency_ms_sum: float = 0.0
    latency_ms_max: float = 0.0
    #: Non-cumulative counts per bucket of :data:`LATENCY_BOUNDS_MS`, the last one above every bound.
    latency_counts: list[int] = field(default_factory=_buckets)
    #: Per operation name (at most :data:`MAX_OPERATIONS` names, and :data:`OTHER`).
    operations: dict[str, OperationMinute] = field(default_factory=dict)
    #: Requests per error code (at most :data:`MAX_ERROR_CODES` codes, and :data:`OTHER_CODE`).
    error_codes: dict[str, int] = field(default_factory=dict)
    submissions: int = 0
    replays: int = 0
    key_reused: int = 0

    def add(self, usage: RequestUsage, status: int, latency_ms: float) -> None:
        self.requests += 1
        if usage.throttled:
            self.throttled += 1
        elif usage.rate_limited or status == 429:
            self.rate_limited += 1
        elif 400 <= status < 500:
            self.errors_4xx += 1
        elif status >= 500:
            self.errors_5xx += 1
        self.rejected_cost += usage.rejected_cost
        self.cost_used += usage.cost_used
        self.latency_ms_sum += latency_ms
        if latency_ms > self.latency_ms_max:
            self.latency_ms_max = latency_ms
        bucket = bisect_left(LATENCY_BOUNDS_MS, latency_ms)
        self.latency_counts[bucket] += 1
        failed = status >= 400  # the whole response is an error
        for op in usage.operations or _UNNAMED:
            tally = self._operation(op.name)
            if op.seconds is None:
                tally.add(failed or op.failed, latency_ms, bucket)
            else:
                tally.add(failed or op.failed, op.seconds * 1000.0)
        for code in usage.codes:
            self._code(code)
        self.submissions += usage.submissions
        self.replays += usage.replays
        self.key_reused += usage.key_reused

    def _operation(self, name: str | None) -> OperationMinute:
        key = name or OTHER
        tally = self.operations.get(key)
        if tally is None:
            named = len(self.operations) - (OTHER in self.operations)
            if key != OTHER and named >= MAX_OPERATIONS:
                return self._operation(None)
            tally = self.operations[key] = OperationMinute(key)
        return tally

    def _code(self, code: str) -> None:
        counts = self.error_codes
        if code not in counts:
            known = len(counts) - (OTHER_CODE in counts)
            if not _CODE.fullmatch(code) or known >= MAX_ERROR_CODES:
                code = OTHER_CODE
        counts[code] = counts.get(code, 0) + 1


@dataclass(frozen=True, slots=True)
class ClosedMinute:
    """A minute no request counts in any more (or the open one, when the facade stops)."""

    #: Epoch seconds of the minute's start (UTC, a multiple of 60).
    start: int
    partners: tuple[PartnerMinute, ...]


class UsageMeter:
    """The partners' tallies of the open minute, and the minutes closed since the last :meth:`close`."""

    def __init__(self, *, max_partners: int = 1000, clock: Callable[[], float] = time.time) -> None:
        if max_partners < 1:
            raise ValueError("max_partners must be at least 1")
        self.max_partners = max_partners
        #: Wall-clock seconds (UTC epoch); replaceable for tests.
        self.clock = clock
        self._minute = int(clock() // 60)
        self._open: dict[str, PartnerMinute] = {}
        self._closed: list[ClosedMinute] = []

    def record(self, viewer: Viewer, limits: Limits, usage: RequestUsage, status: int, seconds: float) -> None:
        """``viewer``'s request was answered with HTTP ``status`` after ``seconds`` of server time
        (operators' requests are not counted)."""
        partner = viewer.partner_id
        if not viewer.is_partner or partner is None:
            return
        self._roll(int(self.clock() // 60))
        tally = self._open.get(partner)
        if tally is None:
            if len(self._open) >= self.max_partners:
                USAGE_OVERFLOW.inc()
                return
            tally = self._open[partner] = PartnerMinute(partner, "", 0)
        # The tier and its capacity at the partner's last request of the minute.
        tally.tier = viewer.tier or ""
        tally.cost_capacity = round(limits.restore_rate * 60)
        tally.add(usage, status, seconds * 1000.0)

    def close(self, *, everything: bool = False) -> list[ClosedMinute]:
        """The minutes closed since the last call, oldest first; ``everything``: the open minute too
        (when the facade stops: no request counts in it any more)."""
        self._roll(int(self.clock() // 60))
        if everything and self._open:
            self._closed.append(ClosedMinute(self._minute * 60, tuple(self._open.values())))
            self._open = {}
        closed, self._closed = self._closed, []
        return closed

    def _roll(self, minute: int) -> None:
        """Close the open minute when the clock has passed it (a clock set back keeps counting in it)."""
        if minute <= self._minute:
            return
        if self._open:
            self._closed.append(ClosedMinute(self._minute * 60, tuple(self._open.values())))
            self._open = {}
        self._minute = minute
