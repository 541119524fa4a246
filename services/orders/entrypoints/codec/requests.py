"""gRPC requests -> the commands and queries of the use cases (with the acting principal)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mes.orders.v1 import orders_pb2
from mes_kernel.paging import page_request
from mes_kernel.principal import Principal
from mes_kernel.validation import Violations
from mes_platform.idempotency import request_fingerprint
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.order import OrderLine
from services.orders.domain.status import OrderStatus
from services.orders.entrypoints.codec.messages import status
from services.orders.service_layer import commands as c

__all__ = [
    "authenticate_partner",
    "batch_get_orders",
    "cancel_order",
    "count_orders",
    "create_partner",
    "get_order",
    "get_partner",
    "list_catalogue_items",
    "list_order_status_changes",
    "list_orders",
    "list_partners",
    "order_statuses",
    "revoke_partner_api_key",
    "rotate_partner_api_key",
    "set_partner_tier",
    "ship_order",
    "submit_order",
]

# Far outside the accepted due-time range: fails validation with a clear message.
_INVALID_TIME = datetime(1, 1, 1, tzinfo=UTC)
_STATUSES = {int(status(s)): s for s in OrderStatus}


def _time(message: Timestamp) -> datetime:
    try:
        return message.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        return _INVALID_TIME


def submit_order(request: orders_pb2.SubmitOrderRequest, principal: Principal) -> c.SubmitOrder:
    return c.SubmitOrder(
        principal=principal,
        parent=request.parent,
        partner_reference=request.partner_reference,
        priority=int(request.priority),
        due_time=_time(request.due_time) if request.HasField("due_time") else None,
        lines=tuple(
            OrderLine(line.line_number, line.style_code, line.alloy_code, line.quantity, line.size, line.engraving)
            for line in request.lines
        ),
        request_id=request.request_id,
        # The idempotency scope already names the partner, so `parent` ("" or the
        # caller's own) does not make two submissions different.
        fingerprint=request_fingerprint(request, ignore=("request_id", "parent")),
    )


def get_order(request: orders_pb2.GetOrderRequest, principal: Principal) -> c.GetOrder:
    return c.GetOrder(principal, request.name)


def batch_get_orders(request: orders_pb2.BatchGetOrdersRequest, principal: Principal) -> c.BatchGetOrders:
    return c.BatchGetOrders(principal, tuple(request.names), request.allow_missing)


def list_orders(request: orders_pb2.ListOrdersRequest, principal: Principal) -> c.ListOrders:
    statuses = order_statuses(request.statuses)
    return c.ListOrders(principal, request.parent, page_request(request), statuses, request.late_only)


def count_orders(request: orders_pb2.CountOrdersRequest, principal: Principal) -> c.CountOrders:
    return c.CountOrders(principal, request.parent)


def list_order_status_changes(
    request: orders_pb2.ListOrderStatusChangesRequest, principal: Principal
) -> c.ListOrderStatusChanges:
    return c.ListOrderStatusChanges(principal, request.parent, page_request(request))


def cancel_order(request: orders_pb2.CancelOrderRequest, principal: Principal) -> c.CancelOrder:
    return c.CancelOrder(principal, request.name, request.reason, request.request_id, request_fingerprint(request))


def ship_order(request: orders_pb2.ShipOrderRequest, principal: Principal) -> c.ShipOrder:
    fingerprint = request_fingerprint(request)
    return c.ShipOrder(principal, request.name, request.tracking_reference, request.request_id, fingerprint)


def create_partner(request: orders_pb2.CreatePartnerRequest, principal: Principal) -> c.CreatePartner:
    return c.CreatePartner(principal, request.partner_id, request.display_name, int(request.tier))


def get_partner(request: orders_pb2.GetPartnerRequest, principal: Principal) -> c.GetPartner:
    return c.GetPartner(principal, request.name)


def list_partners(request: orders_pb2.ListPartnersRequest, principal: Principal) -> c.ListPartners:
    return c.ListPartners(principal, page_request(request))


def set_partner_tier(request: orders_pb2.SetPartnerTierRequest, principal: Principal) -> c.SetPartnerTier:
    return c.SetPartnerTier(principal, request.name, int(request.tier))


def rotate_partner_api_key(
    request: orders_pb2.RotatePartnerApiKeyRequest, principal: Principal
) -> c.RotatePartnerApiKey:
    return c.RotatePartnerApiKey(principal, request.name)


def revoke_partner_api_key(
    request: orders_pb2.RevokePartnerApiKeyRequest, principal: Principal
) -> c.RevokePartnerApiKey:
    return c.RevokePartnerApiKey(principal, request.name, request.key_id)


def authenticate_partner(request: orders_pb2.AuthenticatePartnerRequest, principal: Principal) -> c.AuthenticatePartner:
    return c.AuthenticatePartner(principal, request.api_key)


def list_catalogue_items(request: orders_pb2.ListCatalogueItemsRequest, principal: Principal) -> c.ListCatalogueItems:
    return c.ListCatalogueItems(principal, _catalogue_kind(request.kind), page_request(request))


def order_statuses(values: Iterable[int]) -> tuple[OrderStatus, ...]:
    """Wire statuses of a filter; INVALID_ARGUMENT naming each unknown one."""
    v = Violations()
    statuses = v.members(values, _STATUSES, "statuses", "must be a known order status")
    v.raise_if_any()
    return tuple(statuses)


def _catalogue_kind(value: int) -> CatalogueKind | None:
    """None (every kind) for UNSPECIFIED; INVALID_ARGUMENT for unknown values."""
    if value == orders_pb2.CATALOGUE_ITEM_KIND_UNSPECIFIED:
        return None
    if value not in CatalogueKind._value2member_map_:
        Violations().add("kind", "must be STYLE, ALLOY or unspecified").raise_if_any()
    return CatalogueKind(value)
