"""Event consumers of the orders service: its part of the order saga and the catalogue copy.

Two durable pull consumers, shared by every replica (one per source stream, so that the
events of one producer are applied in the order it wrote them):

``orders-inventory-events`` (stream INVENTORY)
    ``inventory.reservation.held``    -> ACCEPTED (also from ON_HOLD once stock arrived)
    ``inventory.reservation.failed``  -> ON_HOLD, the shortages as the reason
    ``inventory.alloy.upserted``      -> catalogue copy (alloys)
``orders-production-events`` (stream PRODUCTION)
    ``production.work_orders.released``  -> IN_PRODUCTION
    ``production.work_order.completed``  -> READY_TO_SHIP when ``order_completed``
    ``production.requirements.failed``   -> REJECTED
    ``production.style.upserted``        -> catalogue copy (styles)

Every handler runs inside the consumer's transaction (the inbox row is already in it):
the units of work are borrowed from that session, so the status change, its history row
and the ``orders.order.status_changed`` outbox event (causation id = the event handled)
commit together with the inbox row, or not at all.
"""

from __future__ import annotations

from google.protobuf.message import Message

from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.production.v1 import production_events_pb2 as prod
from mes_contracts import events
from mes_contracts.events import EventType
from mes_kernel.uow import Transaction
from mes_platform.messaging.events import EventContext, Handler
from mes_platform.messaging.runtime import ConsumerSpec
from services.orders.domain.catalogue import CatalogueItem
from services.orders.entrypoints.codec import consumed
from services.orders.service_layer.event_handlers import OrderEventHandlers
from services.orders.service_layer.ports import UnitsOfWork

__all__ = ["OrderConsumers", "consumer_specs"]

INVENTORY_EVENTS = "inventory-events"
PRODUCTION_EVENTS = "production-events"
Handlers = dict[EventType[Message], Handler]


class OrderConsumers:
    """Decode the event, call the service-layer handler on units of work borrowed from the
    consumer's transaction."""

    def __init__(self, uows: UnitsOfWork, handlers: OrderEventHandlers) -> None:
        self._uows = uows
        self._handlers = handlers

    def _borrow(self, session: Transaction, ctx: EventContext) -> UnitsOfWork:
        return self._uows.borrow(session, causation_id=ctx.event_id)

    async def reservation_held(self, session: Transaction, event: inv.ReservationHeldEvent, ctx: EventContext) -> None:
        await self._handlers.on_reservation_held(event.order_id, ctx.event_id, uows=self._borrow(session, ctx))

    async def reservation_failed(
        self, session: Transaction, event: inv.ReservationFailedEvent, ctx: EventContext
    ) -> None:
        reason = consumed.describe_shortages(event.shortages)
        await self._handlers.on_reservation_failed(
            event.order_id, reason, ctx.event_id, uows=self._borrow(session, ctx)
        )

    async def work_orders_released(
        self, session: Transaction, event: prod.WorkOrdersReleasedEvent, ctx: EventContext
    ) -> None:
        await self._handlers.on_work_orders_released(event.order_id, ctx.event_id, uows=self._borrow(session, ctx))

    async def work_order_completed(
        self, session: Transaction, event: prod.WorkOrderCompletedEvent, ctx: EventContext
    ) -> None:
        if event.order_completed:
            order_id = event.work_order.order_id
            await self._handlers.on_order_completed(order_id, ctx.event_id, uows=self._borrow(session, ctx))

    async def requirements_failed(
        self, session: Transaction, event: prod.RequirementsFailedEvent, ctx: EventContext
    ) -> None:
        reason = consumed.requirements_failure(event)
        await self._handlers.on_requirements_failed(
            event.order_id, reason, ctx.event_id, uows=self._borrow(session, ctx)
        )

    async def alloy_upserted(self, session: Transaction, event: inv.AlloyUpsertedEvent, ctx: EventContext) -> None:
        await self._copy(consumed.alloy_copy(event), session, ctx)

    async def style_upserted(self, session: Transaction, event: prod.StyleUpsertedEvent, ctx: EventContext) -> None:
        await self._copy(consumed.style_copy(event), session, ctx)

    async def _copy(self, item: CatalogueItem, session: Transaction, ctx: EventContext) -> None:
        await self._handlers.apply_catalogue_item(
            item.kind, item.code, item.display_name, item.active, item.source_version, uows=self._borrow(session, ctx)
        )


def consumer_specs(uows: UnitsOfWork, handlers: OrderEventHandlers) -> list[ConsumerSpec]:
    c = OrderConsumers(uows, handlers)
    inventory: Handlers = {
        events.RESERVATION_HELD: c.reservation_held,
        events.RESERVATION_FAILED: c.reservation_failed,
        events.ALLOY_UPSERTED: c.alloy_upserted,
    }
    production: Handlers = {
        events.WORK_ORDERS_RELEASED: c.work_orders_released,
        events.WORK_ORDER_COMPLETED: c.work_order_completed,
        events.REQUIREMENTS_FAILED: c.requirements_failed,
        events.STYLE_UPSERTED: c.style_upserted,
    }
    return [ConsumerSpec(INVENTORY_EVENTS, inventory), ConsumerSpec(PRODUCTION_EVENTS, production)]
