"""CancelOrder and ShipOrder: allowed transitions, repeated calls, refusals, events."""

from __future__ import annotations

from typing import Any

import grpc

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_CANCELLED, ORDER_STATUS_CHANGED, ORDER_SUBMITTED
from services.orders.adapters.tables import infra
from services.orders.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.orders._support import STAFF, T, for_partner, outbox_subjects, submit_request, with_key


async def _submit(stub: Any) -> orders_pb2.Order:
    reply = await stub.SubmitOrder(submit_request(), metadata=for_partner("acme"), timeout=T)
    return reply.order  # type: ignore[no-any-return]


async def test_partner_cancels_its_order_once(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    order = await _submit(stub)
    acme = with_key(partner_keys["acme"])
    request = orders_pb2.CancelOrderRequest(name=order.name, reason="customer withdrew")
    cancelled = (await stub.CancelOrder(request, metadata=acme, timeout=T)).order
    assert cancelled.status == orders_pb2.ORDER_STATUS_CANCELLED
    assert cancelled.status_reason == "customer withdrew"
    assert cancelled.version == 2

    again = (await stub.CancelOrder(request, metadata=acme, timeout=T)).order
    assert again == cancelled
    history = await stub.ListOrderStatusChanges(
        orders_pb2.ListOrderStatusChangesRequest(parent=order.name), metadata=STAFF, timeout=T
    )
    assert cancelled.update_time == history.status_changes[-1].change_time  # the cancel time
    assert await outbox_subjects(app) == [
        ORDER_SUBMITTED.subject,
        ORDER_STATUS_CHANGED.subject,
        ORDER_CANCELLED.subject,
    ]
    async with app.db.write() as session:
        rows = (await session.execute(infra.outbox.select().order_by(infra.outbox.c.seq))).all()
    changed = orders_events_pb2.OrderStatusChangedEvent.FromString(rows[1].payload)
    assert (changed.from_status, changed.to_status, changed.order_version) == (
        orders_pb2.ORDER_STATUS_SUBMITTED,
        orders_pb2.ORDER_STATUS_CANCELLED,
        2,
    )
    event = orders_events_pb2.OrderCancelledEvent.FromString(rows[2].payload)
    assert (event.order_id, event.partner_id, event.previous_status) == (
        order.order_id,
        "acme",
        orders_pb2.ORDER_STATUS_SUBMITTED,
    )


async def test_cancel_is_allowed_until_production_ends(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    in_production = await _submit(stub)
    await app.handles.event_handlers.on_work_orders_released(in_production.order_id, "evt-1")
    on_hold = await _submit(stub)
    await app.handles.event_handlers.on_reservation_failed(on_hold.order_id, "short of AU750Y", "evt-2")
    for order in (in_production, on_hold):
        reply = await stub.CancelOrder(orders_pb2.CancelOrderRequest(name=order.name), metadata=STAFF, timeout=T)
        assert reply.order.status == orders_pb2.ORDER_STATUS_CANCELLED
        assert reply.order.status_reason == "cancelled by the manufacturer"

    ready = await _submit(stub)
    await app.handles.event_handlers.on_order_completed(ready.order_id, "evt-3")
    failure = await fails(stub.CancelOrder(orders_pb2.CancelOrderRequest(name=ready.name), metadata=STAFF, timeout=T))
    assert (failure.code, failure.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")


async def test_ship_needs_ready_to_ship_and_staff(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    order = await _submit(stub)
    ship = orders_pb2.ShipOrderRequest(name=order.name, tracking_reference="1Z999")
    early = await fails(stub.ShipOrder(ship, metadata=STAFF, timeout=T))
    assert (early.code, early.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")

    await app.handles.event_handlers.on_order_completed(order.order_id, "evt-1")
    by_partner = await fails(stub.ShipOrder(ship, metadata=with_key(partner_keys["acme"]), timeout=T))
    assert by_partner.code == grpc.StatusCode.PERMISSION_DENIED
    shipped = (await stub.ShipOrder(ship, metadata=STAFF, timeout=T)).order
    assert shipped.status == orders_pb2.ORDER_STATUS_SHIPPED
    assert (await stub.ShipOrder(ship, metadata=STAFF, timeout=T)).order == shipped

    cancel = await fails(stub.CancelOrder(orders_pb2.CancelOrderRequest(name=order.name), metadata=STAFF, timeout=T))
    assert cancel.code == grpc.StatusCode.FAILED_PRECONDITION
    history = await stub.ListOrderStatusChanges(
        orders_pb2.ListOrderStatusChangesRequest(parent=order.name), metadata=STAFF, timeout=T
    )
    assert history.status_changes[-1].reason == "tracking 1Z999"
    assert history.status_changes[-1].cause == "operator:OP-1"
    # A final state's update_time is its status change's time (the analytics import reads it so).
    read = (await stub.GetOrder(orders_pb2.GetOrderRequest(name=order.name), metadata=STAFF, timeout=T)).order
    assert read.update_time == shipped.update_time == history.status_changes[-1].change_time
    assert (await outbox_subjects(app)).count(ORDER_STATUS_CHANGED.subject) == 4
