"""Reads on a real PostgreSQL streaming replica (``pg_basebackup -R``, lag injected with
``recovery_min_apply_delay``): the replica applies the primary's writes after the delay; reads go to
it unless the gRPC call's position is not applied there (then they wait within the bound or read the
writer); a call that wrote reads on the writer; a stopped replica sends reads to the writer without
errors until it is back; the replica's lag is the gauge ``mes_db_replica_lag_seconds``."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.db import Database
from mes_platform.replica import CallPositions, ReplicaSettings, Route, enter_call, leave_call
from tests._infra.pg_replica import ReplicatedPostgres
from tests.integration.saga.saga_stack import eventually

SERVICE = "replica-test"
#: Generous liveness bounds (a shared machine), never latency assertions.
LONG = 60.0


@pytest.fixture
def pair(make_replicated_postgres: Callable[[], ReplicatedPostgres]) -> ReplicatedPostgres:
    return make_replicated_postgres()


@asynccontextmanager
async def database(pair: ReplicatedPostgres, **knobs: str) -> AsyncIterator[Database]:
    """A Database writing on the primary and reading on the replica, with a table ``items``."""
    writer_url, reader_url = pair.urls(pair.create_database())
    settings = ReplicaSettings.from_knobs(SERVICE, knobs)
    db = Database(writer_url, reader_url, schema="public", pool_size=4, replica=settings)
    try:
        async with db.write() as session:
            await session.execute(text("CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)"))
        await asyncio.to_thread(pair.wait_replayed)
        assert db.router is not None
        await db.router.probe_once()  # healthy now (a probe before the database reached the replica failed)
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def call(needed: int = 0) -> AsyncIterator[CallPositions]:
    """What the gRPC interceptor does around a call: its positions, for the reads and writes inside."""
    positions = CallPositions(needed)
    token = enter_call(positions)
    try:
        yield positions
    finally:
        leave_call(token)


async def on_replica(session: AsyncSession) -> bool:
    return bool(await session.scalar(text("SELECT pg_is_in_recovery()")))


async def insert(db: Database, item: int, label: str = "x") -> None:
    async with db.write() as session:
        await session.execute(text("INSERT INTO items VALUES (:id, :label)"), {"id": item, "label": label})


async def read(db: Database, item: int) -> tuple[str | None, bool]:
    """The label of ``item`` (None: not there) and whether the read ran on the replica."""
    async with db.read() as session:
        label = await session.scalar(text("SELECT label FROM items WHERE id = :id"), {"id": item})
        return label, await on_replica(session)


async def insert_lagging(
    pair: ReplicatedPostgres, db: Database, item: int, label: str, *, delay_ms: int
) -> CallPositions:
    """Inserts ``item`` in a call once the replica applies ``delay_ms`` late; the call's positions."""
    await asyncio.to_thread(pair.set_apply_delay, delay_ms)
    async with call() as writing:
        await insert(db, item, label)
    return writing


def reads(route: Route) -> float:
    value = REGISTRY.get_sample_value("mes_db_replica_reads_total", {"service": SERVICE, "route": route.value})
    return value or 0.0


@contextmanager
def counted_reads(route: Route, count: int = 1) -> Iterator[None]:
    """Asserts that the block's reads counted ``count`` more reads on ``route``."""
    before = reads(route)
    yield
    assert reads(route) == before + count


def lag_gauge() -> float | None:
    return REGISTRY.get_sample_value("mes_db_replica_lag_seconds", {"service": SERVICE})


async def test_the_replica_applies_a_primary_write_after_the_injected_delay(pair: ReplicatedPostgres) -> None:
    """The fixture itself: a streaming standby (in recovery, streaming from the primary) that applies a
    commit only once ``recovery_min_apply_delay`` has passed since it."""
    primary = await asyncpg.connect(pair.primary.url)
    replica = await asyncpg.connect(pair.replica.url)
    try:
        assert await replica.fetchval("SELECT pg_is_in_recovery()") is True
        assert await primary.fetchval("SELECT state FROM pg_stat_replication") == "streaming"
        await primary.execute("CREATE TABLE t (id int)")
        await asyncio.to_thread(pair.wait_replayed)
        await asyncio.to_thread(pair.set_apply_delay, 5000)
        await primary.execute("INSERT INTO t VALUES (1)")
        written = await primary.fetchval("SELECT (pg_current_wal_flush_lsn() - '0/0')::bigint")
        # Received at once, applied only after the delay (5 s: far more than this check takes).
        await eventually(
            lambda: replica.fetchval("SELECT (pg_last_wal_receive_lsn() - '0/0')::bigint >= $1", written),
            what="the replica receiving the insert",
            timeout=LONG,
        )
        assert await replica.fetchval("SELECT count(*) FROM t") == 0
        await eventually(lambda: replica.fetchval("SELECT count(*) FROM t"), what="the insert applied", timeout=LONG)
        await asyncio.to_thread(pair.set_apply_delay, 0)
        await primary.execute("INSERT INTO t VALUES (2)")
        await asyncio.to_thread(pair.wait_replayed)
        assert await replica.fetchval("SELECT count(*) FROM t") == 2
    finally:
        await primary.close()
        await replica.close()


async def test_reads_without_a_position_go_to_the_replica(pair: ReplicatedPostgres) -> None:
    async with database(pair) as db:
        await insert(db, 1, "one")
        await asyncio.to_thread(pair.wait_replayed)
        with counted_reads(Route.REPLICA, 2):
            assert await read(db, 1) == ("one", True)  # outside a call (consumers, tasks)
            async with call():  # a call of a caller that wrote nothing
                assert await read(db, 1) == ("one", True)


async def test_a_position_the_replica_has_not_applied_is_read_on_the_writer(pair: ReplicatedPostgres) -> None:
    async with database(pair, DATABASE_REPLICA_WAIT_MS="50") as db:
        writing = await insert_lagging(pair, db, 7, "seven", delay_ms=5000)
        assert writing.committed > 0  # the commit position the call answers with
        # The replica lags: a read without the position does not see the row...
        assert await read(db, 7) == (None, True)
        # ...one with it does, on the writer.
        with counted_reads(Route.WRITER_BEHIND):
            async with call(writing.committed):
                assert await read(db, 7) == ("seven", False)


async def test_a_read_waits_for_the_replica_within_the_bound(pair: ReplicatedPostgres) -> None:
    # A wait far longer than the injected lag: the read is served by the replica once it applied the write.
    async with database(pair, DATABASE_REPLICA_WAIT_MS="30000") as db:
        writing = await insert_lagging(pair, db, 3, "three", delay_ms=300)
        with counted_reads(Route.REPLICA_WAITED):
            async with call(writing.committed):
                assert await read(db, 3) == ("three", True)
        assert db.router is not None and db.router.replayed >= writing.committed


async def test_a_call_that_wrote_reads_on_the_writer(pair: ReplicatedPostgres) -> None:
    async with database(pair) as db:
        await asyncio.to_thread(pair.set_apply_delay, 5000)
        async with call() as positions:
            await insert(db, 4, "four")
            assert await read(db, 4) == ("four", False)
        assert positions.committed > 0


async def test_a_write_that_changed_nothing_has_no_position(pair: ReplicatedPostgres) -> None:
    async with database(pair) as db, call() as positions:
        async with db.write() as session:
            await session.execute(text("SELECT count(*) FROM items"))
        assert positions.committed == 0


async def test_a_stopped_replica_sends_reads_to_the_writer_without_errors(pair: ReplicatedPostgres) -> None:
    async with database(pair, DATABASE_REPLICA_PROBE_S="0.2", DATABASE_REPLICA_PROBE_TIMEOUT_S="1") as db:
        router = db.router
        assert router is not None
        db.start_replica_probe()
        await insert(db, 1, "one")
        await asyncio.to_thread(pair.wait_replayed)
        await eventually(lambda: _value(lag_gauge() == 0.0), what="the probe measuring no lag", timeout=LONG)
        await asyncio.to_thread(pair.replica.stop)
        # Before and after the probe notices: every read answers, from the writer.
        assert await read(db, 1) == ("one", False)
        await eventually(lambda: _value(router.failed), what="the replica marked failed", timeout=LONG)
        assert lag_gauge() == math.inf
        async with call(10**12):  # even a position far ahead: the writer has everything there is
            assert await read(db, 1) == ("one", False)
        await asyncio.to_thread(pair.replica.start)
        await eventually(lambda: _value(not router.failed), what="the replica back", timeout=LONG)
        assert await read(db, 1) == ("one", True)


async def test_the_replica_lag_is_a_gauge(pair: ReplicatedPostgres) -> None:
    async with database(pair, DATABASE_REPLICA_PROBE_S="0.1") as db:
        await asyncio.to_thread(pair.set_apply_delay, 1500)
        written = 0

        async def lagging() -> bool:
            nonlocal written
            written += 1
            await insert(db, written)
            return (lag_gauge() or 0.0) >= 0.5

        await eventually(lagging, what="a lag of 0.5 s or more on the gauge", timeout=LONG, interval=0.05)
        await asyncio.to_thread(pair.set_apply_delay, 0)
        await asyncio.to_thread(pair.wait_replayed)
        await eventually(lambda: _value((lag_gauge() or 0.0) < 0.5), what="no lag", timeout=LONG)


async def _value(value: Any) -> Any:
    return value
