"""Typed async client of ``mes.orders.v1.OrdersService``: orders, partners, the catalogue copy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from clients._base import Rpc, ServiceClient
from clients._methods import batch_get, by_name, iter_pages, list_page
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2 as pb
from mes.orders.v1 import orders_pb2_grpc

__all__ = ["RPCS", "OrdersClient"]

Status: TypeAlias = pb.OrderStatus.ValueType
Priority: TypeAlias = common_pb2.Priority.ValueType
Tier: TypeAlias = pb.PartnerTier.ValueType
Kind: TypeAlias = pb.CatalogueItemKind.ValueType

_SUBMIT_ORDER = Rpc("SubmitOrder", pb.SubmitOrderRequest, pb.SubmitOrderResponse, request_id=True)
_GET_ORDER = Rpc("GetOrder", pb.GetOrderRequest, pb.GetOrderResponse, positional="name")
_BATCH_GET_ORDERS = Rpc("BatchGetOrders", pb.BatchGetOrdersRequest, pb.BatchGetOrdersResponse, positional="names")
_LIST_ORDERS = Rpc("ListOrders", pb.ListOrdersRequest, pb.ListOrdersResponse)
_COUNT_ORDERS = Rpc("CountOrders", pb.CountOrdersRequest, pb.CountOrdersResponse)
_LIST_STATUS_CHANGES = Rpc(
    "ListOrderStatusChanges", pb.ListOrderStatusChangesRequest, pb.ListOrderStatusChangesResponse, positional="parent"
)
_CANCEL_ORDER = Rpc("CancelOrder", pb.CancelOrderRequest, pb.CancelOrderResponse, request_id=True, positional="name")
_SHIP_ORDER = Rpc("ShipOrder", pb.ShipOrderRequest, pb.ShipOrderResponse, request_id=True, positional="name")
_CREATE_PARTNER = Rpc("CreatePartner", pb.CreatePartnerRequest, pb.CreatePartnerResponse, positional="partner_id")
_GET_PARTNER = Rpc("GetPartner", pb.GetPartnerRequest, pb.GetPartnerResponse, positional="name")
_LIST_PARTNERS = Rpc("ListPartners", pb.ListPartnersRequest, pb.ListPartnersResponse)
_SET_PARTNER_TIER = Rpc("SetPartnerTier", pb.SetPartnerTierRequest, pb.SetPartnerTierResponse, positional="name")
_ROTATE_KEY = Rpc(
    "RotatePartnerApiKey", pb.RotatePartnerApiKeyRequest, pb.RotatePartnerApiKeyResponse, positional="name"
)
_REVOKE_KEY = Rpc(
    "RevokePartnerApiKey", pb.RevokePartnerApiKeyRequest, pb.RevokePartnerApiKeyResponse, positional="name"
)
_AUTHENTICATE = Rpc(
    "AuthenticatePartner", pb.AuthenticatePartnerRequest, pb.AuthenticatePartnerResponse, positional="api_key"
)
_LIST_CATALOGUE = Rpc("ListCatalogueItems", pb.ListCatalogueItemsRequest, pb.ListCatalogueItemsResponse)

#: Every RPC of the service, as this client calls it.
RPCS: tuple[Rpc[Any, Any], ...] = (
    _SUBMIT_ORDER, _GET_ORDER, _BATCH_GET_ORDERS, _LIST_ORDERS, _COUNT_ORDERS, _LIST_STATUS_CHANGES, _CANCEL_ORDER,
    _SHIP_ORDER, _CREATE_PARTNER, _GET_PARTNER, _LIST_PARTNERS, _SET_PARTNER_TIER, _ROTATE_KEY, _REVOKE_KEY,
    _AUTHENTICATE, _LIST_CATALOGUE,
)  # fmt: skip


class OrdersClient(ServiceClient):
    """Client of the orders service.

    Every method takes the request message or keyword fields, and ``partner=`` to act for a partner
    (``x-mes-partner``: the service confines the call to that partner's data; service principals only).
    Calls answering one resource return it (``get_order`` -> ``Order``); the others return the response
    message as the service sent it.
    """

    service = "orders"
    grpc_service = "mes.orders.v1.OrdersService"
    stub_type = orders_pb2_grpc.OrdersServiceStub

    # -- orders -------------------------------------------------------------------------

    async def submit_order(
        self,
        request: pb.SubmitOrderRequest | None = None,
        /,
        *,
        parent: str | None = None,
        partner_reference: str | None = None,
        priority: Priority | None = None,
        due_time: datetime | Timestamp | None = None,
        lines: Sequence[pb.OrderLine] | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.SubmitOrderResponse:
        """Submit an order; a request_id is generated when none is given, so retries cannot duplicate it.

        ``response.replayed`` is true when the service answered an earlier request with the same request_id.
        """
        return await self._call_with(_SUBMIT_ORDER, locals())

    get_order = by_name(_GET_ORDER, lambda response: response.order, doc="The order ``orders/{id}``.")
    batch_get_orders = batch_get(_BATCH_GET_ORDERS, doc="Several orders, in the order of ``names``.")

    async def list_orders(
        self,
        request: pb.ListOrdersRequest | None = None,
        /,
        *,
        parent: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        statuses: Sequence[Status] | None = None,
        late_only: bool | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListOrdersResponse:
        """One page of orders."""
        return await self._call_with(_LIST_ORDERS, locals())

    def iter_orders(
        self,
        *,
        parent: str = "",
        statuses: Sequence[Status] = (),
        late_only: bool = False,
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Order]:
        """Every matching order (at most ``limit``), following page tokens; ``timeout`` applies per page."""
        return self._iterate(_LIST_ORDERS, lambda page: page.orders, locals())

    async def count_orders(
        self,
        request: pb.CountOrdersRequest | None = None,
        /,
        *,
        parent: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.CountOrdersResponse:
        """Number of orders per status and of late orders."""
        return await self._call_with(_COUNT_ORDERS, locals())

    async def list_order_status_changes(
        self,
        parent: str | pb.ListOrderStatusChangesRequest,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListOrderStatusChangesResponse:
        """One page of an order's status history, oldest first."""
        return await self._call_with(_LIST_STATUS_CHANGES, locals())

    def iter_order_status_changes(
        self, parent: str, *, page_size: int = 100, partner: str | None = None, timeout: float | None = None
    ) -> AsyncIterator[pb.OrderStatusChange]:
        """The whole status history of ``orders/{id}``."""
        return self._iterate(_LIST_STATUS_CHANGES, lambda page: page.status_changes, locals())

    async def cancel_order(
        self,
        name: str | pb.CancelOrderRequest,
        *,
        reason: str | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Order:
        """Cancel an order that has not shipped (a request_id is generated when none is given)."""
        return (await self._call_with(_CANCEL_ORDER, locals())).order

    async def ship_order(
        self,
        name: str | pb.ShipOrderRequest,
        *,
        tracking_reference: str | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Order:
        """Ship an order that is READY_TO_SHIP (a request_id is generated when none is given)."""
        return (await self._call_with(_SHIP_ORDER, locals())).order

    # -- partners -----------------------------------------------------------------------

    async def create_partner(
        self,
        partner_id: str | pb.CreatePartnerRequest,
        *,
        display_name: str | None = None,
        tier: Tier | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.CreatePartnerResponse:
        """Create a partner; ``response.api_key`` is its first key in plain text, shown only once."""
        return await self._call_with(_CREATE_PARTNER, locals())

    get_partner = by_name(_GET_PARTNER, lambda response: response.partner)
    list_partners = list_page(_LIST_PARTNERS)
    iter_partners = iter_pages(_LIST_PARTNERS, lambda page: page.partners)

    async def set_partner_tier(
        self,
        name: str | pb.SetPartnerTierRequest,
        tier: Tier | None = None,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Partner:
        return (await self._call_with(_SET_PARTNER_TIER, locals())).partner

    rotate_partner_api_key = by_name(
        _ROTATE_KEY, doc="Issue a new key (``response.api_key``, shown once) and revoke the partner's other keys."
    )

    async def revoke_partner_api_key(
        self,
        name: str | pb.RevokePartnerApiKeyRequest,
        key_id: str | None = None,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Partner:
        return (await self._call_with(_REVOKE_KEY, locals())).partner

    authenticate_partner = by_name(
        _AUTHENTICATE,
        lambda response: response.partner,
        doc="The partner an API key belongs to (service callers only).",
    )

    # -- catalogue copy -----------------------------------------------------------------

    async def list_catalogue_items(
        self,
        request: pb.ListCatalogueItemsRequest | None = None,
        /,
        *,
        kind: Kind | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListCatalogueItemsResponse:
        return await self._call_with(_LIST_CATALOGUE, locals())

    def iter_catalogue_items(
        self,
        *,
        kind: Kind = pb.CATALOGUE_ITEM_KIND_UNSPECIFIED,
        page_size: int = 100,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.CatalogueItem]:
        return self._iterate(_LIST_CATALOGUE, lambda page: page.items, locals())
