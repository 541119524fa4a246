"""The handlers event consumers call (service layer and repositories, no gRPC): order
submitted -> requirements, reservation held -> work orders, order cancelled -> compensation.

Each call runs as a consumer runs it: on units of work borrowed from a transaction of its own,
with the handled event's id as the cause of the events written."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from mes.common.v1 import common_pb2
from mes_contracts.events import REQUIREMENTS_COMPUTED, REQUIREMENTS_FAILED, WORK_ORDERS_CANCELLED, WORK_ORDERS_RELEASED
from services.production.bootstrap import App
from services.production.domain.bom import LineSpec, MaterialRequirement
from services.production.domain.work_orders import WorkOrder, WorkOrderStatus
from services.production.entrypoints.codec.requests import line_specs
from services.production.service_layer.commands import OrderCancelled, OrderSubmitted, ReservationHeld
from services.production.service_layer.order_events import OrderEventHandlers
from tests.integration.production._support import line, outbox, ready

SUBMITTED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
R = TypeVar("R")


class Consumer:
    """Calls the order-event handlers as the event consumers do."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def _run(self, cause: str, call: Callable[[OrderEventHandlers], Awaitable[R]]) -> R:
        async with self._app.db.write() as session:
            uows = self._app.handles.uows.borrow(session, causation_id=cause)
            return await call(self._app.handles.handlers.order_events.bound(uows))

    async def on_order_submitted(
        self, order_id: str, priority: int, lines: Sequence[LineSpec], submit_time: datetime | None, cause: str
    ) -> list[MaterialRequirement] | None:
        event = OrderSubmitted(order_id, priority, tuple(lines), submit_time)
        return await self._run(cause, lambda h: h.on_order_submitted(event))

    async def on_reservation_held(self, order_id: str, cause: str) -> list[WorkOrder]:
        return await self._run(cause, lambda h: h.on_reservation_held(ReservationHeld(order_id)))

    async def on_order_cancelled(self, order_id: str, reason: str, cause: str) -> list[WorkOrder]:
        return await self._run(cause, lambda h: h.on_order_cancelled(OrderCancelled(order_id, reason)))


async def test_submitted_then_held_releases_work_orders_once(app: App, stub: Any) -> None:
    await ready(stub)
    events = Consumer(app)
    lines = [*line_specs([line(1, quantity=2)]), LineSpec(2, "RNG-001", "AG925", "52", "", 1)]
    requirements = await events.on_order_submitted("ORD-1", common_pb2.PRIORITY_HIGH, lines, SUBMITTED, "evt-1")
    assert requirements is not None and len(requirements) == 4
    assert await events.on_order_submitted("ORD-1", common_pb2.PRIORITY_HIGH, lines, SUBMITTED, "evt-1") is None

    computed = await outbox(app, REQUIREMENTS_COMPUTED.subject)
    assert len(computed) == 1
    event = computed[0][1]
    assert (event.order_id, event.priority, event.meta.causation_id) == ("ORD-1", common_pb2.PRIORITY_HIGH, "evt-1")
    assert event.submit_time.ToDatetime(tzinfo=UTC) == SUBMITTED
    assert [(r.line_number, r.material_code, r.weight_mg, r.pieces) for r in event.requirements] == [
        (1, "AU750Y", 10_000, 0),
        (1, "DIA-150", 0, 6),
        (2, "AG925", 5_000, 0),
        (2, "DIA-150", 0, 3),
    ]

    released = await events.on_reservation_held("ORD-1", "evt-2")
    assert [(w.line_number, w.alloy_code, w.quantity, w.status) for w in released] == [
        (1, "AU750Y", 2, WorkOrderStatus.RELEASED),
        (2, "AG925", 1, WorkOrderStatus.RELEASED),
    ]
    again = await events.on_reservation_held("ORD-1", "evt-2")
    assert [w.id for w in again] == [w.id for w in released]
    (released_event,) = await outbox(app, WORK_ORDERS_RELEASED.subject)
    assert released_event[1].meta.causation_id == "evt-2" and len(released_event[1].work_orders) == 2
    assert released_event[1].work_orders[0].priority == common_pb2.PRIORITY_HIGH


async def test_unknown_style_fails_requirements(app: App, stub: Any) -> None:
    await ready(stub)
    events = Consumer(app)
    assert await events.on_order_submitted("ORD-2", 0, line_specs([line(1), line(2, "GHOST")]), None, "evt-9") is None
    (failed,) = await outbox(app, REQUIREMENTS_FAILED.subject)
    assert (failed[1].order_id, failed[1].reason, failed[1].meta.causation_id) == ("ORD-2", "UNKNOWN_STYLE", "evt-9")
    assert await outbox(app, REQUIREMENTS_COMPUTED.subject) == []


async def test_cancel_before_and_after_release(app: App, stub: Any) -> None:
    await ready(stub)
    events = Consumer(app)
    # Cancelled while waiting for the reservation: the late reservation creates nothing.
    await events.on_order_submitted("ORD-3", 2, line_specs([line(1)]), SUBMITTED, "evt-1")
    assert await events.on_order_cancelled("ORD-3", "customer", "evt-2") == []
    assert await events.on_reservation_held("ORD-3", "evt-3") == []
    # Cancelled before it was even submitted here (events out of order): nothing either.
    assert await events.on_order_cancelled("ORD-4", "customer", "evt-4") == []
    assert await events.on_order_submitted("ORD-4", 2, line_specs([line(1)]), SUBMITTED, "evt-5") is None
    assert await outbox(app, WORK_ORDERS_CANCELLED.subject) == []

    await events.on_order_submitted("ORD-5", 2, line_specs([line(1), line(2)]), SUBMITTED, "evt-6")
    await events.on_reservation_held("ORD-5", "evt-7")
    cancelled = await events.on_order_cancelled("ORD-5", "customer", "evt-8")
    assert {w.status for w in cancelled} == {WorkOrderStatus.CANCELLED}
    assert await events.on_order_cancelled("ORD-5", "customer", "evt-8") == cancelled
    (event,) = await outbox(app, WORK_ORDERS_CANCELLED.subject)
    assert (event[1].order_id, list(event[1].returned), event[1].meta.causation_id) == ("ORD-5", [], "evt-8")


async def test_concurrent_duplicates_release_one_set_of_work_orders(app: App, stub: Any) -> None:
    await ready(stub)
    await Consumer(app).on_order_submitted("ORD-6", 2, line_specs([line(n) for n in range(1, 4)]), SUBMITTED, "evt-1")
    # Four deliveries at once, each in a transaction of its own (retried on the race).
    events = app.handles.handlers.order_events
    results = await asyncio.gather(*(events.on_reservation_held(ReservationHeld("ORD-6")) for _ in range(4)))
    assert len({tuple(w.id for w in r) for r in results}) == 1
    assert len(await outbox(app, WORK_ORDERS_RELEASED.subject)) == 1
