"""The partners' API usage, counted per partner and minute (published by :mod:`graphql_facade.usage_events`).

Per HTTP request the endpoint makes a :class:`RequestUsage` the request's current one (:func:`track`,
a context variable); the stages note on it what they learn::

    settle stage            note_cost(actual)              the points charged after the refund
    endpoint (an error)     note_refusal(code, extensions) THROTTLED and the points it refused;
                                                           RATE_LIMITED, TOO_MANY_CONCURRENT_REQUESTS

and when the response is ready the endpoint records it (:meth:`UsageMeter.record`, with the caller,
the HTTP status and the server time): for a partner, a few additions to its :class:`PartnerMinute`.
Operators are not counted, nor requests refused before their partner is known (401, or 429 for an
address over its unauthenticated limit).

Every request falls in one class: throttled (refused ``THROTTLED``; in a batch, one operation refused
so), rate limited (another 429: ``RATE_LIMITED``, ``TOO_MANY_CONCURRENT_REQUESTS``, or a batch with an
operation refused ``RATE_LIMITED``), another 4xx, a 5xx, or answered. Latencies go to fixed buckets
(:data:`LATENCY_BOUNDS_MS`), the same on every replica, so minutes and replicas add up.

Minutes are UTC wall-clock minutes; a request counts in the minute it was answered. When the clock
passes into a new minute the open one is closed; :meth:`UsageMeter.close` hands the closed minutes
over (and, when the facade stops, the open one too). Everything runs on the event loop: no lock,
O(1) per request (a dictionary lookup, a bisection of 13 bounds), and bounded memory: at most
``max_partners`` partners per minute (the requests of more are counted by
``mes_facade_usage_overflow_total`` only).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from graphql_facade.auth import Viewer
from graphql_facade.limits import LimitCode, Limits
from graphql_facade.metrics import USAGE_OVERFLOW

__all__ = [
    "LATENCY_BOUNDS_MS",
    "ClosedMinute",
    "PartnerMinute",
    "RequestUsage",
    "UsageMeter",
    "note_cost",
    "note_refusal",
    "track",
    "untrack",
]

#: Upper bounds (ms) of the latency buckets; one more bucket holds what is above the last one.
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_RATE_CODES = frozenset({LimitCode.RATE_LIMITED.value, LimitCode.TOO_MANY_CONCURRENT_REQUESTS.value})


@dataclass(slots=True)
class RequestUsage:
    """What one request used, noted by the stages while it runs."""

    cost_used: int = 0
    throttled: bool = False
    rate_limited: bool = False
    #: Points requested by operations refused ``THROTTLED``.
    rejected_cost: int = 0


_CURRENT: ContextVar[RequestUsage | None] = ContextVar("mes_facade_request_usage", default=None)


def track(usage: RequestUsage) -> Token[RequestUsage | None]:
    """Make ``usage`` the current request's, until :func:`untrack`."""
    return _CURRENT.set(usage)


def untrack(token: Token[RequestUsage | None]) -> None:
    _CURRENT.reset(token)


def note_cost(points: int) -> None:
    """The current request was charged ``points`` for one operation (after the refund)."""
    usage = _CURRENT.get()
    if usage is not None:
        usage.cost_used += max(0, points)


def note_refusal(code: str, extensions: Mapping[str, Any]) -> None:
    """The current request (or one operation of its batch) was refused with ``code``."""
    usage = _CURRENT.get()
    if usage is None:
        return
    if code == LimitCode.THROTTLED:
        usage.throttled = True
        cost = extensions.get("cost")
        requested = cost.get("requestedQueryCost") if isinstance(cost, Mapping) else None
        if isinstance(requested, int):
            usage.rejected_cost += max(0, requested)
    elif code in _RATE_CODES:
        usage.rate_limited = True


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
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))

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
        self.latency_counts[bisect_left(LATENCY_BOUNDS_MS, latency_ms)] += 1


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
