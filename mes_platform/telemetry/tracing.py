"""W3C trace context (``traceparent``) without a tracing SDK.

One trace follows an operation across the processes: the facade starts it per HTTP request
(or continues the caller's ``traceparent`` header) and sends it as gRPC metadata
``traceparent``; the gRPC server interceptor continues it for the call; ``OutboxWriter``
stores it in ``EventMeta.traceparent`` (and the NATS headers of the row); a consumer
continues it while it handles the event, so the events it writes carry it on. Every hop
is a new span of the same trace (same trace id, new span id).

The pure part (parse, format, new trace, child span) has no state. The current trace
lives in a context variable: :func:`use_trace` sets it for a block and binds ``trace_id``
and ``span_id`` into structlog's context variables, so every log line of the block
carries them.

Format (version 00)::

    traceparent: 00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex>
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import structlog

__all__ = [
    "TRACEPARENT",
    "TraceContext",
    "child_of",
    "continue_trace",
    "current_trace",
    "current_traceparent",
    "format_traceparent",
    "new_trace",
    "outgoing_metadata",
    "parse_traceparent",
    "use_trace",
]

#: Header / gRPC metadata key (lower case, as gRPC requires).
TRACEPARENT = "traceparent"
_HEX = frozenset("0123456789abcdef")
_SAMPLED = "01"


@dataclass(frozen=True)
class TraceContext:
    """One span of a trace: its trace id, its own span id, the parent's span id (if any)."""

    trace_id: str
    span_id: str
    flags: str = _SAMPLED
    parent_span_id: str = ""

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` to send downstream (this span is the parent there)."""
        return format_traceparent(self)


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and set(value) <= _HEX and value != "0" * length


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The context a ``traceparent`` header describes (its span is the *caller's*), or None
    when it is absent or malformed (upper-case hex included, as the W3C format requires).
    Versions above 00 are read by their first four fields."""
    if not value:
        return None
    value = value.strip()
    parts = value.split("-")
    if len(parts) < 4:
        return None
    version, trace_id, span_id, flags = parts[0], parts[1], parts[2], parts[3]
    if len(version) != 2 or not set(version) <= _HEX or version == "ff":
        return None
    if version == "00" and len(parts) != 4:
        return None
    if not _is_hex(trace_id, 32) or not _is_hex(span_id, 16):
        return None
    if len(flags) != 2 or not set(flags) <= _HEX:
        return None
    return TraceContext(trace_id, span_id, flags)


def format_traceparent(ctx: TraceContext) -> str:
    return f"00-{ctx.trace_id}-{ctx.span_id}-{ctx.flags}"


def _new_id(nbytes: int) -> str:
    while True:
        value = secrets.token_hex(nbytes)
        if value.strip("0"):
            return value


def new_trace() -> TraceContext:
    """The root span of a new trace (sampled)."""
    return TraceContext(_new_id(16), _new_id(8))


def child_of(parent: TraceContext | None) -> TraceContext:
    """A new span of ``parent``'s trace (a new trace when there is no parent)."""
    if parent is None:
        return new_trace()
    return TraceContext(parent.trace_id, _new_id(8), parent.flags, parent.span_id)


def continue_trace(traceparent: str | None) -> TraceContext:
    """The span of this process for an incoming ``traceparent`` (a new trace when it is
    absent or malformed)."""
    return child_of(parse_traceparent(traceparent))


# -- the current trace ------------------------------------------------------------------

_CURRENT: ContextVar[TraceContext | None] = ContextVar("mes_trace", default=None)


def current_trace() -> TraceContext | None:
    return _CURRENT.get()


def current_traceparent() -> str:
    """The ``traceparent`` of the current span, or "" outside any trace."""
    ctx = _CURRENT.get()
    return ctx.traceparent if ctx is not None else ""


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying the current trace (empty outside any trace)."""
    ctx = _CURRENT.get()
    return ((TRACEPARENT, ctx.traceparent),) if ctx is not None else ()


@contextmanager
def use_trace(ctx: TraceContext) -> Iterator[TraceContext]:
    """Make ``ctx`` the current span for the block; log lines carry ``trace_id`` and ``span_id``."""
    token = _CURRENT.set(ctx)
    try:
        with structlog.contextvars.bound_contextvars(trace_id=ctx.trace_id, span_id=ctx.span_id):
            yield ctx
    finally:
        _CURRENT.reset(token)
