"""The gRPC servicer: decode the request, call the use case, encode the reply. No decisions."""

from __future__ import annotations

from typing import Any

import grpc

from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes_kernel.clock import utcnow
from services.orders.adapters.proto import (
    catalogue_item_to_proto,
    order_to_proto,
    partner_to_proto,
    status_change_to_proto,
    status_to_proto,
)
from services.orders.entrypoints import mapping
from services.orders.service_layer.catalogue import CatalogueService
from services.orders.service_layer.commands import CreatePartner
from services.orders.service_layer.orders import OrderService
from services.orders.service_layer.paging import PageRequest
from services.orders.service_layer.partners import PartnerService

__all__ = ["SERVICE_NAME", "OrdersServicer"]

SERVICE_NAME = orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]


class OrdersServicer(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self, orders: OrderService, partners: PartnerService, catalogue: CatalogueService) -> None:
        self._orders = orders
        self._partners = partners
        self._catalogue = catalogue

    # -- orders -------------------------------------------------------------------------

    async def SubmitOrder(
        self, request: orders_pb2.SubmitOrderRequest, context: Context
    ) -> orders_pb2.SubmitOrderResponse:
        submitted = await self._orders.submit(mapping.submit_command(request))
        return orders_pb2.SubmitOrderResponse(
            order=order_to_proto(submitted.order, utcnow()), replayed=submitted.replayed
        )

    async def GetOrder(self, request: orders_pb2.GetOrderRequest, context: Context) -> orders_pb2.GetOrderResponse:
        return orders_pb2.GetOrderResponse(order=order_to_proto(await self._orders.get(request.name), utcnow()))

    async def BatchGetOrders(
        self, request: orders_pb2.BatchGetOrdersRequest, context: Context
    ) -> orders_pb2.BatchGetOrdersResponse:
        found, missing = await self._orders.batch_get(request.names, allow_missing=request.allow_missing)
        now = utcnow()
        return orders_pb2.BatchGetOrdersResponse(orders=[order_to_proto(o, now) for o in found], missing_names=missing)

    async def ListOrders(
        self, request: orders_pb2.ListOrdersRequest, context: Context
    ) -> orders_pb2.ListOrdersResponse:
        page = await self._orders.list_orders(mapping.list_orders_query(request))
        now = utcnow()
        return orders_pb2.ListOrdersResponse(
            orders=[order_to_proto(o, now) for o in page.items], next_page_token=page.next_page_token
        )

    async def CountOrders(
        self, request: orders_pb2.CountOrdersRequest, context: Context
    ) -> orders_pb2.CountOrdersResponse:
        counts, late = await self._orders.count(request.parent)
        return orders_pb2.CountOrdersResponse(
            counts=[orders_pb2.StatusCount(status=status_to_proto(s), count=n) for s, n in counts.items()],
            late_count=late,
        )

    async def ListOrderStatusChanges(
        self, request: orders_pb2.ListOrderStatusChangesRequest, context: Context
    ) -> orders_pb2.ListOrderStatusChangesResponse:
        page = await self._orders.status_changes(request.parent, PageRequest(request.page_size, request.page_token))
        return orders_pb2.ListOrderStatusChangesResponse(
            status_changes=[status_change_to_proto(c) for c in page.items], next_page_token=page.next_page_token
        )

    async def CancelOrder(
        self, request: orders_pb2.CancelOrderRequest, context: Context
    ) -> orders_pb2.CancelOrderResponse:
        order = await self._orders.cancel(mapping.cancel_command(request))
        return orders_pb2.CancelOrderResponse(order=order_to_proto(order, utcnow()))

    async def ShipOrder(self, request: orders_pb2.ShipOrderRequest, context: Context) -> orders_pb2.ShipOrderResponse:
        order = await self._orders.ship(mapping.ship_command(request))
        return orders_pb2.ShipOrderResponse(order=order_to_proto(order, utcnow()))

    # -- partners -----------------------------------------------------------------------

    async def CreatePartner(
        self, request: orders_pb2.CreatePartnerRequest, context: Context
    ) -> orders_pb2.CreatePartnerResponse:
        partner, key = await self._partners.create(
            CreatePartner(request.partner_id, request.display_name, int(request.tier))
        )
        return orders_pb2.CreatePartnerResponse(partner=partner_to_proto(partner), api_key=key)

    async def GetPartner(
        self, request: orders_pb2.GetPartnerRequest, context: Context
    ) -> orders_pb2.GetPartnerResponse:
        return orders_pb2.GetPartnerResponse(partner=partner_to_proto(await self._partners.get(request.name)))

    async def ListPartners(
        self, request: orders_pb2.ListPartnersRequest, context: Context
    ) -> orders_pb2.ListPartnersResponse:
        page = await self._partners.list_partners(PageRequest(request.page_size, request.page_token))
        return orders_pb2.ListPartnersResponse(
            partners=[partner_to_proto(p) for p in page.items], next_page_token=page.next_page_token
        )

    async def SetPartnerTier(
        self, request: orders_pb2.SetPartnerTierRequest, context: Context
    ) -> orders_pb2.SetPartnerTierResponse:
        partner = await self._partners.set_tier(request.name, int(request.tier))
        return orders_pb2.SetPartnerTierResponse(partner=partner_to_proto(partner))

    async def RotatePartnerApiKey(
        self, request: orders_pb2.RotatePartnerApiKeyRequest, context: Context
    ) -> orders_pb2.RotatePartnerApiKeyResponse:
        partner, key = await self._partners.rotate_key(request.name)
        return orders_pb2.RotatePartnerApiKeyResponse(partner=partner_to_proto(partner), api_key=key)

    async def RevokePartnerApiKey(
        self, request: orders_pb2.RevokePartnerApiKeyRequest, context: Context
    ) -> orders_pb2.RevokePartnerApiKeyResponse:
        partner = await self._partners.revoke_key(request.name, request.key_id)
        return orders_pb2.RevokePartnerApiKeyResponse(partner=partner_to_proto(partner))

    async def AuthenticatePartner(
        self, request: orders_pb2.AuthenticatePartnerRequest, context: Context
    ) -> orders_pb2.AuthenticatePartnerResponse:
        partner = await self._partners.authenticate(request.api_key)
        return orders_pb2.AuthenticatePartnerResponse(partner=partner_to_proto(partner))

    # -- catalogue copy -----------------------------------------------------------------

    async def ListCatalogueItems(
        self, request: orders_pb2.ListCatalogueItemsRequest, context: Context
    ) -> orders_pb2.ListCatalogueItemsResponse:
        page = await self._catalogue.list_items(
            mapping.catalogue_kind(request.kind), PageRequest(request.page_size, request.page_token)
        )
        return orders_pb2.ListCatalogueItemsResponse(
            items=[catalogue_item_to_proto(i) for i in page.items], next_page_token=page.next_page_token
        )
