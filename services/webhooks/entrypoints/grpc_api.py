"""The gRPC servicer: decode the request with the caller (the principal the server interceptor
authenticated), call the use case, encode the reply. No decisions."""

from __future__ import annotations

from typing import Any

import grpc

from mes.webhooks.v1 import webhooks_pb2 as pb
from mes.webhooks.v1 import webhooks_pb2_grpc
from mes_platform.auth import current_principal
from mes_platform.wire import page_reply
from services.webhooks.entrypoints.codec import messages as encode
from services.webhooks.entrypoints.codec import requests as decode
from services.webhooks.service_layer.deliveries import DeliveryService
from services.webhooks.service_layer.endpoints import EndpointService

__all__ = ["SERVICE_NAME", "WebhooksServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["WebhooksService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]


class WebhooksServicer(webhooks_pb2_grpc.WebhooksServiceServicer):
    def __init__(self, endpoints: EndpointService, deliveries: DeliveryService) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries

    # -- endpoints ----------------------------------------------------------------------

    async def CreateWebhookEndpoint(
        self, request: pb.CreateWebhookEndpointRequest, context: Context
    ) -> pb.CreateWebhookEndpointResponse:
        endpoint, secret = await self._endpoints.create(decode.create_endpoint(request, current_principal()))
        return pb.CreateWebhookEndpointResponse(endpoint=encode.endpoint(endpoint), secret=secret)

    async def GetWebhookEndpoint(
        self, request: pb.GetWebhookEndpointRequest, context: Context
    ) -> pb.GetWebhookEndpointResponse:
        endpoint = await self._endpoints.get(decode.get_endpoint(request, current_principal()))
        return pb.GetWebhookEndpointResponse(endpoint=encode.endpoint(endpoint))

    async def ListWebhookEndpoints(
        self, request: pb.ListWebhookEndpointsRequest, context: Context
    ) -> pb.ListWebhookEndpointsResponse:
        page = await self._endpoints.list_endpoints(decode.list_endpoints(request, current_principal()))
        return page_reply(pb.ListWebhookEndpointsResponse, "endpoints", page, encode.endpoint)

    async def UpdateWebhookEndpoint(
        self, request: pb.UpdateWebhookEndpointRequest, context: Context
    ) -> pb.UpdateWebhookEndpointResponse:
        endpoint = await self._endpoints.update(decode.update_endpoint(request, current_principal()))
        return pb.UpdateWebhookEndpointResponse(endpoint=encode.endpoint(endpoint))

    async def EnableWebhookEndpoint(
        self, request: pb.EnableWebhookEndpointRequest, context: Context
    ) -> pb.EnableWebhookEndpointResponse:
        endpoint, resumed = await self._endpoints.enable(decode.enable_endpoint(request, current_principal()))
        return pb.EnableWebhookEndpointResponse(endpoint=encode.endpoint(endpoint), resumed_deliveries=resumed)

    async def DisableWebhookEndpoint(
        self, request: pb.DisableWebhookEndpointRequest, context: Context
    ) -> pb.DisableWebhookEndpointResponse:
        endpoint = await self._endpoints.disable(decode.disable_endpoint(request, current_principal()))
        return pb.DisableWebhookEndpointResponse(endpoint=encode.endpoint(endpoint))

    async def RotateWebhookEndpointSecret(
        self, request: pb.RotateWebhookEndpointSecretRequest, context: Context
    ) -> pb.RotateWebhookEndpointSecretResponse:
        endpoint, secret = await self._endpoints.rotate_secret(decode.rotate_secret(request, current_principal()))
        return pb.RotateWebhookEndpointSecretResponse(endpoint=encode.endpoint(endpoint), secret=secret)

    async def DeleteWebhookEndpoint(
        self, request: pb.DeleteWebhookEndpointRequest, context: Context
    ) -> pb.DeleteWebhookEndpointResponse:
        await self._endpoints.delete(decode.delete_endpoint(request, current_principal()))
        return pb.DeleteWebhookEndpointResponse()

    # -- deliveries ---------------------------------------------------------------------

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: Context
    ) -> pb.ListWebhookDeliveriesResponse:
        page = await self._deliveries.list_deliveries(decode.list_deliveries(request, current_principal()))
        return page_reply(pb.ListWebhookDeliveriesResponse, "deliveries", page, encode.delivery)

    async def ListWebhookLogEntries(
        self, request: pb.ListWebhookLogEntriesRequest, context: Context
    ) -> pb.ListWebhookLogEntriesResponse:
        page = await self._deliveries.list_log(decode.list_log_entries(request, current_principal()))
        return page_reply(pb.ListWebhookLogEntriesResponse, "entries", page, encode.log_entry)

    async def ReplayWebhookDeliveries(
        self, request: pb.ReplayWebhookDeliveriesRequest, context: Context
    ) -> pb.ReplayWebhookDeliveriesResponse:
        names = await self._deliveries.replay(decode.replay_deliveries(request, current_principal()))
        return pb.ReplayWebhookDeliveriesResponse(names=names)
