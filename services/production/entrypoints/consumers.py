"""Event consumers of the production service: its part of the order saga.

Two durable pull consumers, shared by every replica (one per source stream, so that the
events of one producer are applied in the order it wrote them -- an order's cancellation
after its submission):

``production-order-events`` (stream ORDERS)
    ``orders.order.submitted``  -> keep the line specs, explode the bills of materials:
                                   ``production.requirements.computed`` or ``.failed``
    ``orders.order.cancelled``  -> cancel the order's open work orders:
                                   ``production.work_orders.cancelled`` with the metal to return
``production-inventory-events`` (stream INVENTORY)
    ``inventory.reservation.held`` -> create the work orders and RELEASE them to the work-center
                                   queues: ``production.work_orders.released``

Every handler runs inside the consumer's transaction (the inbox row is already in it) on
units of work borrowed from that session; the events it writes carry the handled event's
id as causation id. The codec turns the event into the command the handler takes.
"""

from __future__ import annotations

from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.orders.v1 import orders_events_pb2 as orders
from mes_contracts import events
from mes_kernel.uow import Transaction
from mes_platform.messaging.events import EventContext
from mes_platform.messaging.runtime import ConsumerSpec
from services.production.entrypoints.codec import events as codec
from services.production.service_layer.order_events import OrderEventHandlers
from services.production.service_layer.ports import Uows

__all__ = ["ProductionConsumers", "consumer_specs"]

ORDER_EVENTS = "order-events"
INVENTORY_EVENTS = "inventory-events"


class ProductionConsumers:
    """Decode the event, call the use case on units of work borrowed from the consumer's session."""

    def __init__(self, uows: Uows, handlers: OrderEventHandlers) -> None:
        self._uows = uows
        self._handlers = handlers

    def _on(self, session: Transaction, ctx: EventContext) -> OrderEventHandlers:
        return self._handlers.bound(self._uows.borrow(session, causation_id=ctx.event_id))

    async def order_submitted(self, session: Transaction, event: orders.OrderSubmittedEvent, ctx: EventContext) -> None:
        await self._on(session, ctx).on_order_submitted(codec.order_submitted(event))

    async def order_cancelled(self, session: Transaction, event: orders.OrderCancelledEvent, ctx: EventContext) -> None:
        await self._on(session, ctx).on_order_cancelled(codec.order_cancelled(event))

    async def reservation_held(self, session: Transaction, event: inv.ReservationHeldEvent, ctx: EventContext) -> None:
        await self._on(session, ctx).on_reservation_held(codec.reservation_held(event))


def consumer_specs(uows: Uows, handlers: OrderEventHandlers) -> list[ConsumerSpec]:
    c = ProductionConsumers(uows, handlers)
    return [
        ConsumerSpec(
            ORDER_EVENTS, {events.ORDER_SUBMITTED: c.order_submitted, events.ORDER_CANCELLED: c.order_cancelled}
        ),
        ConsumerSpec(INVENTORY_EVENTS, {events.RESERVATION_HELD: c.reservation_held}),
    ]
