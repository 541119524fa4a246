"""Domain events of the orders service: what happened to an order, as plain frozen data.

A use case emits them with ``await uow.emit(event)``, in the transaction of the change;
the codec (:mod:`services.orders.entrypoints.codec`) encodes them as the registered
protobuf events of the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.domain.order import Order, Priority, StatusChange
from services.orders.domain.status import OrderStatus

__all__ = ["OrderCancelled", "OrderEvent", "OrderStatusChanged", "OrderSubmitted", "status_events"]


@dataclass(frozen=True)
class OrderSubmitted:
    """A new order was taken; ``order`` as it was submitted."""

    order: Order


@dataclass(frozen=True)
class OrderStatusChanged:
    """An order moved from one status to another (``change`` is its history entry)."""

    order_id: str
    partner_id: str
    priority: Priority
    change: StatusChange


@dataclass(frozen=True)
class OrderCancelled:
    order_id: str
    partner_id: str
    previous_status: OrderStatus | None
    reason: str


OrderEvent = OrderSubmitted | OrderStatusChanged | OrderCancelled


def status_events(order: Order, change: StatusChange) -> list[OrderEvent]:
    """The events of one status change of ``order``: a status change, and a cancellation
    when the order was cancelled."""
    events: list[OrderEvent] = [OrderStatusChanged(order.order_id, order.partner_id, order.priority, change)]
    if change.to_status is OrderStatus.CANCELLED:
        events.append(OrderCancelled(order.order_id, order.partner_id, change.from_status, change.reason))
    return events
