"""Domain events of the orders service: what happened to an order or to a partner's
credentials and tier, as plain frozen data.

A use case emits them with ``await uow.emit(event)``, in the transaction of the change;
the codec (:mod:`services.orders.entrypoints.codec`) encodes them as the registered
protobuf events of the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.domain.order import Order, Priority, StatusChange
from services.orders.domain.partner import ApiKey, PartnerTier
from services.orders.domain.status import OrderStatus

__all__ = [
    "OrderCancelled",
    "OrderEvent",
    "OrderStatusChanged",
    "OrderSubmitted",
    "PartnerEvent",
    "PartnerKeyRevoked",
    "PartnerKeyRotated",
    "PartnerTierChanged",
    "RevokedKey",
    "status_events",
]


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


@dataclass(frozen=True)
class RevokedKey:
    """A key that was just revoked: its id and the SHA-256 hex digest it is looked up by."""

    key_id: str
    key_hash: str

    @classmethod
    def of(cls, key: ApiKey) -> RevokedKey:
        return cls(key.key_id, key.key_hash)


@dataclass(frozen=True)
class PartnerKeyRevoked:
    """One active key of a partner was revoked (revoking a revoked key is no event)."""

    partner_id: str
    key: RevokedKey


@dataclass(frozen=True)
class PartnerKeyRotated:
    """A partner got the key ``new_key_id``; every key it had before (``revoked``) was revoked."""

    partner_id: str
    revoked: tuple[RevokedKey, ...]
    new_key_id: str


@dataclass(frozen=True)
class PartnerTierChanged:
    partner_id: str
    tier: PartnerTier
    previous_tier: PartnerTier


PartnerEvent = PartnerKeyRevoked | PartnerKeyRotated | PartnerTierChanged


def status_events(order: Order, change: StatusChange) -> list[OrderEvent]:
    """The events of one status change of ``order``: a status change, and a cancellation
    when the order was cancelled."""
    events: list[OrderEvent] = [OrderStatusChanged(order.order_id, order.partner_id, order.priority, change)]
    if change.to_status is OrderStatus.CANCELLED:
        events.append(OrderCancelled(order.order_id, order.partner_id, change.from_status, change.reason))
    return events
