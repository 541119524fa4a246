"""The :class:`OrderEvents` port on the transactional outbox (protobuf payloads)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mes.orders.v1 import orders_events_pb2
from mes_contracts import events
from mes_platform.outbox import OutboxWriter
from services.orders.adapters.proto import order_to_proto, status_to_proto
from services.orders.domain.order import Order, StatusChange

__all__ = ["OutboxOrderEvents"]


class OutboxOrderEvents:
    def __init__(self, session: AsyncSession, writer: OutboxWriter) -> None:
        self._session = session
        self._writer = writer

    async def order_submitted(self, order: Order, *, causation_id: str = "") -> None:
        event = orders_events_pb2.OrderSubmittedEvent(order=order_to_proto(order, order.update_time))
        await self._writer.add(self._session, events.ORDER_SUBMITTED, event, causation_id=causation_id)

    async def status_changed(self, order: Order, change: StatusChange, *, causation_id: str = "") -> None:
        event = orders_events_pb2.OrderStatusChangedEvent(
            order_id=order.order_id,
            partner_id=order.partner_id,
            from_status=status_to_proto(change.from_status),
            to_status=status_to_proto(change.to_status),
            reason=change.reason,
            order_version=change.version,
            priority=int(order.priority),  # type: ignore[arg-type]
        )
        await self._writer.add(self._session, events.ORDER_STATUS_CHANGED, event, causation_id=causation_id)

    async def order_cancelled(self, order: Order, change: StatusChange, *, causation_id: str = "") -> None:
        event = orders_events_pb2.OrderCancelledEvent(
            order_id=order.order_id,
            partner_id=order.partner_id,
            previous_status=status_to_proto(change.from_status),
            reason=change.reason,
        )
        await self._writer.add(self._session, events.ORDER_CANCELLED, event, causation_id=causation_id)
