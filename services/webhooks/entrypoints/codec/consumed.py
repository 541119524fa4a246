"""Consumed order events -> :class:`OrderStatusChange` (a submitted order is its change to SUBMITTED)."""

from __future__ import annotations

from datetime import UTC, datetime

from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_events_pb2 as ords
from mes.orders.v1 import orders_pb2
from services.webhooks.domain.payload import OrderStatusChange

__all__ = ["status_change", "status_name", "submitted_change"]


def status_name(value: int) -> str | None:
    """``ORDER_STATUS_ON_HOLD`` -> ``ON_HOLD`` (the GraphQL name); None for UNSPECIFIED."""
    if value == orders_pb2.ORDER_STATUS_UNSPECIFIED:
        return None
    try:
        return orders_pb2.OrderStatus.Name(value).removeprefix("ORDER_STATUS_")  # type: ignore[arg-type]
    except ValueError:
        return str(value)


def _occurred(meta: common_pb2.EventMeta, fallback: datetime) -> datetime:
    return meta.occur_time.ToDatetime(tzinfo=UTC) if meta.HasField("occur_time") else fallback


def submitted_change(event: ords.OrderSubmittedEvent, received: datetime) -> OrderStatusChange:
    order = event.order
    return OrderStatusChange(
        order_id=order.order_id,
        partner_id=order.partner.removeprefix("partners/"),
        from_status=None,
        to_status=status_name(order.status) or "SUBMITTED",
        reason="",
        order_version=order.version,
        changed_at=_occurred(event.meta, received),
        partner_reference=order.partner_reference,
    )


def status_change(event: ords.OrderStatusChangedEvent, received: datetime) -> OrderStatusChange:
    return OrderStatusChange(
        order_id=event.order_id,
        partner_id=event.partner_id,
        from_status=status_name(event.from_status) or "SUBMITTED",
        to_status=status_name(event.to_status) or "UNKNOWN",
        reason=event.reason,
        order_version=event.order_version,
        changed_at=_occurred(event.meta, received),
    )
