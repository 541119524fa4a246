"""Test-only schema and helpers for the messaging integration tests."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_CANCELLED, ORDER_SUBMITTED, REQUIREMENTS_FAILED
from mes_platform.db import Database
from mes_platform.messaging import EventConsumer, EventContext
from mes_platform.outbox import OutboxWriter
from mes_platform.tables import add_infrastructure_tables

SUBMITTED = ORDER_SUBMITTED.subject
CANCELLED = ORDER_CANCELLED.subject
FOLLOW_UP = REQUIREMENTS_FAILED.subject


@dataclass(frozen=True)
class DbTarget:
    """Database URL and schema (the schema matters on PostgreSQL only)."""

    url: str
    schema: str


metadata = MetaData()
infra = add_infrastructure_tables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(80), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("order_id", String(64), nullable=False),
)
writer = OutboxWriter(infra.outbox, "orders")


def submitted(order_id: str) -> orders_events_pb2.OrderSubmittedEvent:
    return orders_events_pb2.OrderSubmittedEvent(order=orders_pb2.Order(name=f"orders/{order_id}", order_id=order_id))


async def write_events(db: Database, count: int, *, prefix: str = "o") -> list[str]:
    """Commit ``count`` OrderSubmitted events to the outbox (one transaction each); returns their ids."""
    ids = []
    for i in range(count):
        async with db.write() as session:
            ids.append(await writer.add(session, ORDER_SUBMITTED, submitted(f"{prefix}{i}")))
    return ids


async def unpublished(db: Database) -> int:
    async with db.write() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(infra.outbox).where(infra.outbox.c.published_at.is_(None))
                )
            ).scalar_one()
        )


async def effect_counts(db: Database) -> Counter[str]:
    async with db.write() as session:
        rows = (await session.execute(select(effects.c.event_id))).scalars().all()
    return Counter(rows)


async def inbox_ids(db: Database, consumer: str) -> set[str]:
    async with db.write() as session:
        rows = (
            await session.execute(select(infra.inbox.c.event_id).where(infra.inbox.c.consumer == consumer))
        ).scalars()
        return set(rows)


async def stream_messages(js: JetStreamContext, stream: str) -> list[tuple[str, str, bytes]]:
    """(subject, Nats-Msg-Id, payload) of every message in the stream, in stream order."""
    info = await js.stream_info(stream)
    out: list[tuple[str, str, bytes]] = []
    if info.state.messages == 0:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        out.append((msg.subject or "", (msg.headers or {}).get("Nats-Msg-Id", ""), msg.data or b""))
    return out


async def wait_for(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s")
        await asyncio.sleep(interval)


async def consume_until(consumer: EventConsumer, *checks: Callable[[], Awaitable[bool]]) -> None:
    """Start ``consumer``, wait for each of ``checks`` in turn (:func:`wait_for`), then stop it."""
    await consumer.start()
    try:
        for check in checks:
            await wait_for(check)
    finally:
        await consumer.stop()


async def outbox_count(db: Database, subject: str) -> int:
    """Rows of the outbox with ``subject`` (published or not)."""
    async with db.write() as session:
        query = select(func.count()).select_from(infra.outbox).where(infra.outbox.c.subject == subject)
        return int((await session.execute(query)).scalar_one())


class Recorder:
    """A handler that records an effect row; ``fail_ids`` / ``fail_first`` / ``fail_all`` make it raise."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.fail_ids: set[str] = set()
        self.fail_first: dict[str, int] = {}  # event id -> how many first calls fail
        self.fail_all = False
        self.follow_up = False
        self.delay_s = 0.0

    async def __call__(
        self, session: AsyncSession, event: orders_events_pb2.OrderSubmittedEvent, ctx: EventContext
    ) -> None:
        self.calls[ctx.event_id] += 1
        # The effect is written before failing, to prove the rollback.
        await session.execute(
            insert(effects).values(consumer=ctx.consumer, event_id=ctx.event_id, order_id=event.order.order_id)
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        failing_start = self.calls[ctx.event_id] <= self.fail_first.get(ctx.event_id, 0)
        if self.fail_all or ctx.event_id in self.fail_ids or failing_start:
            raise RuntimeError(f"boom on {ctx.event_id}")
        if self.follow_up:
            follow = orders_events_pb2.OrderCancelledEvent(order_id=event.order.order_id, reason="test")
            await OutboxWriter(infra.outbox, "test").add(session, ORDER_CANCELLED, follow, causation_id=ctx.event_id)
