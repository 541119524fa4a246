"""Work-order use cases: create and release, read, hold/resume, close, cancel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mes_kernel.batch import BatchResult
from mes_kernel.clock import as_utc
from mes_kernel.paging import Page
from mes_kernel.principal import require_staff
from mes_kernel.validation import Violations
from services.production.domain.bom import validate_lines, validate_reference
from services.production.domain.work_orders import WorkOrder, reconcile
from services.production.service_layer.commands import (
    BatchGet,
    CancelWorkOrders,
    CloseWorkOrder,
    CreateWorkOrders,
    Get,
    HoldWorkOrder,
    ListWorkOrders,
    ResumeWorkOrder,
)
from services.production.service_layer.common import WorkOrderIssuers, found
from services.production.service_layer.ports import UnitOfWork, WorkOrderKey, WorkOrderView
from services.production.service_layer.release import cancel_order, create_and_release

__all__ = ["PRIORITY_NORMAL", "WorkOrderHandlers", "get_work_order", "normalize_priority"]

PRIORITY_NORMAL = 2
_PRIORITIES = range(0, 5)  # UNSPECIFIED, LOW, NORMAL, HIGH, RUSH


def normalize_priority(v: Violations, priority: int, field: str = "priority") -> int:
    """Unspecified means NORMAL; values outside the enum are invalid."""
    v.check(priority in _PRIORITIES, field, "must be LOW, NORMAL, HIGH or RUSH")
    return priority or PRIORITY_NORMAL


async def get_work_order(uow: UnitOfWork, work_order_id: str, *, for_update: bool = False) -> WorkOrder:
    return found(await uow.work_orders.get(work_order_id, for_update=for_update), f"work order {work_order_id}")


def _work_order_key(key: list[Any]) -> WorkOrderKey:
    created, order_id, line_number = key
    return datetime.fromisoformat(created), str(order_id), int(line_number)


def _sort_key(wo: WorkOrderView) -> list[Any]:
    return [as_utc(wo.create_time).isoformat(), wo.order_id, wo.line_number]


class WorkOrderHandlers(WorkOrderIssuers):
    async def create_work_orders(self, cmd: CreateWorkOrders) -> list[WorkOrder]:
        """Idempotent per order: a second call returns the work orders of the first."""
        require_staff(cmd.principal)
        v = Violations()
        validate_reference(v, cmd.order_id, "order_id")
        priority = normalize_priority(v, cmd.priority)
        validate_lines(v, cmd.lines)
        v.raise_if_any()
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            return await create_and_release(
                uow, order_id=cmd.order_id, priority=priority, lines=cmd.lines, now=now, new_id=self._new_id
            )

        return await self._write(tx)

    async def get_work_order(self, query: Get[str]) -> WorkOrder:
        require_staff(query.principal)
        async with self._uows.read() as uow:
            return await get_work_order(uow, query.key)

    async def batch_get_work_orders(
        self, query: BatchGet[str], *, with_routing: bool = True
    ) -> BatchResult[str, WorkOrderView]:
        """The work orders in the order asked (``with_routing`` False: without routing snapshots)."""
        require_staff(query.principal)
        return await self._batch(
            query, lambda uow, ids: uow.work_orders.get_many(ids, with_routing=with_routing), "workOrders/{}".format
        )

    async def list_work_orders(self, query: ListWorkOrders) -> Page[WorkOrderView]:
        """Oldest first (create time, then order id and line number); pages of up to 1000 when
        the work orders of given orders are listed."""
        require_staff(query.principal)
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

        async def fetch(uow: UnitOfWork, after: WorkOrderKey | None, limit: int) -> list[WorkOrderView]:
            return await uow.work_orders.list_page(
                after, limit, order_ids=query.order_ids, statuses=query.statuses, with_routing=query.with_routing
            )

        return await self._listing(
            query.principal, query.page, filters, _work_order_key, fetch, _sort_key, by_ids=bool(query.order_ids)
        )

    async def _change(
        self, cmd: HoldWorkOrder | ResumeWorkOrder, move: Callable[[WorkOrder, datetime], None]
    ) -> WorkOrder:
        require_staff(cmd.principal)
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> WorkOrder:
            work_order = await get_work_order(uow, cmd.work_order_id, for_update=True)
            move(work_order, now)
            await uow.work_orders.update(work_order)
            return work_order

        return await self._write(tx)

    async def hold_work_order(self, cmd: HoldWorkOrder) -> WorkOrder:
        """IN_PROGRESS -> HELD: no operation may start, finish or be reviewed while held."""
        require_staff(cmd.principal)
        v = Violations()
        v.text(cmd.reason, "reason", max_len=500)
        v.raise_if_any()
        return await self._change(cmd, WorkOrder.hold)

    async def resume_work_order(self, cmd: ResumeWorkOrder) -> WorkOrder:
        """HELD -> IN_PROGRESS."""
        return await self._change(cmd, WorkOrder.resume)

    async def close_work_order(self, cmd: CloseWorkOrder) -> WorkOrder:
        """COMPLETED -> CLOSED with the metal reconciled from every weighed attempt."""
        require_staff(cmd.principal)
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> WorkOrder:
            work_order = await get_work_order(uow, cmd.work_order_id, for_update=True)
            attempts = await uow.operations.attempts([work_order.id])
            work_order.close(reconcile(attempts), now)
            await uow.work_orders.update(work_order)
            return work_order

        return await self._write(tx)

    async def cancel_work_orders(self, cmd: CancelWorkOrders) -> list[WorkOrder]:
        """Compensation for a cancelled order; idempotent."""
        require_staff(cmd.principal)
        v = Violations()
        validate_reference(v, cmd.order_id, "order_id")
        v.text(cmd.reason, "reason", max_len=500)
        v.raise_if_any()
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            return await cancel_order(uow, order_id=cmd.order_id, now=now)

        return await self._write(tx)
