"""The retry of waiting orders: a pass over every waiting order, by priority then submit time.

A pass (:meth:`EventHandlers.retry_waiting_orders`) pages through the whole waiting list and
reserves each order the free stock covers, every reservation in a transaction of its own, so
a received lot serves every order it can however many wait, and no transaction grows with
the list. Passes run one at a time in each replica that runs consumers:

* at start, at once: release resumes right after a crash (the stock event that woke a pass
  was acknowledged when its inbox row committed; a pass it did not finish is finished here);
* when woken (:meth:`WaitingSweeper.wake`): the consumer of ``inventory.lot.received`` and
  ``inventory.reservation.released`` wakes it with the event's id as the cause of the
  reservations made, and its trace; wakes during a pass make one more pass after it;
* every ``interval_s``: on PostgreSQL an order can start waiting in a transaction that did
  not see a lot received concurrently, while the pass of that lot did not see the order
  waiting yet; without another stock event it would wait for ever;
* after a failed pass (the database unreachable), again with back-off.

Reservations are safe under concurrency (all or none, conditional updates of the lots), so
passes of several replicas may overlap.
"""

from __future__ import annotations

import asyncio
import contextlib

from mes_platform.messaging.backoff import Backoff
from mes_platform.tasks import cancel_and_wait
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.tracing import TraceContext, current_trace, span
from mes_platform.uow import SqlUnitOfWorkFactory
from services.inventory.adapters.unit_of_work import InventoryUnitOfWork
from services.inventory.service_layer.event_handlers import EventHandlers

__all__ = ["SWEEP_CAUSE", "WaitingSweeper"]

_log = get_logger("mes.inventory.waiting_sweeper")
#: Causation id of the events a pass nobody woke (at start, periodic) writes.
SWEEP_CAUSE = "periodic-retry"


class WaitingSweeper:
    def __init__(
        self, uows: SqlUnitOfWorkFactory[InventoryUnitOfWork], handlers: EventHandlers, *, interval_s: float
    ) -> None:
        self._uows = uows
        self._handlers = handlers
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        #: (cause, trace) of the first wake since the last pass began.
        self._wake: tuple[str, TraceContext | None] | None = None
        self.passes = 0

    def wake(self, cause: str = SWEEP_CAUSE) -> None:
        """Make a pass soon (after the one running, if any); its reservations carry ``cause``
        and continue the current trace."""
        if self._wake is None:
            self._wake = (cause, current_trace())
        self._woken.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inventory-waiting-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        first = min(0.5, self.interval_s)
        backoff = Backoff(initial=first, cap=max(first, min(5.0, self.interval_s)))
        while True:
            failed = not await self._pass()
            wait = backoff.next() if failed else self.interval_s
            if not failed:
                backoff.reset()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=wait)

    async def _pass(self) -> bool:
        """One pass; False when it failed."""
        self._woken.clear()
        cause, trace = self._wake or (SWEEP_CAUSE, None)
        self._wake = None
        handlers = self._handlers.bound(self._uows.caused_by(cause))
        try:
            # a child of the span that woke it; a new trace when nobody did (at start, periodic)
            with span("inventory retry_waiting_orders", parent=trace, attributes={"mes.causation_id": cause}):
                report = await handlers.retry_waiting_orders()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.warning("waiting_retry_failed", error=repr(exc))
            if cause != SWEEP_CAUSE and self._wake is None:
                self._wake = (cause, trace)  # the next pass still answers that wake
            return False
        self.passes += 1
        if report.reserved:
            _log.info("waiting_orders_reserved", count=len(report.reserved), still_waiting=len(report.still_waiting))
        return True
