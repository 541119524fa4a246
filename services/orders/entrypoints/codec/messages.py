"""Domain -> protobuf: the messages of the gRPC responses and of the events the service emits."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts import events
from mes_contracts.events import EventType
from services.orders.domain.catalogue import CatalogueItem
from services.orders.domain.events import OrderCancelled, OrderStatusChanged, OrderSubmitted
from services.orders.domain.order import Order, StatusChange
from services.orders.domain.partner import ApiKey, Partner
from services.orders.domain.status import OrderStatus

__all__ = ["catalogue_item", "encode_event", "order", "partner", "status", "status_change"]


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def status(value: OrderStatus | None) -> orders_pb2.OrderStatus.ValueType:
    if value is None:
        return orders_pb2.ORDER_STATUS_UNSPECIFIED
    return orders_pb2.OrderStatus.Value(f"ORDER_STATUS_{value.value}")


def order(value: Order, now: datetime) -> orders_pb2.Order:
    """The order as the API shows it (``late`` as of ``now``)."""
    return orders_pb2.Order(
        name=value.name,
        order_id=value.order_id,
        partner=f"partners/{value.partner_id}",
        partner_reference=value.partner_reference,
        priority=int(value.priority),  # type: ignore[arg-type]
        due_time=_timestamp(value.due_time),
        status=status(value.status),
        lines=[
            orders_pb2.OrderLine(
                line_number=line.line_number,
                style_code=line.style_code,
                alloy_code=line.alloy_code,
                size=line.size,
                engraving=line.engraving,
                quantity=line.quantity,
            )
            for line in value.lines
        ],
        status_reason=value.status_reason,
        version=value.version,
        create_time=_timestamp(value.create_time),
        update_time=_timestamp(value.update_time),
        late=value.is_late(now),
    )


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
    raise TypeError(f"not an event of the orders service: {type(event).__name__}")
