"""Domain -> protobuf: the messages of the gRPC responses and of the events the service emits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts import events
from mes_contracts.events import EventType
from mes_platform.wire import set_time
from services.orders.domain.catalogue import CatalogueItem
from services.orders.domain.events import (
    OrderCancelled,
    OrderStatusChanged,
    OrderSubmitted,
    PartnerKeyRevoked,
    PartnerKeyRotated,
    PartnerTierChanged,
)
from services.orders.domain.order import Order, StatusChange
from services.orders.domain.partner import ApiKey, Partner
from services.orders.domain.status import TERMINAL, OrderStatus
from services.orders.service_layer.records import OrderView, order_view

__all__ = ["catalogue_item", "encode_event", "order", "order_into", "orders_into", "partner", "status", "status_change"]


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


_STATUS = {s.value: orders_pb2.OrderStatus.Value(f"ORDER_STATUS_{s.value}") for s in OrderStatus}
_TERMINAL = frozenset(s.value for s in TERMINAL)


def status(value: OrderStatus | None) -> orders_pb2.OrderStatus.ValueType:
    if value is None:
        return orders_pb2.ORDER_STATUS_UNSPECIFIED
    return orders_pb2.OrderStatus.Value(f"ORDER_STATUS_{value.value}")


def order_into(m: orders_pb2.Order, value: OrderView, now: datetime) -> None:
    """Write the order as the API shows it (``late`` as of ``now``) into ``m``."""
    m.name = "orders/" + value.order_id
    m.order_id = value.order_id
    m.partner = "partners/" + value.partner_id
    m.partner_reference = value.partner_reference
    m.priority = value.priority  # type: ignore[assignment]  # a Priority number
    set_time(m.due_time, value.due_time)
    m.status = _STATUS[value.status]
    add = m.lines.add
    for line in value.lines:
        add(
            line_number=line.line_number,
            style_code=line.style_code,
            alloy_code=line.alloy_code,
            size=line.size,
            engraving=line.engraving,
            quantity=line.quantity,
        )
    m.status_reason = value.status_reason
    m.version = value.version
    set_time(m.create_time, value.create_time)
    set_time(m.update_time, value.update_time)
    due = value.due_time
    m.late = value.status not in _TERMINAL and (due if due.tzinfo else due.replace(tzinfo=UTC)) < now


def orders_into(
    repeated: RepeatedCompositeFieldContainer[orders_pb2.Order], values: Iterable[OrderView], now: datetime
) -> None:
    add = repeated.add
    for value in values:
        order_into(add(), value, now)


def order(value: Order, now: datetime) -> orders_pb2.Order:
    """The order as the API shows it (``late`` as of ``now``)."""
    message = orders_pb2.Order()
    order_into(message, order_view(value), now)
    return message


def status_change(change: StatusChange) -> orders_pb2.OrderStatusChange:
    return orders_pb2.OrderStatusChange(
        from_status=status(change.from_status),
        to_status=status(change.to_status),
        reason=change.reason,
        change_time=_timestamp(change.change_time),
        cause=change.cause,
    )


def _api_key(key: ApiKey) -> orders_pb2.ApiKey:
    message = orders_pb2.ApiKey(key_id=key.key_id, prefix=key.prefix, create_time=_timestamp(key.create_time))
    if key.revoke_time is not None:
        message.revoke_time.CopyFrom(_timestamp(key.revoke_time))
    return message


def partner(value: Partner) -> orders_pb2.Partner:
    return orders_pb2.Partner(
        name=value.name,
        partner_id=value.partner_id,
        display_name=value.display_name,
        tier=int(value.tier),  # type: ignore[arg-type]
        api_keys=[_api_key(key) for key in value.api_keys],
        version=value.version,
        create_time=_timestamp(value.create_time),
    )


def catalogue_item(item: CatalogueItem) -> orders_pb2.CatalogueItem:
    return orders_pb2.CatalogueItem(
        kind=int(item.kind),  # type: ignore[arg-type]
        code=item.code,
        display_name=item.display_name,
        active=item.active,
        source_version=item.source_version,
    )


# -- domain events -> event messages ----------------------------------------------------


def encode_event(event: object) -> tuple[EventType[Message], Message]:
    """The registered event type and the payload of one of the service's domain events."""
    match event:
        case OrderSubmitted(order=submitted):
            return events.ORDER_SUBMITTED, orders_events_pb2.OrderSubmittedEvent(
                order=order(submitted, submitted.update_time)
            )
        case OrderStatusChanged(change=change):
            return events.ORDER_STATUS_CHANGED, orders_events_pb2.OrderStatusChangedEvent(
                order_id=event.order_id,
                partner_id=event.partner_id,
                from_status=status(change.from_status),
                to_status=status(change.to_status),
                reason=change.reason,
                order_version=change.version,
                priority=int(event.priority),  # type: ignore[arg-type]
            )
        case OrderCancelled():
            return events.ORDER_CANCELLED, orders_events_pb2.OrderCancelledEvent(
                order_id=event.order_id,
                partner_id=event.partner_id,
                previous_status=status(event.previous_status),
                reason=event.reason,
            )
        case PartnerKeyRevoked(key=key):
            return events.PARTNER_KEY_REVOKED, orders_events_pb2.PartnerKeyRevokedEvent(
                partner_id=event.partner_id, key_id=key.key_id, key_hash=key.key_hash
            )
        case PartnerKeyRotated():
            return events.PARTNER_KEY_ROTATED, orders_events_pb2.PartnerKeyRotatedEvent(
                partner_id=event.partner_id,
                revoked_keys=[
                    orders_events_pb2.RevokedApiKey(key_id=key.key_id, key_hash=key.key_hash) for key in event.revoked
                ],
                new_key_id=event.new_key_id,
            )
        case PartnerTierChanged():
            return events.PARTNER_TIER_CHANGED, orders_events_pb2.PartnerTierChangedEvent(
                partner_id=event.partner_id,
                tier=int(event.tier),  # type: ignore[arg-type]
                previous_tier=int(event.previous_tier),  # type: ignore[arg-type]
            )
    raise TypeError(f"not an event of the orders service: {type(event).__name__}")
