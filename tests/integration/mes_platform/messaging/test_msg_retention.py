"""Retention purges old published outbox rows, old inbox rows and old idempotency keys only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import insert, select

from mes_contracts.events import ORDER_SUBMITTED
from mes_kernel.clock import utcnow
from mes_platform.db import Database
from mes_platform.messaging import RetentionJob, RetentionPolicy, purge
from tests.integration.mes_platform.messaging.msg_helpers import infra


async def _seed(db: Database) -> None:
    now = utcnow()
    day = timedelta(days=1)
    ob, ib, ik = infra.outbox, infra.inbox, infra.idempotency
    outbox_rows = [
        ("old-published", now - 30 * day, now - 8 * day),
        ("recent-published", now - 30 * day, now - 6 * day),
        ("old-unpublished", now - 30 * day, None),
    ]
    async with db.write() as session:
        for event_id, created, published in outbox_rows:
            await session.execute(
                insert(ob).values(
                    event_id=event_id, subject=ORDER_SUBMITTED.subject, payload=b"", headers="{}",
                    created_at=created, published_at=published, attempts=0,
                )
            )  # fmt: skip
        for event_id, age in (("inbox-old", 15), ("inbox-recent", 13)):
            await session.execute(
                insert(ib).values(consumer="c", event_id=event_id, subject="s", processed_at=now - age * day)
            )
        for request_id, age in (("idem-old", 8), ("idem-recent", 6)):
            await session.execute(
                insert(ik).values(
                    scope="s", request_id=request_id, request_hash="h", resource_name="r", created_at=now - age * day
                )
            )


async def _remaining(db: Database) -> tuple[set[str], set[str], set[str]]:
    async with db.write() as session:
        outbox = set((await session.execute(select(infra.outbox.c.event_id))).scalars())
        inbox = set((await session.execute(select(infra.inbox.c.event_id))).scalars())
        idem = set((await session.execute(select(infra.idempotency.c.request_id))).scalars())
    return outbox, inbox, idem


async def test_purge_deletes_only_what_is_old_enough(db: Database) -> None:
    await _seed(db)
    result = await purge(db, infra)
    assert (result.outbox, result.inbox, result.idempotency) == (1, 1, 1)
    assert await _remaining(db) == (
        {"recent-published", "old-unpublished"},  # unpublished rows are never purged
        {"inbox-recent"},
        {"idem-recent"},
    )
    again = await purge(db, infra)
    assert (again.outbox, again.inbox, again.idempotency) == (0, 0, 0)


async def test_purge_works_in_small_batches(db: Database) -> None:
    now = utcnow()
    async with db.write() as session:
        for i in range(23):
            await session.execute(
                insert(infra.inbox).values(
                    consumer="c", event_id=f"e{i}", subject="s", processed_at=now - timedelta(days=20, seconds=i % 4)
                )
            )
    result = await purge(db, infra, RetentionPolicy(batch_size=5))
    assert result.inbox == 23
    assert (await _remaining(db))[1] == set()


async def test_retention_job_runs_in_the_background(db: Database) -> None:
    await _seed(db)
    job = RetentionJob(db, infra, interval_s=3600)
    job.start()
    try:
        for _ in range(100):
            if job.runs:
                break
            await asyncio.sleep(0.02)
    finally:
        await job.stop()
    assert job.runs == 1
    assert (await _remaining(db))[2] == {"idem-recent"}
