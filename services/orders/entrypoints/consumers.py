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
the unit of work is borrowed from that session, so the status change, its history row and
the ``orders.order.status_changed`` outbox event (causation id = the event handled) commit
together with the inbox row, or not at all.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.inventory.v1 import inventory_pb2
from mes.production.v1 import production_events_pb2 as prod
from mes_contracts import events
from mes_platform.messaging.events import EventContext
from mes_platform.messaging.runtime import ConsumerSpec
from services.orders.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.orders.domain.catalogue import CatalogueKind
from services.orders.service_layer.event_handlers import OrderEventHandlers

__all__ = ["OrderConsumers", "consumer_specs", "describe_shortages"]

INVENTORY_EVENTS = "inventory-events"
PRODUCTION_EVENTS = "production-events"
_MAX_REASON = 500


def describe_shortages(shortages: list[inventory_pb2.Shortage]) -> str:
    """``insufficient stock: AU750 needs 5000 mg, 1200 mg available; ...`` (at most 500 chars)."""

    def one(s: inventory_pb2.Shortage) -> str:
        if s.kind == common_pb2.MATERIAL_KIND_STONE:
            return f"{s.material_code} needs {s.required_pieces} pcs, {s.available_pieces} pcs available"
        return f"{s.material_code} needs {s.required_mg} mg, {s.available_mg} mg available"

    text = "insufficient stock: " + "; ".join(one(s) for s in shortages) if shortages else "insufficient stock"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


class OrderConsumers:
    """Decode the event, call the service-layer handler on a borrowed unit of work."""

    def __init__(self, uows: SqlUnitOfWorkFactory, handlers: OrderEventHandlers) -> None:
        self._uows = uows
        self._handlers = handlers

    async def reservation_held(self, session: AsyncSession, event: inv.ReservationHeldEvent, ctx: EventContext) -> None:
        await self._handlers.on_reservation_held(event.order_id, ctx.event_id, uow=self._uows.borrow(session))

    async def reservation_failed(
        self, session: AsyncSession, event: inv.ReservationFailedEvent, ctx: EventContext
    ) -> None:
        reason = describe_shortages(list(event.shortages))
        await self._handlers.on_reservation_failed(event.order_id, reason, ctx.event_id, uow=self._uows.borrow(session))

    async def work_orders_released(
        self, session: AsyncSession, event: prod.WorkOrdersReleasedEvent, ctx: EventContext
    ) -> None:
        await self._handlers.on_work_orders_released(event.order_id, ctx.event_id, uow=self._uows.borrow(session))

    async def work_order_completed(
        self, session: AsyncSession, event: prod.WorkOrderCompletedEvent, ctx: EventContext
    ) -> None:
        if event.order_completed:
            order_id = event.work_order.order_id
            await self._handlers.on_order_completed(order_id, ctx.event_id, uow=self._uows.borrow(session))

    async def requirements_failed(
        self, session: AsyncSession, event: prod.RequirementsFailedEvent, ctx: EventContext
    ) -> None:
        reason = f"bill of materials: {event.reason or 'failed'}"
        await self._handlers.on_requirements_failed(
            event.order_id, reason, ctx.event_id, uow=self._uows.borrow(session)
        )

    async def alloy_upserted(self, session: AsyncSession, event: inv.AlloyUpsertedEvent, ctx: EventContext) -> None:
        alloy = event.alloy
        await self._handlers.apply_catalogue_item(
            CatalogueKind.ALLOY,
            alloy.code,
            alloy.display_name or alloy.code,
            alloy.active,
            alloy.version,
            uow=self._uows.borrow(session),
        )

    async def style_upserted(self, session: AsyncSession, event: prod.StyleUpsertedEvent, ctx: EventContext) -> None:
        style = event.style
        await self._handlers.apply_catalogue_item(
            CatalogueKind.STYLE,
            style.sku,
            style.display_name or style.sku,
            style.active,
            style.version,
            uow=self._uows.borrow(session),
        )


def consumer_specs(uows: SqlUnitOfWorkFactory, handlers: OrderEventHandlers) -> list[ConsumerSpec]:
    c = OrderConsumers(uows, handlers)
    return [
        ConsumerSpec(
            INVENTORY_EVENTS,
            {
                events.RESERVATION_HELD: c.reservation_held,
                events.RESERVATION_FAILED: c.reservation_failed,
                events.ALLOY_UPSERTED: c.alloy_upserted,
            },
        ),
        ConsumerSpec(
            PRODUCTION_EVENTS,
            {
                events.WORK_ORDERS_RELEASED: c.work_orders_released,
                events.WORK_ORDER_COMPLETED: c.work_order_completed,
                events.REQUIREMENTS_FAILED: c.requirements_failed,
                events.STYLE_UPSERTED: c.style_upserted,
            },
        ),
    ]
