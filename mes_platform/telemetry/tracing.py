"""W3C trace context (``traceparent``) and OpenTelemetry spans over it.

One trace follows an operation across the processes: the facade starts it per HTTP request
(or continues the caller's ``traceparent`` header) and sends it as gRPC metadata
``traceparent``; the gRPC server interceptor continues it for the call; ``OutboxWriter``
stores it in ``EventMeta.traceparent`` (and the ``traceparent`` header of the row, which the
relay publishes as a NATS header); a consumer continues it while it handles the event, so the
events it writes carry it on. Every hop is a new span of the same trace (same trace id, new
span id).

Two layers:

* the pure part (parse, format, new trace, child span) and the current span, a context
  variable: :func:`use_trace` sets it for a block and binds ``trace_id`` and ``span_id`` into
  structlog's context variables, so every log line of the block carries them;
* :func:`span`: a span of the OpenTelemetry SDK when tracing is installed
  (:func:`install_tracer`, done by :func:`mes_platform.telemetry.trace_export.configure_tracing`
  from the ``OTEL_*`` settings), with a kind, attributes and links; its ids become the current
  span (same ``traceparent`` format, the sampling decision in the flags). Without a tracer
  (``OTEL_TRACES_EXPORTER=none``, the default) :func:`span` only makes the ids (as
  :func:`child_of` does): no SDK work at all. With a tracer it also makes the span the current
  OpenTelemetry span, so the client library (``clients``, which only knows the OpenTelemetry
  API) opens its client spans under it.

Format (version 00)::

    traceparent: 00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex>
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

__all__ = [
    "CURRENT",
    "TRACEPARENT",
    "DetachedSpan",
    "SpanKind",
    "TraceContext",
    "annotate",
    "child_of",
    "continue_trace",
    "current_trace",
    "current_traceparent",
    "format_traceparent",
    "install_tracer",
    "new_trace",
    "outgoing_metadata",
    "parse_traceparent",
    "span",
    "start_detached_span",
    "tracing_enabled",
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
    def sampled(self) -> bool:
        """The caller asked for this trace to be recorded (flag bit 0)."""
        return bool(int(self.flags, 16) & 1)

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


# -- OpenTelemetry spans ------------------------------------------------------------------

_TRACER: otel_trace.Tracer | None = None


class _Current:
    """The marker of :func:`span`'s default parent: the current span (a new trace outside any)."""

    def __repr__(self) -> str:
        return "CURRENT"


#: ``span(parent=CURRENT)``: the span is a child of the current one (the default).
CURRENT: Final = _Current()

Attributes = Mapping[str, AttributeValue]


def install_tracer(tracer: otel_trace.Tracer | None) -> None:
    """Make :func:`span` record OpenTelemetry spans with ``tracer`` (None: ids only, no SDK work)."""
    global _TRACER
    _TRACER = tracer


def tracing_enabled() -> bool:
    """True when spans are recorded (a tracer is installed); False: only ids propagate."""
    return _TRACER is not None


def _otel_parent(parent: TraceContext | None) -> otel_context.Context:
    """An OpenTelemetry context whose span is ``parent`` (remote), or an empty one (a new trace)."""
    if parent is None:
        return otel_context.Context()
    return otel_trace.set_span_in_context(NonRecordingSpan(_span_context(parent)), otel_context.Context())


def _span_context(ctx: TraceContext) -> SpanContext:
    return SpanContext(
        int(ctx.trace_id, 16),
        int(ctx.span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(int(ctx.flags, 16) & TraceFlags.SAMPLED),
    )


def _trace_context(otel_span: otel_trace.Span, parent: TraceContext | None) -> TraceContext:
    sc = otel_span.get_span_context()
    flags = _SAMPLED if sc.trace_flags.sampled else "00"
    return TraceContext(f"{sc.trace_id:032x}", f"{sc.span_id:016x}", flags, parent.span_id if parent else "")


def _links(links: Sequence[TraceContext]) -> list[Link]:
    return [Link(_span_context(link)) for link in links]


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: TraceContext | _Current | None = CURRENT,
    links: Sequence[TraceContext] = (),
    attributes: Attributes | None = None,
) -> Iterator[TraceContext]:
    """A new span for the block, made the current one (log lines carry its ids).

    ``parent``: the caller's span (an incoming ``traceparent``, an event's), None for a new
    trace, :data:`CURRENT` (default) for a child of the current span. ``links``: spans this one
    relates to without being their child (a batch). Without a tracer only the ids are made; with
    one, the span is recorded (if sampled) and ends with the block, an error status when the block
    raised (the exception's type only: messages may carry data)."""
    base = _CURRENT.get() if isinstance(parent, _Current) else parent
    tracer = _TRACER
    if tracer is None:
        with use_trace(child_of(base)) as ctx:
            yield ctx
        return
    otel_parent = _otel_parent(base)
    otel_span = tracer.start_span(
        name,
        context=otel_parent,
        kind=kind,
        attributes=attributes,
        links=_links(links),
        record_exception=False,
        set_status_on_exception=False,
    )
    ctx = _trace_context(otel_span, base)
    token = otel_context.attach(otel_trace.set_span_in_context(otel_span, otel_parent))
    try:
        with use_trace(ctx):
            yield ctx
    except BaseException as exc:
        if otel_span.is_recording():
            otel_span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        otel_context.detach(token)
        otel_span.end()


def annotate(attributes: Attributes, *, error: str | None = None, ok: bool = False) -> None:
    """Add ``attributes`` to the current span, with an error status described by ``error``, or
    an OK status (``ok``: the outcome is final, an exception unwinding the block later, such as
    gRPC's abort of a client error, does not make it an error); nothing when no span is recorded."""
    if _TRACER is None:
        return
    current = otel_trace.get_current_span()
    if not current.is_recording():
        return
    current.set_attributes(attributes)
    if error is not None:
        current.set_status(Status(StatusCode.ERROR, error))
    elif ok:
        current.set_status(Status(StatusCode.OK))


class DetachedSpan:
    """A span that is not the current one (it ends later, elsewhere): the relay's publish."""

    __slots__ = ("_span",)

    def __init__(self, otel_span: otel_trace.Span) -> None:
        self._span = otel_span

    @property
    def context(self) -> TraceContext:
        return _trace_context(self._span, None)

    def end(self, *, error: str | None = None) -> None:
        if error is not None and self._span.is_recording():
            self._span.set_status(Status(StatusCode.ERROR, error))
        self._span.end()


def start_detached_span(
    name: str,
    *,
    kind: SpanKind,
    parent: TraceContext | None,
    attributes: Attributes | None = None,
) -> DetachedSpan | None:
    """A recorded span under ``parent`` that the caller ends (:meth:`DetachedSpan.end`); None
    without a tracer, or when ``parent`` is not sampled (nothing would be recorded)."""
    tracer = _TRACER
    if tracer is None or (parent is not None and not parent.sampled):
        return None
    otel_span = tracer.start_span(
        name,
        context=_otel_parent(parent),
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    )
    return DetachedSpan(otel_span) if otel_span.is_recording() else None
