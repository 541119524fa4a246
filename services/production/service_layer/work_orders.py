"""Work-order use cases: create and release, read, hold/resume, close, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mes_kernel.errors import NotFound
from mes_kernel.validation import Violations
from mes_platform.auth import require_staff
from services.production.domain.bom import validate_lines, validate_reference
from services.production.domain.work_orders import WorkOrder, reconcile
from services.production.service_layer.commands import (
    CancelWorkOrders,
    CloseWorkOrder,
    CreateWorkOrders,
    HoldWorkOrder,
    ListWorkOrders,
    ResumeWorkOrder,
)
from services.production.service_layer.common import (
    BatchResult,
    Context,
    Page,
    batch_result,
    check_batch_size,
    paginate,
)
from services.production.service_layer.ports import UnitOfWork
from services.production.service_layer.release import cancel_order, create_and_release

__all__ = ["PRIORITY_NORMAL", "WorkOrderHandlers", "get_work_order", "normalize_priority"]

PRIORITY_NORMAL = 2
_PRIORITIES = range(0, 5)  # UNSPECIFIED, LOW, NORMAL, HIGH, RUSH


def normalize_priority(v: Violations, priority: int, field: str = "priority") -> int:
    """Unspecified means NORMAL; values outside the enum are invalid."""
    v.check(priority in _PRIORITIES, field, "must be LOW, NORMAL, HIGH or RUSH")
    return priority or PRIORITY_NORMAL


async def get_work_order(uow: UnitOfWork, work_order_id: str, *, for_update: bool = False) -> WorkOrder:
    work_order = await uow.work_orders.get(work_order_id, for_update=for_update)
    if work_order is None:
        raise NotFound(f"work order {work_order_id} not found")
    return work_order


class WorkOrderHandlers:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def create_work_orders(self, cmd: CreateWorkOrders) -> list[WorkOrder]:
        """Idempotent per order: a second call returns the work orders of the first."""
        require_staff()
        v = Violations()
        validate_reference(v, cmd.order_id, "order_id")
        priority = normalize_priority(v, cmd.priority)
        validate_lines(v, cmd.lines)
        v.raise_if_any()
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            return await create_and_release(
                self._ctx, uow, order_id=cmd.order_id, priority=priority, lines=cmd.lines, now=now
            )

        return await self._ctx.uow.write(tx)

    async def get_work_order(self, work_order_id: str) -> WorkOrder:
        require_staff()

        async def tx(uow: UnitOfWork) -> WorkOrder:
            return await get_work_order(uow, work_order_id)

        return await self._ctx.uow.read(tx)

    async def batch_get_work_orders(self, ids: Sequence[str], *, allow_missing: bool) -> BatchResult[str, WorkOrder]:
        require_staff()
        check_batch_size(len(ids))

        async def tx(uow: UnitOfWork) -> dict[str, WorkOrder]:
            return await uow.work_orders.get_many(set(ids))

        found = await self._ctx.uow.read(tx)
        return batch_result(ids, found, allow_missing=allow_missing, label=lambda i: f"workOrders/{i}")

    async def list_work_orders(self, query: ListWorkOrders) -> Page[WorkOrder]:
        """Oldest first (create time, then order id and line number)."""
        require_staff()
        v = Violations()
        v.check(len(query.order_ids) <= 1000, "order_ids", "at most 1000")
        for i, order_id in enumerate(query.order_ids):
            validate_reference(v, order_id, f"order_ids[{i}]")
        v.raise_if_any()
        filters = {
            "list": "work_orders",
            "order_ids": sorted(set(query.order_ids)),
            "statuses": sorted(set(query.statuses)),
        }
        paging = paginate(self._ctx, query.page, filters)
        after = None
        if paging.after:
            created, order_id, line_number = paging.after
            after = (datetime.fromisoformat(created), str(order_id), int(line_number))

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            return await uow.work_orders.list_page(
                after, paging.size + 1, order_ids=query.order_ids, statuses=query.statuses
            )

        rows = await self._ctx.uow.read(tx)
        return paging.page(rows, lambda wo: [wo.create_time.isoformat(), wo.order_id, wo.line_number])

    async def hold_work_order(self, cmd: HoldWorkOrder) -> WorkOrder:
        """IN_PROGRESS -> HELD: no operation may start, finish or be reviewed while held."""
        require_staff()
        v = Violations()
        v.text(cmd.reason, "reason", max_len=500)
        v.raise_if_any()
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> WorkOrder:
            work_order = await get_work_order(uow, cmd.work_order_id, for_update=True)
            work_order.hold(now)
            await uow.work_orders.update(work_order)
            return work_order

        return await self._ctx.uow.write(tx)

    async def resume_work_order(self, cmd: ResumeWorkOrder) -> WorkOrder:
        require_staff()
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> WorkOrder:
            work_order = await get_work_order(uow, cmd.work_order_id, for_update=True)
            work_order.resume(now)
            await uow.work_orders.update(work_order)
            return work_order

        return await self._ctx.uow.write(tx)

    async def close_work_order(self, cmd: CloseWorkOrder) -> WorkOrder:
        """COMPLETED -> CLOSED with the metal reconciled from every weighed attempt."""
        require_staff()
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> WorkOrder:
            work_order = await get_work_order(uow, cmd.work_order_id, for_update=True)
            attempts = await uow.operations.attempts([work_order.id])
            work_order.close(reconcile(attempts), now)
            await uow.work_orders.update(work_order)
            return work_order

        return await self._ctx.uow.write(tx)

    async def cancel_work_orders(self, cmd: CancelWorkOrders) -> list[WorkOrder]:
        """Compensation for a cancelled order; idempotent."""
        require_staff()
        v = Violations()
        validate_reference(v, cmd.order_id, "order_id")
        v.text(cmd.reason, "reason", max_len=500)
        v.raise_if_any()
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            return await cancel_order(uow, order_id=cmd.order_id, now=now)

        return await self._ctx.uow.write(tx)
