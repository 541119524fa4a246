"""Work-order completion: the last operation done completes the work order with its metal
reconciled; the order is complete when its last open work order completes."""

from __future__ import annotations

from services.production.domain.events import WorkOrderCompleted
from services.production.domain.operations import LossDecision
from services.production.domain.work_orders import MetalBalance, WorkOrderStatus
from services.production.service_layer.commands import CloseWorkOrder, OrderCancelled
from tests.unit.production._factories import line
from tests.unit.production._floor import STAFF, Floor

#: The ring's steps that run without engraving (casting, filing, stone setting, polishing, QC).
STEPS = (1, 2, 3, 4, 7)


async def test_the_last_operation_completes_the_work_order_and_then_the_order(floor: Floor) -> None:
    first, second = await floor.create("ORD-1", line(1), line(2))
    await floor.walk(first.id, STEPS)
    [event] = floor.events(WorkOrderCompleted)
    assert (event.work_order.id, event.work_order.status, event.order_completed) == (
        first.id,
        WorkOrderStatus.COMPLETED,
        False,
    )
    await floor.walk(second.id, STEPS)
    assert [(e.work_order.id, e.order_completed) for e in floor.events(WorkOrderCompleted)] == [
        (first.id, False),
        (second.id, True),
    ]


async def test_cancelled_siblings_do_not_hold_the_order_back(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.walk(wo.id, STEPS[:-1])
    await floor.handlers.order_events.on_order_cancelled(OrderCancelled("OTHER"))  # another order: no effect
    await floor.walk(wo.id, STEPS[-1:])
    assert [e.order_completed for e in floor.events(WorkOrderCompleted)] == [True]


async def test_completion_reconciles_the_metal_of_every_attempt_and_close_keeps_it(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 10_000)
    await floor.finish(wo.id, 1, 9_000, scrap=200)  # 800 mg lost: review, rework
    await floor.review(wo.id, 1, LossDecision.REWORK)
    await floor.start(wo.id, 1, 9_200)
    await floor.finish(wo.id, 1, 9_100)
    await floor.walk(wo.id, STEPS[1:], weight=9_100)
    done = await floor.work_order(wo.id)
    assert (done.status, done.metal) == (WorkOrderStatus.COMPLETED, MetalBalance(10_000, 9_100, 900, 200))
    closed = await floor.handlers.work_orders.close_work_order(CloseWorkOrder(STAFF, wo.id))
    assert (closed.status, closed.metal) == (WorkOrderStatus.CLOSED, done.metal)
