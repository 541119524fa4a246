"""Retention of the infrastructure tables.

* outbox: rows *published* more than ``outbox_days`` (7) ago; unpublished rows are never
  deleted;
* inbox: rows processed more than ``inbox_days`` (14) ago. This must stay longer than
  the streams' ``max_age`` (7 days): a message JetStream still holds can be redelivered
  or replayed, and its inbox row must still be there to deduplicate it;
* idempotency keys: older than ``idempotency_days`` (7, never less: partners retry with
  the same ``request_id`` for days);
* dead letters are kept until an operator deals with them.

Deletes run in bounded batches (short transactions). :class:`RetentionJob` runs
:func:`purge` hourly in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete, select

from mes_kernel.clock import utcnow
from mes_platform.db import Database
from mes_platform.messaging._util import sleep_or_event
from mes_platform.messaging.streams import DEFAULT_MAX_AGE_S
from mes_platform.tables import InfraTables
from mes_platform.telemetry.logs import get_logger

__all__ = ["MIN_IDEMPOTENCY_DAYS", "PurgeResult", "RetentionJob", "RetentionPolicy", "purge"]

_log = get_logger("mes.messaging.retention")

MIN_IDEMPOTENCY_DAYS = 7.0


@dataclass(frozen=True)
class RetentionPolicy:
    outbox_days: float = 7.0
    inbox_days: float = 14.0
    idempotency_days: float = 7.0
    stream_max_age_s: float = DEFAULT_MAX_AGE_S
    batch_size: int = 5000

    def __post_init__(self) -> None:
        if self.outbox_days <= 0:
            raise ValueError("outbox_days must be > 0")
        if self.inbox_days * 86400 <= self.stream_max_age_s:
            raise ValueError(
                f"inbox_days ({self.inbox_days}) must exceed the stream max_age "
                f"({self.stream_max_age_s / 86400:g} days) so redelivered events are still deduplicated"
            )
        if self.idempotency_days < MIN_IDEMPOTENCY_DAYS:
            raise ValueError(f"idempotency_days must be >= {MIN_IDEMPOTENCY_DAYS:g}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")


@dataclass(frozen=True)
class PurgeResult:
    outbox: int
    inbox: int
    idempotency: int


async def _delete_batched(
    db: Database, table: Table, key: ColumnElement[object], condition: ColumnElement[bool], batch: int
) -> int:
    total = 0
    while True:
        chosen = select(key).where(condition).limit(batch).scalar_subquery()
        async with db.write() as session:
            result = await session.execute(delete(table).where(key.in_(chosen)))
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < batch:
            return total


async def purge(
    db: Database, infra: InfraTables, policy: RetentionPolicy | None = None, *, now: datetime | None = None
) -> PurgeResult:
    policy = policy or RetentionPolicy()
    now = now or utcnow()
    ob, ib, ik = infra.outbox, infra.inbox, infra.idempotency
    outbox = await _delete_batched(
        db, ob, ob.c.seq,
        ob.c.published_at.is_not(None) & (ob.c.published_at < now - timedelta(days=policy.outbox_days)),
        policy.batch_size,
    )  # fmt: skip
    # The inbox and idempotency keys are composite; delete by their time column in batches
    # of rows selected by it (ties at the cut-off are harmless: they are all old).
    inbox = await _delete_composite(
        db, ib, ib.c.processed_at, now - timedelta(days=policy.inbox_days), policy.batch_size
    )
    idem = await _delete_composite(
        db, ik, ik.c.created_at, now - timedelta(days=policy.idempotency_days), policy.batch_size
    )
    result = PurgeResult(outbox, inbox, idem)
    if outbox or inbox or idem:
        _log.info("retention_purged", outbox=outbox, inbox=inbox, idempotency=idem)
    return result


async def _delete_composite(
    db: Database, table: Table, column: ColumnElement[datetime], cutoff: datetime, batch: int
) -> int:
    total = 0
    while True:
        async with db.write() as session:
            oldest = (
                await session.execute(select(column).where(column < cutoff).order_by(column).offset(batch - 1).limit(1))
            ).scalar_one_or_none()
            bound = cutoff if oldest is None else oldest
            op = column < bound if oldest is None else column <= bound
            result = await session.execute(delete(table).where(op))
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if oldest is None:
            return total


class RetentionJob:
    """Runs :func:`purge` every ``interval_s`` (hourly) in the background; errors are logged."""

    def __init__(
        self, db: Database, infra: InfraTables, policy: RetentionPolicy | None = None, *, interval_s: float = 3600.0
    ) -> None:
        self._db, self._infra = db, infra
        self.policy = policy or RetentionPolicy()
        self.interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=30)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await purge(self._db, self._infra, self.policy)
            except Exception as exc:
                _log.warning("retention_failed", error=repr(exc))
            self.runs += 1
            await sleep_or_event(self._stopping, self.interval_s)
