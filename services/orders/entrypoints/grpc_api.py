"""The gRPC servicer: decode the request with the caller (the principal the server interceptor
authenticated), call the use case, encode the reply. No decisions."""

from __future__ import annotations

from typing import Any

import grpc

from mes.orders.v1 import orders_pb2 as pb
from mes.orders.v1 import orders_pb2_grpc
from mes_kernel.clock import utcnow
from mes_platform.auth import current_principal
from mes_platform.wire import page_reply
from services.orders.entrypoints.codec import messages as encode
from services.orders.entrypoints.codec import requests as decode
from services.orders.service_layer.catalogue import CatalogueService
from services.orders.service_layer.orders import OrderService
from services.orders.service_layer.partners import PartnerService

__all__ = ["SERVICE_NAME", "OrdersServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["OrdersService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]


class OrdersServicer(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self, orders: OrderService, partners: PartnerService, catalogue: CatalogueService) -> None:
        self._orders = orders
        self._partners = partners
        self._catalogue = catalogue

    # -- orders -------------------------------------------------------------------------

    async def SubmitOrder(self, request: pb.SubmitOrderRequest, context: Context) -> pb.SubmitOrderResponse:
        submitted = await self._orders.submit(decode.submit_order(request, current_principal()))
        return pb.SubmitOrderResponse(order=encode.order(submitted.order, utcnow()), replayed=submitted.replayed)

    async def GetOrder(self, request: pb.GetOrderRequest, context: Context) -> pb.GetOrderResponse:
        order = await self._orders.get(decode.get_order(request, current_principal()))
        return pb.GetOrderResponse(order=encode.order(order, utcnow()))

    async def BatchGetOrders(self, request: pb.BatchGetOrdersRequest, context: Context) -> pb.BatchGetOrdersResponse:
        found, missing = await self._orders.batch_get(decode.batch_get_orders(request, current_principal()))
        response = pb.BatchGetOrdersResponse(missing_names=missing)
        encode.orders_into(response.orders, found, utcnow())
        return response

    async def ListOrders(self, request: pb.ListOrdersRequest, context: Context) -> pb.ListOrdersResponse:
        page = await self._orders.list_orders(decode.list_orders(request, current_principal()))
        response = pb.ListOrdersResponse(next_page_token=page.next_page_token)
        encode.orders_into(response.orders, page.items, utcnow())
        return response

    async def CountOrders(self, request: pb.CountOrdersRequest, context: Context) -> pb.CountOrdersResponse:
        counts, late = await self._orders.count(decode.count_orders(request, current_principal()))
        return pb.CountOrdersResponse(
            counts=[pb.StatusCount(status=encode.status(s), count=n) for s, n in counts.items()], late_count=late
        )

    async def ListOrderStatusChanges(
        self, request: pb.ListOrderStatusChangesRequest, context: Context
    ) -> pb.ListOrderStatusChangesResponse:
        page = await self._orders.status_changes(decode.list_order_status_changes(request, current_principal()))
        return page_reply(pb.ListOrderStatusChangesResponse, "status_changes", page, encode.status_change)

    async def CancelOrder(self, request: pb.CancelOrderRequest, context: Context) -> pb.CancelOrderResponse:
        order = await self._orders.cancel(decode.cancel_order(request, current_principal()))
        return pb.CancelOrderResponse(order=encode.order(order, utcnow()))

    async def ShipOrder(self, request: pb.ShipOrderRequest, context: Context) -> pb.ShipOrderResponse:
        order = await self._orders.ship(decode.ship_order(request, current_principal()))
        return pb.ShipOrderResponse(order=encode.order(order, utcnow()))

    # -- partners -----------------------------------------------------------------------

    async def CreatePartner(self, request: pb.CreatePartnerRequest, context: Context) -> pb.CreatePartnerResponse:
        partner, key = await self._partners.create(decode.create_partner(request, current_principal()))
        return pb.CreatePartnerResponse(partner=encode.partner(partner), api_key=key)

    async def GetPartner(self, request: pb.GetPartnerRequest, context: Context) -> pb.GetPartnerResponse:
        partner = await self._partners.get(decode.get_partner(request, current_principal()))
        return pb.GetPartnerResponse(partner=encode.partner(partner))

    async def ListPartners(self, request: pb.ListPartnersRequest, context: Context) -> pb.ListPartnersResponse:
        page = await self._partners.list_partners(decode.list_partners(request, current_principal()))
        return page_reply(pb.ListPartnersResponse, "partners", page, encode.partner)

    async def SetPartnerTier(self, request: pb.SetPartnerTierRequest, context: Context) -> pb.SetPartnerTierResponse:
        partner = await self._partners.set_tier(decode.set_partner_tier(request, current_principal()))
        return pb.SetPartnerTierResponse(partner=encode.partner(partner))

    async def RotatePartnerApiKey(
        self, request: pb.RotatePartnerApiKeyRequest, context: Context
    ) -> pb.RotatePartnerApiKeyResponse:
        partner, key = await self._partners.rotate_key(decode.rotate_partner_api_key(request, current_principal()))
        return pb.RotatePartnerApiKeyResponse(partner=encode.partner(partner), api_key=key)

    async def RevokePartnerApiKey(
        self, request: pb.RevokePartnerApiKeyRequest, context: Context
    ) -> pb.RevokePartnerApiKeyResponse:
        partner = await self._partners.revoke_key(decode.revoke_partner_api_key(request, current_principal()))
        return pb.RevokePartnerApiKeyResponse(partner=encode.partner(partner))

    async def AuthenticatePartner(
        self, request: pb.AuthenticatePartnerRequest, context: Context
    ) -> pb.AuthenticatePartnerResponse:
        partner = await self._partners.authenticate(decode.authenticate_partner(request, current_principal()))
        return pb.AuthenticatePartnerResponse(partner=encode.partner(partner))

    # -- catalogue copy -----------------------------------------------------------------

    async def ListCatalogueItems(
        self, request: pb.ListCatalogueItemsRequest, context: Context
    ) -> pb.ListCatalogueItemsResponse:
        page = await self._catalogue.list_items(decode.list_catalogue_items(request, current_principal()))
        return page_reply(pb.ListCatalogueItemsResponse, "items", page, encode.catalogue_item)
