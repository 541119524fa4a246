"""The gRPC servicer: decode the request with the caller (the principal the server interceptor
authenticated), call the use case, encode the reply. No decisions."""

from __future__ import annotations

from typing import Any

import grpc

from mes.analytics.v1 import analytics_pb2 as pb
from mes.analytics.v1 import analytics_pb2_grpc
from mes_platform.auth import current_principal
from services.analytics.entrypoints.codec import messages as encode
from services.analytics.entrypoints.codec import requests as decode
from services.analytics.service_layer.flow import FlowAnalyticsService
from services.analytics.service_layer.maintenance import MaintenanceService
from services.analytics.service_layer.metal import MetalAnalyticsService
from services.analytics.service_layer.partners import PartnerAnalyticsService

__all__ = ["SERVICE_NAME", "AnalyticsServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AnalyticsService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(
        self,
        partners: PartnerAnalyticsService,
        flow: FlowAnalyticsService,
        metal: MetalAnalyticsService,
        maintenance: MaintenanceService,
    ) -> None:
        self._partners = partners
        self._flow = flow
        self._metal = metal
        self._maintenance = maintenance

    async def GetPartnerAnalytics(
        self, request: pb.GetPartnerAnalyticsRequest, context: Context
    ) -> pb.GetPartnerAnalyticsResponse:
        answer = await self._partners.get(decode.partner_query(request, current_principal()))
        return encode.partner_analytics(answer)

    async def GetFlowAnalytics(
        self, request: pb.GetFlowAnalyticsRequest, context: Context
    ) -> pb.GetFlowAnalyticsResponse:
        return encode.flow_analytics(await self._flow.get(decode.flow_query(request, current_principal())))

    async def GetMetalAnalytics(
        self, request: pb.GetMetalAnalyticsRequest, context: Context
    ) -> pb.GetMetalAnalyticsResponse:
        return encode.metal_analytics(await self._metal.get(decode.metal_query(request, current_principal())))

    async def GetProjectionStatus(
        self, request: pb.GetProjectionStatusRequest, context: Context
    ) -> pb.GetProjectionStatusResponse:
        status = await self._maintenance.status(decode.status_query(request, current_principal()))
        return encode.projection_status(status)

    async def ImportFacts(self, request: pb.ImportFactsRequest, context: Context) -> pb.ImportFactsResponse:
        orders, operations = await self._maintenance.import_facts(decode.import_facts(request, current_principal()))
        return pb.ImportFactsResponse(orders=orders, operations=operations)

    async def Rebuild(self, request: pb.RebuildRequest, context: Context) -> pb.RebuildResponse:
        answer = await self._maintenance.rebuild(decode.rebuild(request, current_principal()))
        return pb.RebuildResponse(as_of=encode.as_of(answer))
