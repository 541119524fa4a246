"""Trace context through the outbox, JetStream and a consumer: the relay publishes the row's
``traceparent`` header, the consumer continues the event's trace while handling it (log
context included) and the events the handler writes carry the same trace."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mes.orders.v1 import orders_events_pb2
from mes_contracts.events import ORDER_CANCELLED, ORDER_SUBMITTED
from mes_platform.db import Database
from mes_platform.messaging import EventConsumer, EventContext, NatsConnection, OutboxRelay
from mes_platform.outbox import OutboxWriter
from mes_platform.telemetry.tracing import TraceContext, current_trace, parse_traceparent, use_trace
from tests.integration.mes_platform.messaging.msg_helpers import (
    CANCELLED,
    SUBMITTED,
    consume_until,
    infra,
    submitted,
    writer,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REQUEST_SPAN = TraceContext(TRACE, "00f067aa0ba902b7")


class TraceRecorder:
    def __init__(self) -> None:
        self.seen: list[tuple[TraceContext | None, dict[str, Any], str]] = []

    async def __call__(
        self, session: AsyncSession, event: orders_events_pb2.OrderSubmittedEvent, ctx: EventContext
    ) -> None:
        self.seen.append((current_trace(), structlog.contextvars.get_contextvars(), ctx.meta.traceparent))
        follow = orders_events_pb2.OrderCancelledEvent(order_id=event.order.order_id, reason="test")
        await OutboxWriter(infra.outbox, "test").add(session, ORDER_CANCELLED, follow, causation_id=ctx.event_id)


async def test_the_trace_goes_from_the_outbox_through_nats_to_the_consumer_and_its_events(
    db: Database, nats_conn: NatsConnection
) -> None:
    with use_trace(REQUEST_SPAN):  # as inside a gRPC call
        async with db.write() as session:
            await writer.add(session, ORDER_SUBMITTED, submitted("o-traced"))
    async with db.write() as session:  # outside any trace: no traceparent at all
        await writer.add(session, ORDER_SUBMITTED, submitted("o-untraced"))
    await OutboxRelay(db, infra.outbox, nats_conn.js, "orders").publish_pending()

    first = await nats_conn.js.get_msg("ORDERS", 1)
    assert (first.headers or {}).get("traceparent") == REQUEST_SPAN.traceparent
    second = await nats_conn.js.get_msg("ORDERS", 2)
    assert "traceparent" not in (second.headers or {})

    recorder = TraceRecorder()
    consumer = EventConsumer(
        nats_conn.js, db, infra, "test", "test-tracing", "ORDERS", [SUBMITTED],
        {SUBMITTED: recorder}, {SUBMITTED: orders_events_pb2.OrderSubmittedEvent},
        ack_wait=2.0, fetch_timeout_s=0.5,
    )  # fmt: skip
    await consume_until(consumer, lambda: asyncio.sleep(0, result=consumer.outcomes.get("applied") == 2))

    (traced, logged, meta_traceparent), (untraced, _, untraced_meta) = recorder.seen
    assert meta_traceparent == REQUEST_SPAN.traceparent
    assert traced is not None
    assert traced.trace_id == TRACE and traced.parent_span_id == REQUEST_SPAN.span_id
    assert traced.span_id != REQUEST_SPAN.span_id
    assert (logged["trace_id"], logged["span_id"]) == (TRACE, traced.span_id)
    assert untraced_meta == "" and untraced is not None and untraced.trace_id != TRACE  # a new trace
    assert current_trace() is None

    async with db.write() as session:
        rows = (
            await session.execute(
                select(infra.outbox.c.payload, infra.outbox.c.headers)
                .where(infra.outbox.c.subject == CANCELLED)
                .order_by(infra.outbox.c.seq)
            )
        ).all()
    follow_ups = [
        (orders_events_pb2.OrderCancelledEvent.FromString(bytes(p)).meta.traceparent, json.loads(h)) for p, h in rows
    ]
    assert follow_ups[0] == (traced.traceparent, {"traceparent": traced.traceparent})
    follow_span = parse_traceparent(follow_ups[1][0])
    assert follow_span is not None and follow_span.trace_id == untraced.trace_id
