"""Creating and releasing the work orders of an order, and cancelling them (compensation).

Shared by the gRPC use cases and the handlers that event consumers call (whose units of
work give the events they emit the handled event as their cause).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from mes_kernel.errors import FailedPrecondition
from services.production.domain.bom import LineSpec, MaterialRequirement, unknown_styles
from services.production.domain.events import OperationChanged, WorkOrdersCancelled, WorkOrdersReleased
from services.production.domain.operations import AT_BENCH, Operation, OperationStatus, last_known_weight
from services.production.domain.order_specs import OrderSpec, OrderSpecStatus
from services.production.domain.resources import WorkCenterPicker
from services.production.domain.styles import MaterialKind
from services.production.domain.work_orders import WorkOrder, plan_work_order, reconcile
from services.production.service_layer.common import IdFactory
from services.production.service_layer.floor import follow_operations
from services.production.service_layer.ports import UnitOfWork

__all__ = ["cancel_order", "create_and_release"]


async def create_and_release(
    uow: UnitOfWork,
    *,
    order_id: str,
    priority: int,
    lines: Sequence[LineSpec],
    now: datetime,
    new_id: IdFactory,
    pending: OrderSpec | None = None,
) -> list[WorkOrder]:
    """One released work order per line; a second call returns the first call's work orders.

    ``pending``: the order's PENDING spec, read locked by the caller (then the order has no
    work orders yet: they are created with the spec's RELEASE, in one transaction)."""
    spec = pending
    if spec is None or spec.status is not OrderSpecStatus.PENDING:
        existing = await uow.work_orders.for_order(order_id)
        if existing:
            return existing
        spec = await uow.order_specs.get(order_id, for_update=True)
        if spec is not None and spec.status is OrderSpecStatus.CANCELLED:
            raise FailedPrecondition(f"order {order_id} was cancelled", metadata={"order_id": order_id})
    styles = await uow.styles.get_many({line.style_code for line in lines})
    unknown_styles(lines, styles)
    types = {step.work_center_type for style in styles.values() for step in style.routing}
    centers = await uow.work_centers.of_types(types)
    loads = await uow.operations.open_load([c.code for c in centers if c.active])
    picker = WorkCenterPicker(centers, loads)
    work_orders: list[WorkOrder] = []
    operations: list[Operation] = []
    for line in sorted(lines, key=lambda ln: ln.line_number):
        work_order, ops = plan_work_order(
            work_order_id=new_id(),
            order_id=order_id,
            priority=priority,
            line=line,
            style=styles[line.style_code],
            picker=picker,
            now=now,
        )
        work_orders.append(work_order)
        operations.extend(ops)
    await uow.work_orders.add_all(work_orders)
    await uow.operations.add_all(operations)
    if spec is None:
        await uow.order_specs.add(OrderSpec(order_id, priority, tuple(lines), None, OrderSpecStatus.RELEASED, now, now))
    else:
        spec.mark(OrderSpecStatus.RELEASED, now)
        await uow.order_specs.update(spec)
    await uow.emit(WorkOrdersReleased(order_id, tuple(work_orders)))
    for op in operations:
        if op.status is OperationStatus.QUEUED:
            await uow.emit(OperationChanged(op, OperationStatus.PENDING))
    return work_orders


async def cancel_order(uow: UnitOfWork, *, order_id: str, now: datetime) -> list[WorkOrder]:
    """Cancel every work order of the order that is not closed yet, and its open operations.

    The metal to return is the last known weight of each cancelled work order (a paused
    operation's weigh-in as an in-progress one's), summed per alloy; the work centers whose
    operations in progress were cancelled follow (RUNNING or IDLE). Pending specs are dropped
    (a tombstone stops a late reservation from releasing work). Calling it again changes
    nothing and writes no event.
    """
    work_orders = await uow.work_orders.for_order(order_id, for_update=True)
    spec = await uow.order_specs.get(order_id, for_update=True)
    if spec is None:
        await uow.order_specs.add(OrderSpec(order_id, 0, (), None, OrderSpecStatus.CANCELLED, now, now))
    elif spec.status is not OrderSpecStatus.CANCELLED:
        spec.mark(OrderSpecStatus.CANCELLED, now)
        await uow.order_specs.update(spec)
    to_cancel = [wo for wo in work_orders if wo.open]
    if not to_cancel:
        return work_orders
    ids = [wo.id for wo in to_cancel]
    operations = await uow.operations.for_work_orders(ids)
    attempts = await uow.operations.attempts(ids)
    returned: dict[str, int] = defaultdict(int)
    left: set[str] = set()  # the work centers whose operations at the bench were cancelled
    for work_order in to_cancel:
        ops = [op for op in operations if op.work_order_id == work_order.id]
        tried = [a for a in attempts if a.work_order_id == work_order.id]
        returned[work_order.alloy_code] += last_known_weight(ops, tried)
        for op in ops:
            if not op.status.terminal:
                previous = op.cancel(now)
                await uow.operations.update(op)
                await uow.emit(OperationChanged(op, previous))
                if previous in AT_BENCH:
                    left.add(op.work_center)
        work_order.metal = reconcile(tried)
        work_order.cancel(now)
        await uow.work_orders.update(work_order)
    await follow_operations(uow, left, now)
    metal = tuple(
        MaterialRequirement(alloy, MaterialKind.METAL, weight_mg=weight)
        for alloy, weight in sorted(returned.items())
        if weight > 0
    )
    await uow.emit(WorkOrdersCancelled(order_id, tuple(to_cancel), metal))
    return work_orders
