"""W3C traceparent helpers: parsing, formatting, new traces, child spans, the current trace."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from mes_platform.telemetry.tracing import (
    TraceContext,
    child_of,
    continue_trace,
    current_trace,
    current_traceparent,
    format_traceparent,
    new_trace,
    outgoing_metadata,
    parse_traceparent,
    use_trace,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{SPAN}-01"


def test_parse_and_format_round_trip() -> None:
    ctx = parse_traceparent(HEADER)
    assert ctx == TraceContext(TRACE, SPAN, "01")
    assert format_traceparent(ctx) == HEADER == ctx.traceparent
    assert parse_traceparent(f"  {HEADER}  ") == ctx
    assert parse_traceparent(f"00-{TRACE}-{SPAN}-00") == TraceContext(TRACE, SPAN, "00")


def test_a_later_version_is_read_by_its_first_fields() -> None:
    assert parse_traceparent(f"01-{TRACE}-{SPAN}-01-what-comes-next") == TraceContext(TRACE, SPAN, "01")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero span id
        f"00-{TRACE.upper()}-{SPAN}-01",  # upper case
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}x-01",
        f"00-{TRACE}-{SPAN}-1",
        f"0x-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-zz",
    ],
)
def test_malformed_headers_are_ignored(value: str | None) -> None:
    assert parse_traceparent(value) is None


def test_new_trace_and_child_spans() -> None:
    root = new_trace()
    assert len(root.trace_id) == 32 and len(root.span_id) == 16 and root.flags == "01"
    assert parse_traceparent(root.traceparent) == TraceContext(root.trace_id, root.span_id, "01")
    assert new_trace().trace_id != root.trace_id
    child = child_of(root)
    assert child.trace_id == root.trace_id
    assert child.parent_span_id == root.span_id and child.span_id != root.span_id
    assert child_of(None).parent_span_id == ""


def test_continue_trace_keeps_the_callers_trace_or_starts_one() -> None:
    span = continue_trace(HEADER)
    assert (span.trace_id, span.parent_span_id, span.flags) == (TRACE, SPAN, "01")
    assert span.span_id != SPAN
    assert continue_trace(f"00-{TRACE}-{SPAN}-00").flags == "00"  # the sampling decision is kept
    fresh = continue_trace("not a traceparent")
    assert fresh.trace_id != TRACE and fresh.parent_span_id == ""


def test_use_trace_sets_the_current_span_and_the_log_context() -> None:
    assert current_trace() is None and current_traceparent() == "" and outgoing_metadata() == ()
    structlog.contextvars.bind_contextvars(trace_id="outer", span_id="outer-span")
    try:
        span = continue_trace(HEADER)
        with use_trace(span):
            assert current_trace() == span
            assert current_traceparent() == span.traceparent
            assert outgoing_metadata() == (("traceparent", span.traceparent),)
            logged = structlog.contextvars.get_contextvars()
            assert (logged["trace_id"], logged["span_id"]) == (TRACE, span.span_id)
            inner = child_of(span)
            with use_trace(inner):
                assert structlog.contextvars.get_contextvars()["span_id"] == inner.span_id
            assert structlog.contextvars.get_contextvars()["span_id"] == span.span_id
        assert current_trace() is None
        restored = structlog.contextvars.get_contextvars()
        assert (restored["trace_id"], restored["span_id"]) == ("outer", "outer-span")
    finally:
        structlog.contextvars.unbind_contextvars("trace_id", "span_id")


async def test_concurrent_tasks_keep_their_own_trace() -> None:
    async def run(header: str) -> str:
        with use_trace(continue_trace(header)):
            await asyncio.sleep(0.01)
            trace = current_trace()
            assert trace is not None
            return trace.trace_id

    other = "a" * 32
    got = await asyncio.gather(run(HEADER), run(f"00-{other}-{SPAN}-01"))
    assert got == [TRACE, other]
