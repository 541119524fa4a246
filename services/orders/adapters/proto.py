"""Domain objects to protobuf messages (used by the outbox events and the gRPC API)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mes.orders.v1 import orders_pb2
from services.orders.domain.catalogue import CatalogueItem
from services.orders.domain.order import Order, StatusChange
from services.orders.domain.partner import ApiKey, Partner
from services.orders.domain.status import OrderStatus

__all__ = [
    "catalogue_item_to_proto",
    "order_to_proto",
    "partner_to_proto",
    "status_change_to_proto",
    "status_to_proto",
    "timestamp",
]


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def status_to_proto(status: OrderStatus | None) -> orders_pb2.OrderStatus.ValueType:
    if status is None:
        return orders_pb2.ORDER_STATUS_UNSPECIFIED
    return orders_pb2.OrderStatus.Value(f"ORDER_STATUS_{status.value}")


def order_to_proto(order: Order, now: datetime) -> orders_pb2.Order:
    return orders_pb2.Order(
        name=order.name,
        order_id=order.order_id,
        partner=f"partners/{order.partner_id}",
        partner_reference=order.partner_reference,
        priority=int(order.priority),  # type: ignore[arg-type]
        due_time=timestamp(order.due_time),
        status=status_to_proto(order.status),
        lines=[
            orders_pb2.OrderLine(
                line_number=line.line_number,
                style_code=line.style_code,
                alloy_code=line.alloy_code,
                size=line.size,
                engraving=line.engraving,
                quantity=line.quantity,
            )
            for line in order.lines
        ],
        status_reason=order.status_reason,
        version=order.version,
        create_time=timestamp(order.create_time),
        update_time=timestamp(order.update_time),
        late=order.is_late(now),
    )


def status_change_to_proto(change: StatusChange) -> orders_pb2.OrderStatusChange:
    return orders_pb2.OrderStatusChange(
        from_status=status_to_proto(change.from_status),
        to_status=status_to_proto(change.to_status),
        reason=change.reason,
        change_time=timestamp(change.change_time),
        cause=change.cause,
    )


def _api_key(key: ApiKey) -> orders_pb2.ApiKey:
    message = orders_pb2.ApiKey(key_id=key.key_id, prefix=key.prefix, create_time=timestamp(key.create_time))
    if key.revoke_time is not None:
        message.revoke_time.CopyFrom(timestamp(key.revoke_time))
    return message


def partner_to_proto(partner: Partner) -> orders_pb2.Partner:
    return orders_pb2.Partner(
        name=partner.name,
        partner_id=partner.partner_id,
        display_name=partner.display_name,
        tier=int(partner.tier),  # type: ignore[arg-type]
        api_keys=[_api_key(key) for key in partner.api_keys],
        version=partner.version,
        create_time=timestamp(partner.create_time),
    )


def catalogue_item_to_proto(item: CatalogueItem) -> orders_pb2.CatalogueItem:
    return orders_pb2.CatalogueItem(
        kind=int(item.kind),  # type: ignore[arg-type]
        code=item.code,
        display_name=item.display_name,
        active=item.active,
        source_version=item.source_version,
    )
