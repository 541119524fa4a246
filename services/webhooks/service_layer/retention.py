"""Retention of what the webhooks service keeps: delivered deliveries and log entries older than
``kept_for`` (30 days), order references older than ``order_refs_for`` (a year). Pending, held
and dead deliveries are never purged (a dead letter waits for its replay). Deletes run in
bounded batches (short transactions), every ``interval_s``, where the dispatcher runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mes_kernel.clock import utcnow
from services.webhooks.service_layer.ports import UnitOfWork, UnitsOfWork

__all__ = ["DeliveryRetention", "RetentionSettings"]

_log = logging.getLogger("mes.webhooks.retention")


@dataclass(frozen=True)
class RetentionSettings:
    kept_for: timedelta = timedelta(days=30)
    order_refs_for: timedelta = timedelta(days=365)
    interval_s: float = 3600.0
    batch: int = 1000


class DeliveryRetention:
    def __init__(
        self, uows: UnitsOfWork, settings: RetentionSettings | None = None, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._uows = uows
        self.settings = settings or RetentionSettings()
        self._clock = clock
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="webhooks-retention")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                purged = await self.purge_once()
                if any(purged.values()):
                    _log.info("webhooks_retention_purged %s", purged)
            except Exception as exc:  # the database is away: next round
                _log.warning("webhooks_retention_failed error=%r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.settings.interval_s)

    async def purge_once(self) -> dict[str, int]:
        """One pass; how many rows of each kind went."""
        now = self._clock()
        kept, refs, batch = now - self.settings.kept_for, now - self.settings.order_refs_for, self.settings.batch
        counts = {"deliveries": 0, "log": 0, "order_refs": 0}

        async def deliveries(uow: UnitOfWork) -> int:
            return await uow.deliveries.purge_delivered(kept, batch)

        async def log(uow: UnitOfWork) -> int:
            return await uow.log.purge(kept, batch)

        async def order_refs(uow: UnitOfWork) -> int:
            return await uow.order_refs.purge(refs, batch)

        for kind, step in (("deliveries", deliveries), ("log", log), ("order_refs", order_refs)):
            while not self._stopping.is_set():
                done = await self._uows.transact(step)
                counts[kind] += done
                if done < batch:
                    break
        return counts
