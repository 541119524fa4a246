"""A work center's state follows its operations: RUNNING while any is IN_PROGRESS, IDLE when
none is (a blocked center stays BLOCKED). Every use case that moves an operation into or out of
IN_PROGRESS calls :func:`follow_operations` in its unit of work, after the operation is stored:
the state changes in the same transaction, and each change writes ``WorkCenterChanged`` to the
outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.production.domain.events import WorkCenterChanged
from services.production.domain.resources import WorkCenter
from services.production.service_layer.ports import UnitOfWork

__all__ = ["follow_center", "follow_operations"]


async def follow_center(uow: UnitOfWork, center: WorkCenter, now: datetime) -> None:
    """Set ``center`` (read for update) RUNNING or IDLE as its operations now say."""
    running = await uow.operations.count_in_progress(center.code) > 0
    previous = center.follow(running, now)
    if previous is not None:
        await uow.work_centers.update(center)
        await uow.emit(WorkCenterChanged(center, previous))


async def follow_operations(uow: UnitOfWork, codes: Iterable[str], now: datetime) -> None:
    """:func:`follow_center` for the work centers ``codes`` ("" for none), locked in code order
    (so that concurrent changes of several centers cannot deadlock, and the count of each
    center's operations sees every committed change before it)."""
    for code in sorted({code for code in codes if code}):
        center = await uow.work_centers.get(code, for_update=True)
        if center is not None:
            await follow_center(uow, center, now)
