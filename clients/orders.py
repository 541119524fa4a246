"""Typed async client of ``mes.orders.v1.OrdersService``: orders, partners, the catalogue copy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from clients._base import MetadataPairs, ServiceClient, build_request, new_request_id, to_timestamp, with_request_id
from clients._config import ClientConfig
from clients._pagination import paginate
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2 as pb
from mes.orders.v1 import orders_pb2_grpc

__all__ = ["OrdersClient"]

Status: TypeAlias = pb.OrderStatus.ValueType
Priority: TypeAlias = common_pb2.Priority.ValueType
Tier: TypeAlias = pb.PartnerTier.ValueType
Kind: TypeAlias = pb.CatalogueItemKind.ValueType


class OrdersClient(ServiceClient):
    """Client of the orders service. Get-style calls return the resource, others the response message."""

    service = "orders"

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        extra_metadata: Callable[[], MetadataPairs] | None = None,
    ) -> None:
        super().__init__(config, channel=channel, extra_metadata=extra_metadata)
        self._stub = orders_pb2_grpc.OrdersServiceStub(self.channel)

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
        timeout: float | None = None,
    ) -> pb.SubmitOrderResponse:
        """Submit an order; a request_id is generated when none is given, so retries cannot duplicate it.

        ``response.replayed`` is true when the service answered an earlier request with the same request_id.
        """
        req = build_request(
            pb.SubmitOrderRequest,
            request,
            parent=parent,
            partner_reference=partner_reference,
            priority=priority,
            due_time=to_timestamp(due_time),
            lines=lines,
            request_id=request_id,
        )
        req = with_request_id(req)
        return await self._call("SubmitOrder", self._stub.SubmitOrder, req, timeout)

    async def get_order(self, name: str, *, timeout: float | None = None) -> pb.Order:
        """The order ``orders/{id}``."""
        resp = await self._call("GetOrder", self._stub.GetOrder, pb.GetOrderRequest(name=name), timeout)
        return resp.order

    async def batch_get_orders(
        self, names: Sequence[str], *, allow_missing: bool = False, timeout: float | None = None
    ) -> pb.BatchGetOrdersResponse:
        """Several orders in the order of ``names``; missing ones fail NOT_FOUND unless ``allow_missing``."""
        req = pb.BatchGetOrdersRequest(names=names, allow_missing=allow_missing)
        return await self._call("BatchGetOrders", self._stub.BatchGetOrders, req, timeout)

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
        timeout: float | None = None,
    ) -> pb.ListOrdersResponse:
        """One page of orders."""
        req = build_request(
            pb.ListOrdersRequest,
            request,
            parent=parent,
            page_size=page_size,
            page_token=page_token,
            statuses=statuses,
            late_only=late_only,
        )
        return await self._call("ListOrders", self._stub.ListOrders, req, timeout)

    def iter_orders(
        self,
        *,
        parent: str = "",
        statuses: Sequence[Status] = (),
        late_only: bool = False,
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Order]:
        """Every matching order (at most ``limit``), following page tokens; ``timeout`` applies per page."""

        async def fetch(token: str) -> pb.ListOrdersResponse:
            return await self.list_orders(
                parent=parent,
                statuses=statuses,
                late_only=late_only,
                page_size=page_size,
                page_token=token,
                timeout=timeout,
            )

        return paginate(fetch, lambda page: page.orders, limit=limit)

    async def count_orders(self, *, parent: str = "", timeout: float | None = None) -> pb.CountOrdersResponse:
        """Number of orders per status and of late orders."""
        req = pb.CountOrdersRequest(parent=parent)
        return await self._call("CountOrders", self._stub.CountOrders, req, timeout)

    async def list_order_status_changes(
        self, parent: str, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListOrderStatusChangesResponse:
        """One page of an order's status history, oldest first."""
        req = pb.ListOrderStatusChangesRequest(parent=parent, page_size=page_size, page_token=page_token)
        return await self._call("ListOrderStatusChanges", self._stub.ListOrderStatusChanges, req, timeout)

    def iter_order_status_changes(
        self, parent: str, *, page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[pb.OrderStatusChange]:
        """The whole status history of ``orders/{id}``."""

        async def fetch(token: str) -> pb.ListOrderStatusChangesResponse:
            return await self.list_order_status_changes(parent, page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.status_changes)

    async def cancel_order(
        self, name: str, *, reason: str = "", request_id: str | None = None, timeout: float | None = None
    ) -> pb.Order:
        """Cancel an order that has not shipped (a request_id is generated when none is given)."""
        req = pb.CancelOrderRequest(name=name, reason=reason, request_id=request_id or new_request_id())
        resp = await self._call("CancelOrder", self._stub.CancelOrder, req, timeout)
        return resp.order

    async def ship_order(
        self,
        name: str,
        *,
        tracking_reference: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> pb.Order:
        """Ship an order that is READY_TO_SHIP (a request_id is generated when none is given)."""
        req = pb.ShipOrderRequest(
            name=name, tracking_reference=tracking_reference, request_id=request_id or new_request_id()
        )
        resp = await self._call("ShipOrder", self._stub.ShipOrder, req, timeout)
        return resp.order

    # -- partners -----------------------------------------------------------------------

    async def create_partner(
        self,
        partner_id: str,
        *,
        display_name: str = "",
        tier: Tier = pb.PARTNER_TIER_UNSPECIFIED,
        timeout: float | None = None,
    ) -> pb.CreatePartnerResponse:
        """Create a partner; ``response.api_key`` is its first key in plain text, shown only once."""
        req = pb.CreatePartnerRequest(partner_id=partner_id, display_name=display_name, tier=tier)
        return await self._call("CreatePartner", self._stub.CreatePartner, req, timeout)

    async def get_partner(self, name: str, *, timeout: float | None = None) -> pb.Partner:
        resp = await self._call("GetPartner", self._stub.GetPartner, pb.GetPartnerRequest(name=name), timeout)
        return resp.partner

    async def list_partners(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListPartnersResponse:
        req = pb.ListPartnersRequest(page_size=page_size, page_token=page_token)
        return await self._call("ListPartners", self._stub.ListPartners, req, timeout)

    def iter_partners(
        self, *, page_size: int = 100, limit: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[pb.Partner]:
        async def fetch(token: str) -> pb.ListPartnersResponse:
            return await self.list_partners(page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.partners, limit=limit)

    async def set_partner_tier(self, name: str, tier: Tier, *, timeout: float | None = None) -> pb.Partner:
        req = pb.SetPartnerTierRequest(name=name, tier=tier)
        resp = await self._call("SetPartnerTier", self._stub.SetPartnerTier, req, timeout)
        return resp.partner

    async def rotate_partner_api_key(
        self, name: str, *, timeout: float | None = None
    ) -> pb.RotatePartnerApiKeyResponse:
        """Issue a new key (``response.api_key``, shown once) and revoke the partner's other keys."""
        req = pb.RotatePartnerApiKeyRequest(name=name)
        return await self._call("RotatePartnerApiKey", self._stub.RotatePartnerApiKey, req, timeout)

    async def revoke_partner_api_key(self, name: str, key_id: str, *, timeout: float | None = None) -> pb.Partner:
        req = pb.RevokePartnerApiKeyRequest(name=name, key_id=key_id)
        resp = await self._call("RevokePartnerApiKey", self._stub.RevokePartnerApiKey, req, timeout)
        return resp.partner

    async def authenticate_partner(self, api_key: str, *, timeout: float | None = None) -> pb.Partner:
        """The partner an API key belongs to (service callers only)."""
        req = pb.AuthenticatePartnerRequest(api_key=api_key)
        resp = await self._call("AuthenticatePartner", self._stub.AuthenticatePartner, req, timeout)
        return resp.partner

    # -- catalogue copy -----------------------------------------------------------------

    async def list_catalogue_items(
        self,
        *,
        kind: Kind = pb.CATALOGUE_ITEM_KIND_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> pb.ListCatalogueItemsResponse:
        req = pb.ListCatalogueItemsRequest(kind=kind, page_size=page_size, page_token=page_token)
        return await self._call("ListCatalogueItems", self._stub.ListCatalogueItems, req, timeout)

    def iter_catalogue_items(
        self, *, kind: Kind = pb.CATALOGUE_ITEM_KIND_UNSPECIFIED, page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[pb.CatalogueItem]:
        async def fetch(token: str) -> pb.ListCatalogueItemsResponse:
            return await self.list_catalogue_items(kind=kind, page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.items)
