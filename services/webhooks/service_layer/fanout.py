"""From an order's status change to one delivery per subscribed endpoint of its partner.

Runs inside the event consumer's transaction (the units of work are borrowed from it): the
deliveries commit with the inbox row of the event, or not at all, so an acknowledged event is
never lost. An endpoint receives the changes that happened after it was registered; a disabled
one gets its deliveries HELD (kept, sent once it is enabled).
"""

from __future__ import annotations

from services.webhooks.domain.delivery import Delivery
from services.webhooks.domain.endpoint import EventType
from services.webhooks.domain.payload import OrderStatusChange, order_status_payload
from services.webhooks.service_layer.ports import UnitsOfWork, WebhooksDeps

__all__ = ["OrderEventFanOut"]


class OrderEventFanOut:
    def __init__(self, deps: WebhooksDeps) -> None:
        self._clock = deps.clock

    async def on_status_change(self, change: OrderStatusChange, event_id: str, *, uows: UnitsOfWork) -> int:
        """Deliveries for ``change`` (a new order is its change to SUBMITTED); returns how many
        were created (0 for a repeat of the event)."""
        async with uows.write() as uow:
            if change.is_new_order:
                await uow.order_refs.remember(
                    change.order_id, change.partner_id, change.partner_reference, change.changed_at
                )
            event_type = EventType.ORDER_STATUS_CHANGED
            endpoints = [
                endpoint
                for endpoint in await uow.endpoints.subscribed(change.partner_id, event_type)
                if endpoint.created_at <= change.changed_at
            ]
            if not endpoints:
                return 0
            reference = change.partner_reference or await uow.order_refs.reference(change.order_id) or ""
            payload = order_status_payload(change, reference)
            now = self._clock()
            deliveries = [
                Delivery.new(
                    event_id=event_id,
                    endpoint_id=endpoint.endpoint_id,
                    partner_id=endpoint.partner_id,
                    event_type=event_type,
                    order_id=change.order_id,
                    order_version=change.order_version,
                    payload=payload,
                    now=now,
                    held=not endpoint.enabled,
                )
                for endpoint in endpoints
            ]
            return await uow.deliveries.add_many(deliveries)
