"""The event consumer of the webhooks service: order status changes -> deliveries.

One durable pull consumer shared by every worker replica:

``webhooks-order-events`` (stream ORDERS)
    ``orders.order.submitted``       -> the change to SUBMITTED (and the order's reference)
    ``orders.order.status_changed``  -> the change

The handler runs inside the consumer's transaction (the inbox row is already in it): the
deliveries commit with the inbox row or not at all, so an event acknowledged to NATS is never
lost, and one handled twice makes no second delivery.
"""

from __future__ import annotations

from google.protobuf.message import Message

from mes.orders.v1 import orders_events_pb2 as ords
from mes_contracts import events
from mes_contracts.events import EventType
from mes_kernel.clock import utcnow
from mes_kernel.uow import Transaction
from mes_platform.messaging.events import EventContext, Handler
from mes_platform.messaging.runtime import ConsumerSpec
from services.webhooks.entrypoints.codec import consumed
from services.webhooks.service_layer.fanout import OrderEventFanOut
from services.webhooks.service_layer.ports import UnitsOfWork

__all__ = ["ORDER_EVENTS", "WebhookConsumers", "consumer_specs"]

ORDER_EVENTS = "order-events"


class WebhookConsumers:
    def __init__(self, uows: UnitsOfWork, fanout: OrderEventFanOut) -> None:
        self._uows = uows
        self._fanout = fanout

    def _borrow(self, session: Transaction, ctx: EventContext) -> UnitsOfWork:
        return self._uows.borrow(session, causation_id=ctx.event_id)

    async def order_submitted(self, session: Transaction, event: ords.OrderSubmittedEvent, ctx: EventContext) -> None:
        change = consumed.submitted_change(event, utcnow())
        await self._fanout.on_status_change(change, ctx.event_id, uows=self._borrow(session, ctx))

    async def status_changed(
        self, session: Transaction, event: ords.OrderStatusChangedEvent, ctx: EventContext
    ) -> None:
        change = consumed.status_change(event, utcnow())
        await self._fanout.on_status_change(change, ctx.event_id, uows=self._borrow(session, ctx))


def consumer_specs(uows: UnitsOfWork, fanout: OrderEventFanOut) -> list[ConsumerSpec]:
    c = WebhookConsumers(uows, fanout)
    handlers: dict[EventType[Message], Handler] = {
        events.ORDER_SUBMITTED: c.order_submitted,
        events.ORDER_STATUS_CHANGED: c.status_changed,
    }
    return [ConsumerSpec(ORDER_EVENTS, handlers)]
