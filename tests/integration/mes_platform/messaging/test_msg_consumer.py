"""EventConsumer: inbox deduplication, retries, dead letters, replay, shared durables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes.orders.v1 import orders_events_pb2
from mes_kernel.errors import Unavailable
from mes_platform.db import Database
from mes_platform.messaging import (
    EventConsumer,
    EventContext,
    NatsConnection,
    OutboxRelay,
    ensure_streams,
    list_dead_letters,
    replay_dead_letter,
)
from tests.integration.mes_platform.messaging.msg_helpers import (
    CANCELLED,
    SUBMITTED,
    Recorder,
    consume_until,
    effect_counts,
    inbox_ids,
    infra,
    outbox_count,
    submitted,
    wait_for,
    write_events,
)

DURABLE = "test-orders"
Connect = Callable[..., Awaitable[NatsConnection]]


def make_consumer(js: JetStreamContext, db: Database, handler: Any, **overrides: Any) -> EventConsumer:
    options: dict[str, Any] = {
        "max_deliver": 3,
        "backoff": [0.1, 0.2],
        "ack_wait": 1.0,
        "batch": 10,
        "fetch_timeout_s": 0.5,
        **overrides,
    }
    return EventConsumer(
        js, db, infra, "test", DURABLE, "ORDERS", [SUBMITTED],
        {SUBMITTED: handler}, {SUBMITTED: orders_events_pb2.OrderSubmittedEvent}, **options,
    )  # fmt: skip


async def publish_outbox(db: Database, js: JetStreamContext) -> None:
    await OutboxRelay(db, infra.outbox, js, "orders").publish_pending()


async def test_effect_inbox_and_follow_up_events_commit_together(db: Database, nats_conn: NatsConnection) -> None:
    ids = await write_events(db, 10)
    recorder = Recorder()
    recorder.follow_up = True
    recorder.fail_first = {ids[3]: 1}  # writes its effect, then fails, once
    consumer = make_consumer(nats_conn.js, db, recorder, tx_batch=1)  # one transaction per message
    await publish_outbox(db, nats_conn.js)
    await consume_until(consumer, lambda: _applied(db, 10))
    assert recorder.calls[ids[3]] == 2  # failed flat, then applied with savepoints in the same delivery
    assert await effect_counts(db) == {i: 1 for i in ids}  # the failed attempt's effect was rolled back
    assert await inbox_ids(db, DURABLE) == set(ids)  # keyed by meta.event_id, not the stream sequence
    assert await outbox_count(db, CANCELLED) == 10  # one per applied event, none from the rolled-back attempt
    assert consumer.outcomes == {"applied": 10}


async def inbox_transactions(db: Database) -> int:
    """How many inbox inserts there were: a batch writes all its rows with one time."""
    async with db.write() as session:
        return len((await session.execute(select(infra.inbox.c.processed_at).distinct())).all())


async def test_a_fetched_batch_is_applied_in_one_transaction(db: Database, nats_conn: NatsConnection) -> None:
    ids = await write_events(db, 10)
    await publish_outbox(db, nats_conn.js)
    recorder = Recorder()
    recorder.follow_up = True
    consumer = make_consumer(nats_conn.js, db, recorder, batch=10, tx_batch=10, fetch_timeout_s=2.0)
    await consume_until(
        consumer, lambda: _applied(db, 10), lambda: asyncio.sleep(0, result=consumer.outcomes.get("applied") == 10)
    )
    assert await effect_counts(db) == {i: 1 for i in ids}
    assert await inbox_ids(db, DURABLE) == set(ids)
    assert await inbox_transactions(db) <= 2  # the ten events arrive in one fetch, or two at most
    assert dict(recorder.calls) == {i: 1 for i in ids}


async def test_a_failing_handler_splits_its_batch_and_only_it_is_retried(
    db: Database, nats_conn: NatsConnection
) -> None:
    ids = await write_events(db, 6)
    await publish_outbox(db, nats_conn.js)
    recorder = Recorder()
    recorder.follow_up = True
    recorder.fail_ids = {ids[2]}
    consumer = make_consumer(nats_conn.js, db, recorder, batch=6, tx_batch=6, fetch_timeout_s=2.0)
    await consume_until(consumer, lambda: asyncio.sleep(0, result=consumer.outcomes.get("dead_letter") == 1))
    # Every other event applied exactly once (the batch attempt was rolled back as a whole).
    assert await effect_counts(db) == {i: 1 for i in ids if i != ids[2]}
    assert consumer.outcomes["applied"] == 5
    assert await outbox_count(db, CANCELLED) == 5
    letters = await list_dead_letters(db, infra.dead_letters)
    assert [(letter.event_id, letter.deliveries) for letter in letters] == [(ids[2], 3)]


async def test_a_batch_holding_an_event_twice_applies_it_once(db: Database, nats_conn: NatsConnection) -> None:
    event = submitted("twice")
    event.meta.event_id = "22222222-2222-2222-2222-222222222222"
    for msg_id in ("a", "b"):
        await nats_conn.js.publish(SUBMITTED, event.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
    other = submitted("other")
    other.meta.event_id = "33333333-3333-3333-3333-333333333333"
    await nats_conn.js.publish(SUBMITTED, other.SerializeToString(), headers={"Nats-Msg-Id": "c"})
    recorder = Recorder()
    consumer = make_consumer(nats_conn.js, db, recorder, batch=10, tx_batch=10, fetch_timeout_s=2.0)
    await consume_until(consumer, lambda: asyncio.sleep(0, result=sum(consumer.outcomes.values()) == 3))
    assert consumer.outcomes == {"applied": 2, "duplicate": 1}
    assert await effect_counts(db) == {event.meta.event_id: 1, other.meta.event_id: 1}


async def _applied(db: Database, n: int) -> bool:
    return sum((await effect_counts(db)).values()) >= n


async def test_duplicate_delivery_applies_nothing(db: Database, nats_conn: NatsConnection) -> None:
    event = submitted("dup")
    event.meta.event_id = "11111111-1111-1111-1111-111111111111"
    # Different Nats-Msg-Id, so JetStream stores both: only the inbox can deduplicate.
    for msg_id in ("a", "b", "c"):
        await nats_conn.js.publish(SUBMITTED, event.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
    recorder = Recorder()
    consumer = make_consumer(nats_conn.js, db, recorder)
    await consume_until(consumer, lambda: asyncio.sleep(0, result=sum(consumer.outcomes.values()) == 3))
    assert consumer.outcomes == {"applied": 1, "duplicate": 2}
    assert await effect_counts(db) == {event.meta.event_id: 1}
    assert recorder.calls[event.meta.event_id] == 1


async def test_failing_handler_is_retried_then_dead_lettered_and_terminated(
    db: Database, nats_conn: NatsConnection
) -> None:
    ids = await write_events(db, 3)
    recorder = Recorder()
    recorder.fail_ids = {ids[1]}
    consumer = make_consumer(nats_conn.js, db, recorder, tx_batch=1)  # one transaction per message
    await publish_outbox(db, nats_conn.js)
    await consumer.start()
    try:
        await wait_for(lambda: asyncio.sleep(0, result=consumer.outcomes.get("dead_letter") == 1))
        await asyncio.sleep(1.3)  # longer than ack_wait: a terminated message is not redelivered
    finally:
        await consumer.stop()
    assert recorder.calls[ids[1]] == 2 * 3  # max_deliver deliveries, each tried flat then with savepoints
    assert await effect_counts(db) == {ids[0]: 1, ids[2]: 1}
    letters = await list_dead_letters(db, infra.dead_letters)
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.consumer, letter.event_id, letter.subject, letter.deliveries) == (DURABLE, ids[1], SUBMITTED, 3)
    assert "RuntimeError: boom" in letter.error
    assert letter.headers["Nats-Msg-Id"] == ids[1]
    assert orders_events_pb2.OrderSubmittedEvent.FromString(letter.payload).meta.event_id == ids[1]
    assert consumer.outcomes == {"applied": 2, "retry": 2, "dead_letter": 1}


async def test_poison_messages_go_to_dead_letters_at_once(db: Database, nats_conn: NatsConnection) -> None:
    no_meta = orders_events_pb2.OrderSubmittedEvent()
    no_meta.order.order_id = "x"
    await nats_conn.js.publish(SUBMITTED, b"\xff\xff\xff", headers={"Nats-Msg-Id": "poison-1"})
    await nats_conn.js.publish(SUBMITTED, no_meta.SerializeToString(), headers={"Nats-Msg-Id": "poison-2"})
    recorder = Recorder()
    consumer = make_consumer(nats_conn.js, db, recorder)
    await consume_until(consumer, lambda: asyncio.sleep(0, result=consumer.outcomes.get("poison") == 2))
    letters = await list_dead_letters(db, infra.dead_letters, consumer=DURABLE)
    assert [(d.event_id, d.deliveries) for d in letters] == [("poison-1", 1), ("poison-2", 1)]
    assert "cannot decode" in letters[0].error and "no meta.event_id" in letters[1].error
    assert not recorder.calls


async def test_replayed_dead_letter_applies_once(db: Database, nats_conn: NatsConnection) -> None:
    ids = await write_events(db, 1)
    recorder = Recorder()
    recorder.fail_all = True
    consumer = make_consumer(nats_conn.js, db, recorder, max_deliver=2)
    await publish_outbox(db, nats_conn.js)
    await consumer.start()
    try:
        await wait_for(lambda: asyncio.sleep(0, result=consumer.outcomes.get("dead_letter") == 1))
        recorder.fail_all = False  # the cause is fixed
        (letter,) = await list_dead_letters(db, infra.dead_letters)
        first = await replay_dead_letter(db, infra.dead_letters, nats_conn.js, letter.id)
        await wait_for(lambda: _applied(db, 1))
        second = await replay_dead_letter(db, infra.dead_letters, nats_conn.js, letter.id)
        await wait_for(lambda: asyncio.sleep(0, result=consumer.outcomes.get("duplicate") == 1))
    finally:
        await consumer.stop()
    assert (first.msg_id, second.msg_id) == (f"{ids[0]}:replay:1", f"{ids[0]}:replay:2")
    assert not first.duplicate and not second.duplicate  # new ids: JetStream kept both
    assert await effect_counts(db) == {ids[0]: 1}
    assert await list_dead_letters(db, infra.dead_letters) == []
    (replayed,) = await list_dead_letters(db, infra.dead_letters, include_replayed=True)
    assert replayed.replayed_at is not None


async def test_two_instances_on_one_durable_apply_each_event_once(
    db: Database, nats_conn: NatsConnection, connect: Connect
) -> None:
    ids = await write_events(db, 60)
    await publish_outbox(db, nats_conn.js)
    other = await connect("replica-2")
    recorders = [Recorder(), Recorder()]
    for r in recorders:
        r.delay_s = 0.005
    consumers = [
        make_consumer(nats_conn.js, db, recorders[0], batch=3),
        make_consumer(other.js, db, recorders[1], batch=3),
    ]
    for c in consumers:
        await c.start()
    try:
        await wait_for(lambda: _applied(db, 60), timeout=20)
        await asyncio.sleep(0.3)
    finally:
        for c in consumers:
            await c.stop()
    assert await effect_counts(db) == {i: 1 for i in ids}
    assert all(c.outcomes.get("applied", 0) > 0 for c in consumers)  # the work was shared
    assert sum(c.outcomes.get("applied", 0) for c in consumers) == 60


async def test_republished_range_is_deduplicated_by_the_inbox(db: Database, nats_conn: NatsConnection) -> None:
    ids = await write_events(db, 5)
    relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders")
    await relay.publish_pending()
    recorder = Recorder()
    consumer = make_consumer(nats_conn.js, db, recorder, verify_interval_s=0.3)
    await consumer.start()
    try:
        await wait_for(lambda: _applied(db, 5))
        # The broker loses the stream; the consumer re-creates itself, the relay re-publishes.
        await nats_conn.js.delete_stream("ORDERS")
        await ensure_streams(nats_conn.js, duplicate_window_s=60)
        late = await write_events(db, 1, prefix="late")
        await relay.publish_pending()
        async with db.write() as session:
            since = (await session.execute(select(func.min(infra.outbox.c.created_at)))).scalar_one()
        await relay.republish(since, since.replace(year=since.year + 1))
        await wait_for(lambda: asyncio.sleep(0, result=consumer.outcomes.get("duplicate", 0) == 5), timeout=15)
        await wait_for(lambda: _applied(db, 6))
    finally:
        await consumer.stop()
    assert await effect_counts(db) == {i: 1 for i in ids + late}


async def test_database_outage_is_retried_without_using_deliveries(db: Database, nats_conn: NatsConnection) -> None:
    ids = await write_events(db, 1)
    seen: list[int] = []

    async def flaky(session: AsyncSession, event: orders_events_pb2.OrderSubmittedEvent, ctx: EventContext) -> None:
        seen.append(ctx.num_delivered)
        if len(seen) < 3:
            raise Unavailable("the database is unavailable; retry later")
        await Recorder()(session, event, ctx)

    consumer = make_consumer(nats_conn.js, db, flaky)
    await publish_outbox(db, nats_conn.js)
    await consume_until(consumer, lambda: _applied(db, 1))
    assert seen == [1, 1, 1]
    assert await effect_counts(db) == {ids[0]: 1}
    assert consumer.outcomes == {"applied": 1}


async def test_last_attempt_lost_in_a_crash_goes_to_dead_letters(
    db: Database, nats_conn: NatsConnection, connect: Connect
) -> None:
    ids = await write_events(db, 1)
    await publish_outbox(db, nats_conn.js)
    blocked = asyncio.Event()

    async def hang(session: AsyncSession, event: Any, ctx: EventContext) -> None:
        blocked.set()
        await asyncio.Event().wait()

    doomed_conn = await connect("doomed")
    doomed = make_consumer(doomed_conn.js, db, hang, max_deliver=1)
    await doomed.start()
    await asyncio.wait_for(blocked.wait(), timeout=10)
    await doomed_conn.nc.close()  # the process "dies" during its last allowed attempt
    await doomed.stop(timeout=0.1)

    recorder = Recorder()
    survivor = make_consumer(nats_conn.js, db, recorder, max_deliver=1)
    await survivor.start()
    try:
        await wait_for(lambda: asyncio.sleep(0, result=survivor.outcomes.get("dead_letter") == 1), timeout=10)
    finally:
        await survivor.stop()
    assert not recorder.calls  # the spare delivery only records the dead letter
    (letter,) = await list_dead_letters(db, infra.dead_letters)
    assert (letter.event_id, letter.deliveries) == (ids[0], 2)
    assert "delivery limit" in letter.error


async def test_consumer_is_created_idempotently_and_stops_quickly(db: Database, nats_conn: NatsConnection) -> None:
    consumer = make_consumer(nats_conn.js, db, Recorder(), fetch_timeout_s=5.0)
    info = await consumer.ensure()
    assert info.config.max_deliver == 4  # max_deliver + the spare delivery
    assert info.config.backoff == [1.0, 1.0]  # never shorter than ack_wait
    assert info.config.filter_subjects == [SUBMITTED]
    changed = make_consumer(nats_conn.js, db, Recorder(), max_deliver=5, fetch_timeout_s=5.0)
    assert (await changed.ensure()).config.max_deliver == 6  # updated in place
    await changed.start()
    await asyncio.sleep(0.3)  # now waiting inside a 5 s fetch
    started = time.monotonic()
    await changed.stop()
    await nats_conn.close()
    assert time.monotonic() - started < 1.5
