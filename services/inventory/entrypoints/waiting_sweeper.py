"""A periodic retry of waiting orders, beside the retries on stock events.

On PostgreSQL an order can start waiting in a transaction that did not see a lot received
concurrently, while the retry pass of that lot did not see the order waiting yet; without
another stock event it would wait for ever. Every replica running consumers also runs a
pass every ``interval_s`` (cheap when nobody waits; reservations are safe under concurrency).
"""

from __future__ import annotations

import asyncio
import contextlib

from mes_platform.telemetry.logs import get_logger
from mes_platform.uow import SqlUnitOfWorkFactory
from services.inventory.adapters.unit_of_work import InventoryUnitOfWork
from services.inventory.service_layer.event_handlers import EventHandlers

__all__ = ["SWEEP_CAUSE", "WaitingSweeper"]

_log = get_logger("mes.inventory.waiting_sweeper")
#: Causation id of the events a periodic pass writes.
SWEEP_CAUSE = "periodic-retry"


class WaitingSweeper:
    def __init__(
        self, uows: SqlUnitOfWorkFactory[InventoryUnitOfWork], handlers: EventHandlers, *, interval_s: float
    ) -> None:
        self._handlers = handlers.bound(uows.caused_by(SWEEP_CAUSE))
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inventory-waiting-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                report = await self._handlers.retry_waiting_orders()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("waiting_retry_failed", error=repr(exc))
                continue
            self.passes += 1
            if report.reserved:
                _log.info(
                    "waiting_orders_reserved", count=len(report.reserved), still_waiting=len(report.still_waiting)
                )
