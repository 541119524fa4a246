"""Cancellation of an order: its open work orders and their open operations are cancelled and
the metal to return is reported per alloy (the last known weight); once."""

from __future__ import annotations

import pytest

from mes_kernel.errors import PermissionDenied
from services.production.domain.bom import MaterialRequirement
from services.production.domain.events import OperationChanged, WorkOrdersCancelled
from services.production.domain.operations import OperationStatus
from services.production.domain.styles import MaterialKind
from services.production.domain.work_orders import WorkOrderStatus
from services.production.service_layer.commands import CancelWorkOrders, CloseWorkOrder, OrderCancelled
from tests.unit.production._factories import line
from tests.unit.production._floor import PARTNER, STAFF, Floor

S = OperationStatus
W = WorkOrderStatus


async def test_open_work_orders_are_cancelled_and_their_metal_reported(floor: Floor) -> None:
    gold, silver, untouched = await floor.create("ORD-1", line(1), line(2, alloy="AG925"), line(3))
    await floor.start(gold.id, 1, 6_000)  # in progress: holds its weigh-in
    await floor.walk(silver.id, (1,), weight=4_000)
    await floor.start(silver.id, 2, 4_000)
    await floor.finish(silver.id, 2, 3_900)  # last weigh-out 3 900 mg

    cancelled = await floor.consume("evt-c", "on_order_cancelled", OrderCancelled("ORD-1", "customer"))
    assert {w.status for w in cancelled} == {W.CANCELLED}
    assert (await floor.operation(gold.id, 1)).status is S.CANCELLED
    assert (await floor.operation(silver.id, 1)).status is S.DONE  # finished work stays done
    [event] = floor.events(WorkOrdersCancelled)
    assert event.order_id == "ORD-1"
    assert [w.id for w in event.work_orders] == [gold.id, silver.id, untouched.id]
    assert list(event.returned) == [
        MaterialRequirement("AG925", MaterialKind.METAL, weight_mg=3_900),
        MaterialRequirement("AU750Y", MaterialKind.METAL, weight_mg=6_000),
    ]
    assert set(floor.causes(WorkOrdersCancelled)) == {"evt-c"}
    assert ("evt-c", S.IN_PROGRESS) in {
        (cause, e.from_status)
        for cause, e in zip(floor.causes(OperationChanged), floor.events(OperationChanged), strict=True)
        if e.operation.status is S.CANCELLED
    }


async def test_cancelling_again_changes_nothing(floor: Floor) -> None:
    await floor.create("ORD-1")
    first = await floor.handlers.work_orders.cancel_work_orders(CancelWorkOrders(STAFF, "ORD-1", "customer"))
    again = await floor.handlers.work_orders.cancel_work_orders(CancelWorkOrders(STAFF, "ORD-1", "customer"))
    assert [(w.id, w.status) for w in again] == [(w.id, w.status) for w in first]
    [event] = floor.events(WorkOrdersCancelled)
    assert list(event.returned) == []  # nothing was weighed in yet


async def test_closed_work_orders_are_not_cancelled(floor: Floor) -> None:
    [wo] = await floor.create("ORD-1")
    await floor.walk(wo.id, (1, 2, 3, 4, 7))
    await floor.handlers.work_orders.close_work_order(CloseWorkOrder(STAFF, wo.id))
    [after] = await floor.handlers.work_orders.cancel_work_orders(CancelWorkOrders(STAFF, "ORD-1"))
    assert after.status is W.CLOSED
    assert floor.events(WorkOrdersCancelled) == []


async def test_partners_cannot_cancel_work_orders(floor: Floor) -> None:
    with pytest.raises(PermissionDenied):
        await floor.handlers.work_orders.cancel_work_orders(CancelWorkOrders(PARTNER, "ORD-1"))
