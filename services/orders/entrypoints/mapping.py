"""Protobuf requests to commands (domain objects to protobuf live in adapters.proto)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mes.orders.v1 import orders_pb2
from mes_kernel.validation import Violations
from mes_platform.idempotency import request_fingerprint
from services.orders.adapters.proto import status_to_proto
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.intake import LineInput
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.commands import CancelOrder, ListOrders, ShipOrder, SubmitOrder

__all__ = ["cancel_command", "catalogue_kind", "list_orders_query", "ship_command", "submit_command"]

_STATUSES = {int(status_to_proto(status)): status for status in OrderStatus}
# Far outside the accepted due-time range: fails validation with a clear message.
_INVALID_TIME = datetime(1, 1, 1, tzinfo=UTC)


def _time(message: Timestamp) -> datetime:
    try:
        return message.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        return _INVALID_TIME


def submit_command(request: orders_pb2.SubmitOrderRequest) -> SubmitOrder:
    return SubmitOrder(
        parent=request.parent,
        partner_reference=request.partner_reference,
        priority=int(request.priority),
        due_time=_time(request.due_time) if request.HasField("due_time") else None,
        lines=tuple(
            LineInput(
                line_number=line.line_number,
                style_code=line.style_code,
                alloy_code=line.alloy_code,
                quantity=line.quantity,
                size=line.size,
                engraving=line.engraving,
            )
            for line in request.lines
        ),
        request_id=request.request_id,
        # The idempotency scope already names the partner, so `parent` ("" or the
        # caller's own) does not make two submissions different.
        fingerprint=request_fingerprint(request, ignore=("request_id", "parent")),
    )


def list_orders_query(request: orders_pb2.ListOrdersRequest) -> ListOrders:
    return ListOrders(
        parent=request.parent,
        page_size=request.page_size,
        page_token=request.page_token,
        statuses=order_statuses(request.statuses),
        late_only=request.late_only,
    )


def order_statuses(values: Iterable[int]) -> tuple[OrderStatus, ...]:
    v = Violations()
    statuses: list[OrderStatus] = []
    for index, value in enumerate(values):
        status = _STATUSES.get(value)
        if status is None:
            v.add(f"statuses[{index}]", "must be a known order status")
        else:
            statuses.append(status)
    v.raise_if_any()
    return tuple(statuses)


def cancel_command(request: orders_pb2.CancelOrderRequest) -> CancelOrder:
    return CancelOrder(
        name=request.name,
        reason=request.reason,
        request_id=request.request_id,
        fingerprint=request_fingerprint(request),
    )


def ship_command(request: orders_pb2.ShipOrderRequest) -> ShipOrder:
    return ShipOrder(
        name=request.name,
        tracking_reference=request.tracking_reference,
        request_id=request.request_id,
        fingerprint=request_fingerprint(request),
    )


def catalogue_kind(value: int) -> CatalogueKind | None:
    """None (every kind) for UNSPECIFIED; INVALID_ARGUMENT for unknown values."""
    if value == orders_pb2.CATALOGUE_ITEM_KIND_UNSPECIFIED:
        return None
    if value not in CatalogueKind._value2member_map_:
        Violations().add("kind", "must be STYLE, ALLOY or unspecified").raise_if_any()
    return CatalogueKind(value)
