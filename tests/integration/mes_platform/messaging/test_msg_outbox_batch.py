"""The outbox inserts its rows when the transaction commits, and a consumer's batch runs its
units of work flat (no savepoint, no retry): an error in any of them fails the whole batch,
which is then applied one event per transaction."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes.orders.v1 import orders_events_pb2
from mes_contracts.events import ORDER_CANCELLED, ORDER_SUBMITTED
from mes_kernel.uow import WriteConflict
from mes_platform.db import Database
from mes_platform.messaging import EventConsumer, EventContext, NatsConnection, OutboxRelay
from mes_platform.uow import SqlUnitOfWork, SqlUnitOfWorkFactory, begin_flat_batch, flat_batch_failed
from tests.integration.mes_platform.messaging.msg_helpers import (
    SUBMITTED,
    consume_until,
    effect_counts,
    effects,
    infra,
    outbox_count,
    write_events,
    writer,
)

DURABLE = "test-flat"


class Rollback(Exception):
    pass


def cancelled(order_id: str) -> orders_events_pb2.OrderCancelledEvent:
    return orders_events_pb2.OrderCancelledEvent(order_id=order_id, reason="test")


async def outbox_orders(db: Database) -> list[str]:
    """The order ids of the OrderCancelled rows of the outbox, in ``seq`` order."""
    t = infra.outbox
    async with db.write() as session:
        query = select(t.c.payload).where(t.c.subject == ORDER_CANCELLED.subject).order_by(t.c.seq)
        rows = (await session.execute(query)).scalars()
        return [orders_events_pb2.OrderCancelledEvent.FromString(bytes(p)).order_id for p in rows]


def uows(db: Database) -> SqlUnitOfWorkFactory[SqlUnitOfWork]:
    return SqlUnitOfWorkFactory(db, infra, producer="test", make=SqlUnitOfWork, encode=lambda e: (ORDER_CANCELLED, e))


async def test_rows_are_written_at_commit_in_the_order_they_were_added(db: Database) -> None:
    async with db.write() as session:
        for order_id in ("a", "b", "c"):
            await writer.add(session, ORDER_CANCELLED, cancelled(order_id))
        assert (await session.execute(select(infra.outbox.c.seq))).all() == []  # not before the commit
    assert await outbox_orders(db) == ["a", "b", "c"]


async def test_a_rolled_back_transaction_or_savepoint_takes_its_rows_with_it(db: Database) -> None:
    try:
        async with db.write() as session:
            await writer.add(session, ORDER_CANCELLED, cancelled("gone"))
            raise Rollback
    except Rollback:
        pass
    factory = uows(db)
    async with db.write() as session:
        borrowed = factory.borrow(session)
        async with borrowed.write() as uow:
            await uow.emit(cancelled("kept-1"))
        try:
            async with borrowed.write() as uow:  # a savepoint
                await uow.emit(cancelled("dropped"))
                raise Rollback
        except Rollback:
            pass
        async with borrowed.write() as uow:
            await uow.emit(cancelled("kept-2"))
    assert await outbox_orders(db) == ["kept-1", "kept-2"]


async def test_a_flat_batch_runs_a_use_case_once_and_remembers_a_swallowed_failure(db: Database) -> None:
    factory = uows(db)
    runs = 0

    async def conflicting(uow: SqlUnitOfWork) -> None:
        nonlocal runs
        runs += 1
        await uow.emit(cancelled(f"run-{runs}"))
        raise WriteConflict("lost a race")

    try:
        async with db.write() as session:
            begin_flat_batch(session)
            borrowed = factory.borrow(session)
            assert not flat_batch_failed(session)
            with contextlib.suppress(WriteConflict):  # swallowed: the partial write is still there
                await borrowed.transact(conflicting, attempts=4)
            assert runs == 1  # no retry without a savepoint to undo the first run
            assert flat_batch_failed(session)
            raise Rollback
    except Rollback:
        pass
    async with db.write() as session:  # the same factory outside a batch: savepoints and retries
        runs = 0
        with contextlib.suppress(WriteConflict):
            await factory.borrow(session).transact(conflicting, attempts=3)
    assert runs == 3
    assert await outbox_orders(db) == []


class SwallowingHandler:
    """Writes an effect through a borrowed unit of work; for ``swallow`` ids the unit of work
    fails after its write and the handler swallows the error."""

    def __init__(self, db: Database, swallow: set[str]) -> None:
        self._uows = uows(db)
        self.swallow = swallow
        self.calls: dict[str, int] = {}

    async def __call__(
        self, session: AsyncSession, event: orders_events_pb2.OrderSubmittedEvent, ctx: EventContext
    ) -> None:
        self.calls[ctx.event_id] = self.calls.get(ctx.event_id, 0) + 1
        borrowed = self._uows.borrow(session, causation_id=ctx.event_id)
        try:
            async with borrowed.write() as uow:
                values: dict[str, Any] = {"consumer": ctx.consumer, "event_id": ctx.event_id, "order_id": "x"}
                await uow.session.execute(insert(effects).values(values))
                await uow.emit(cancelled(event.order.order_id))
                if ctx.event_id in self.swallow:
                    raise WriteConflict("lost a race")
        except WriteConflict:
            pass


async def test_a_failure_swallowed_in_a_batch_splits_it_and_nothing_of_it_is_kept(
    db: Database, nats_conn: NatsConnection
) -> None:
    ids = await write_events(db, 6)
    await OutboxRelay(db, infra.outbox, nats_conn.js, "orders").publish_pending()
    handler = SwallowingHandler(db, {ids[2]})
    consumer = EventConsumer(
        nats_conn.js, db, infra, "test", DURABLE, "ORDERS", [SUBMITTED],
        {SUBMITTED: handler}, {SUBMITTED: ORDER_SUBMITTED.message},
        max_deliver=3, backoff=[0.1], ack_wait=2.0, batch=6, tx_batch=6, fetch_timeout_s=2.0,
    )  # fmt: skip
    await consume_until(consumer, lambda: asyncio.sleep(0, result=consumer.outcomes.get("applied") == 6))
    # One by one, the failing unit of work's savepoint undid its write; the others applied once.
    assert await effect_counts(db) == {i: 1 for i in ids if i != ids[2]}
    assert handler.calls[ids[2]] == 2 and all(handler.calls[i] in (1, 2) for i in ids)
    assert await outbox_count(db, ORDER_CANCELLED.subject) == 5
