"""Work-order release when the reservation is held: one released work order per line with the
style's routing as a snapshot, its first operation QUEUED at a work center; once per order."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, NotFound, PermissionDenied
from services.production.domain.events import OperationChanged, WorkOrdersReleased
from services.production.domain.operations import OperationStatus
from services.production.domain.work_orders import WorkOrderStatus
from services.production.service_layer.commands import (
    CreateWorkOrders,
    OrderCancelled,
    OrderSubmitted,
    ReservationHeld,
    UpsertStyle,
)
from tests.unit.production._factories import RING, definition, line, routing
from tests.unit.production._floor import PARTNER, STAFF, Floor

S = OperationStatus


async def test_held_reservation_releases_work_orders_with_a_routing_snapshot(floor: Floor) -> None:
    lines = (line(1, quantity=2), line(2, engraving="For A"))
    await floor.consume("evt-1", "on_order_submitted", OrderSubmitted("ORD-1", 3, lines))
    released = await floor.consume("evt-2", "on_reservation_held", ReservationHeld("ORD-1"))

    assert [(w.line_number, w.status, w.priority, w.routing_version) for w in released] == [
        (1, WorkOrderStatus.RELEASED, 3, 1),
        (2, WorkOrderStatus.RELEASED, 3, 1),
    ]
    assert released[0].routing_snapshot == RING
    ops = {seq: await floor.operation(released[1].id, seq) for seq in range(1, 8)}
    assert [(ops[s].status, ops[s].work_center) for s in range(1, 8)] == [
        (S.QUEUED, "CAST-1"),
        (S.PENDING, "BENCH-1"),
        (S.PENDING, "SET-1"),
        (S.PENDING, "POL-1"),
        (S.PENDING, "LAS-1"),  # engraving asked for: the optional step runs
        (S.SKIPPED, ""),  # plating was not asked for
        (S.PENDING, ""),  # no QC work center exists yet
    ]
    [event] = floor.events(WorkOrdersReleased)
    assert [w.id for w in event.work_orders] == [w.id for w in released]
    queued = [(e.operation.work_order_id, e.operation.sequence, e.from_status) for e in floor.events(OperationChanged)]
    assert queued == [(released[0].id, 1, S.PENDING), (released[1].id, 1, S.PENDING)]
    assert set(floor.causes(WorkOrdersReleased) + floor.causes(OperationChanged)) == {"evt-2"}


async def test_the_snapshot_keeps_the_routing_the_work_order_was_released_with(floor: Floor) -> None:
    [work_order] = await floor.create("ORD-1")
    shorter = routing(("CASTING", "CAST", 20, False), ("QC", "QC", 0, False))
    await floor.handlers.catalog.upsert_style(UpsertStyle(STAFF, definition(routing=shorter)))
    assert (await floor.work_order(work_order.id)).routing_snapshot == RING
    [later] = await floor.create("ORD-2")
    assert (later.routing_version, later.routing_snapshot) == (2, shorter)


async def test_release_is_idempotent_per_order(floor: Floor) -> None:
    await floor.consume("e1", "on_order_submitted", OrderSubmitted("ORD-1", 2, (line(1), line(2))))
    first = await floor.consume("e2", "on_reservation_held", ReservationHeld("ORD-1"))
    again = await floor.consume("e2", "on_reservation_held", ReservationHeld("ORD-1"))
    assert [w.id for w in again] == [w.id for w in first]
    assert [w.id for w in await floor.create("ORD-1", line(1), line(2))] == [w.id for w in first]
    assert len(floor.events(WorkOrdersReleased)) == 1


async def test_a_reservation_without_specs_or_after_cancellation(floor: Floor) -> None:
    with pytest.raises(NotFound):
        await floor.consume("e1", "on_reservation_held", ReservationHeld("NEVER-SUBMITTED"))
    await floor.consume("e2", "on_order_submitted", OrderSubmitted("ORD-2", 2, (line(1),)))
    await floor.consume("e3", "on_order_cancelled", OrderCancelled("ORD-2"))
    assert await floor.consume("e4", "on_reservation_held", ReservationHeld("ORD-2")) == []
    with pytest.raises(FailedPrecondition):
        await floor.create("ORD-2")
    assert floor.events(WorkOrdersReleased) == []


async def test_partners_cannot_create_work_orders(floor: Floor) -> None:
    with pytest.raises(PermissionDenied):
        await floor.handlers.work_orders.create_work_orders(CreateWorkOrders(PARTNER, "ORD-1", 2, (line(),)))
