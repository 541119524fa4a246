"""The outbox relay against a real nats-server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from sqlalchemy import select

from mes.orders.v1 import orders_events_pb2
from mes_contracts.events import EventType
from mes_platform.db import Database
from mes_platform.messaging import EVENT_POSITION_HEADER, NatsConnection, OutboxRelay, ensure_streams
from mes_platform.replica import ReplicaSettings, flushed_position, parse_lsn
from tests._infra.nats import NatsServer
from tests._infra.pg_replica import ReplicatedPostgres
from tests.integration.mes_platform.messaging.msg_helpers import (
    SUBMITTED,
    infra,
    metadata,
    stream_messages,
    unpublished,
    wait_for,
    write_events,
    writer,
)


async def _all_published(db: Database) -> bool:
    return await unpublished(db) == 0


async def test_relay_publishes_every_row_once_with_msg_id(db: Database, nats_conn: NatsConnection) -> None:
    ids = await write_events(db, 25)
    relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders", batch_size=10)
    relay.start()
    try:
        await wait_for(lambda: _all_published(db))
        relay.notify()
        await asyncio.sleep(0.3)  # another round finds nothing to publish
    finally:
        await relay.stop()
    msgs = await stream_messages(nats_conn.js, "ORDERS")
    assert [m[1] for m in msgs] == ids  # seq order, Nats-Msg-Id = event id, each once
    assert {m[0] for m in msgs} == {SUBMITTED}
    async with db.write() as session:
        attempts = (await session.execute(select(infra.outbox.c.attempts))).scalars().all()
    assert set(attempts) == {1}
    assert relay.published_total == 25


async def test_relay_sweeps_on_start_up_and_wakes_on_notify(db: Database, nats_conn: NatsConnection) -> None:
    before = await write_events(db, 5, prefix="before")
    # A poll interval far longer than the test: only the sweep and notify() can publish.
    relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders", poll_interval_s=60)
    relay.start()
    try:
        await wait_for(lambda: _all_published(db), timeout=5)
        after = await write_events(db, 5, prefix="after")
        started = time.monotonic()
        relay.notify()
        await wait_for(lambda: _all_published(db), timeout=5)
        assert time.monotonic() - started < 2
    finally:
        await relay.stop()
    assert [m[1] for m in await stream_messages(nats_conn.js, "ORDERS")] == before + after


async def test_relay_keeps_rows_while_nats_is_down(db: Database, nats_conn: NatsConnection, server: NatsServer) -> None:
    first = await write_events(db, 3, prefix="first")
    relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders", publish_timeout_s=0.5, max_backoff_s=0.5)
    relay.start()
    try:
        await wait_for(lambda: _all_published(db))
        server.kill()
        await wait_for(lambda: asyncio.sleep(0, result=not nats_conn.connected()), timeout=5)
        during = await write_events(db, 20, prefix="during")
        relay.notify()
        await asyncio.sleep(1.0)
        assert await unpublished(db) == 20  # nothing marked without a PubAck
        server.start()  # same store and port
        await wait_for(lambda: _all_published(db), timeout=15)
    finally:
        await relay.stop()
    ids = [m[1] for m in await stream_messages(nats_conn.js, "ORDERS")]
    assert Counter(ids) == Counter(first + during)  # all there, none twice


async def test_two_relays_publish_each_row_once(
    db: Database, nats_conn: NatsConnection, connect: Callable[..., Awaitable[NatsConnection]]
) -> None:
    other = await connect("relay-2")
    ids = await write_events(db, 60)
    relays = [
        OutboxRelay(db, infra.outbox, nats_conn.js, "orders", batch_size=7),
        OutboxRelay(db, infra.outbox, other.js, "orders", batch_size=7),
    ]
    for relay in relays:
        relay.start()
    try:
        await wait_for(lambda: _all_published(db))
    finally:
        for relay in relays:
            await relay.stop()
    msgs = await stream_messages(nats_conn.js, "ORDERS")
    assert sorted(m[1] for m in msgs) == sorted(ids)
    if db.is_postgres:  # rows are claimed with SKIP LOCKED: no row went out twice
        assert sum(r.published_total for r in relays) == 60


async def test_republish_range_sends_published_rows_again(db: Database, nats_conn: NatsConnection) -> None:
    ids = await write_events(db, 6)
    relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders", batch_size=4)
    assert await relay.publish_pending() == 6
    async with db.write() as session:
        created = (
            (await session.execute(select(infra.outbox.c.created_at).order_by(infra.outbox.c.seq))).scalars().all()
        )
    # Broker lost its data: the stream is re-created empty.
    await nats_conn.js.delete_stream("ORDERS")
    await ensure_streams(nats_conn.js, duplicate_window_s=60)
    since, until = created[1], created[4]  # rows 2..4 (until is exclusive)
    assert await relay.republish(since, until) == 3
    assert [m[1] for m in await stream_messages(nats_conn.js, "ORDERS")] == ids[1:4]


#: A subject outside every stream (not a registered event: the relay must cope with it).
_NOWHERE = EventType("nowhere.order.cancelled", orders_events_pb2.OrderCancelledEvent)


async def test_rejected_row_moves_to_the_slow_lane_and_blocks_nothing(db: Database, nats_conn: NatsConnection) -> None:
    async with db.write() as session:
        event = orders_events_pb2.OrderCancelledEvent(order_id="x")
        stray = await writer.add(session, _NOWHERE, event)  # no stream captures it (yet)
    ids = await write_events(db, 5)
    relay = OutboxRelay(
        db, infra.outbox, nats_conn.js, "orders", batch_size=2, stuck_after=2, stuck_retry_interval_s=0.3
    )
    relay.start()
    try:
        await wait_for(lambda: _unpublished_is(db, 1))
        assert [m[1] for m in await stream_messages(nats_conn.js, "ORDERS")] == ids
        async with db.write() as session:
            attempts = (
                await session.execute(select(infra.outbox.c.attempts).where(infra.outbox.c.event_id == stray))
            ).scalar_one()
        assert attempts == 2  # rejected twice, then parked in the slow lane
        await nats_conn.js.add_stream(name="NOWHERE", subjects=["nowhere.>"])
        relay.notify()
        await wait_for(lambda: _unpublished_is(db, 0), timeout=5)
    finally:
        await relay.stop()
    assert [m[1] for m in await stream_messages(nats_conn.js, "NOWHERE")] == [stray]


async def _unpublished_is(db: Database, n: int) -> bool:
    return await unpublished(db) == n


async def positions_of(js: JetStreamContext, stream: str) -> list[str | None]:
    """The ``Mes-Commit-Lsn`` header of every message in the stream (None: absent), in stream order."""
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        found.append((msg.headers or {}).get(EVENT_POSITION_HEADER))
    return found


async def test_events_of_a_service_reading_on_a_replica_carry_a_position_past_their_commit(
    make_replicated_postgres: Callable[[], ReplicatedPostgres], nats_conn: NatsConnection
) -> None:
    """A reader that must see what an event says happened reads at the event's ``Mes-Commit-Lsn``: the
    writer's flush location once the relay saw the row, so at or past the row's commit."""
    pair = make_replicated_postgres()
    writer_url, reader_url = pair.urls(pair.create_database())
    db = Database(writer_url, reader_url, schema="public", pool_size=4, replica=ReplicaSettings.from_knobs("t", {}))
    try:
        async with db.writer.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await write_events(db, 5)
        async with db.writer.connect() as conn:
            committed = await flushed_position(conn)  # past the five commits
        relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders", batch_size=2)
        relay.start()
        try:
            await wait_for(lambda: _all_published(db))
        finally:
            await relay.stop()
        positions = await positions_of(nats_conn.js, "ORDERS")
        assert len(positions) == 5 and all(p is not None and parse_lsn(p) >= committed for p in positions)
    finally:
        await db.dispose()


async def test_events_of_a_service_reading_on_its_writer_carry_no_position(
    db: Database, nats_conn: NatsConnection
) -> None:
    await write_events(db, 3)
    relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders")
    relay.start()
    try:
        await wait_for(lambda: _all_published(db))
    finally:
        await relay.stop()
    assert await positions_of(nats_conn.js, "ORDERS") == [None, None, None]
