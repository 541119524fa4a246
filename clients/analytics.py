"""Typed async client of ``mes.analytics.v1.AnalyticsService``: partner, flow and metal analytics, the
projection's status, fact import and rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from clients._base import Rpc, ServiceClient
from mes.analytics.v1 import analytics_pb2 as pb
from mes.analytics.v1 import analytics_pb2_grpc

__all__ = ["RPCS", "AnalyticsClient", "Grain", "make_window"]

Grain: TypeAlias = pb.Grain.ValueType

_PARTNERS = Rpc("GetPartnerAnalytics", pb.GetPartnerAnalyticsRequest, pb.GetPartnerAnalyticsResponse)
_FLOW = Rpc("GetFlowAnalytics", pb.GetFlowAnalyticsRequest, pb.GetFlowAnalyticsResponse)
_METAL = Rpc("GetMetalAnalytics", pb.GetMetalAnalyticsRequest, pb.GetMetalAnalyticsResponse)
_STATUS = Rpc("GetProjectionStatus", pb.GetProjectionStatusRequest, pb.GetProjectionStatusResponse)
_IMPORT = Rpc("ImportFacts", pb.ImportFactsRequest, pb.ImportFactsResponse)
_REBUILD = Rpc("Rebuild", pb.RebuildRequest, pb.RebuildResponse, request_id=True)

#: Every RPC of the service, as this client calls it.
RPCS: tuple[Rpc[Any, Any], ...] = (_PARTNERS, _FLOW, _METAL, _STATUS, _IMPORT, _REBUILD)


def _timestamp(at: datetime) -> Timestamp:
    if at.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def make_window(from_time: datetime, to_time: datetime, grain: Grain = pb.GRAIN_DAY) -> pb.Window:
    """The window ``[from_time, to_time)`` (aware datetimes) in buckets of ``grain``."""
    return pb.Window(from_time=_timestamp(from_time), to_time=_timestamp(to_time), grain=grain)


class AnalyticsClient(ServiceClient):
    """Client of the analytics service (a read model: every call but ``rebuild`` is a read).

    Every method takes the request message or keyword fields and returns the response message.
    """

    service = "analytics"
    grpc_service = "mes.analytics.v1.AnalyticsService"
    stub_type = analytics_pb2_grpc.AnalyticsServiceStub

    async def get_partner_analytics(
        self,
        request: pb.GetPartnerAnalyticsRequest | None = None,
        /,
        *,
        window: pb.Window | None = None,
        partner_id: str | None = None,
        timeout: float | None = None,
    ) -> pb.GetPartnerAnalyticsResponse:
        """Volume, mix, cancellation cohorts, lead time, delivery, cadence and API usage (C1-C9, A1-A6)."""
        return await self._call_with(_PARTNERS, locals())

    async def get_flow_analytics(
        self,
        request: pb.GetFlowAnalyticsRequest | None = None,
        /,
        *,
        window: pb.Window | None = None,
        timeout: float | None = None,
    ) -> pb.GetFlowAnalyticsResponse:
        """WIP, queues, aging, throughput, value stream, Little's law, utilisation and rank (P1-P11)."""
        return await self._call_with(_FLOW, locals())

    async def get_metal_analytics(
        self,
        request: pb.GetMetalAnalyticsRequest | None = None,
        /,
        *,
        window: pb.Window | None = None,
        timeout: float | None = None,
    ) -> pb.GetMetalAnalyticsResponse:
        """Loss per operation and operator against tolerance, its trend, custody pending (J1-J4)."""
        return await self._call_with(_METAL, locals())

    async def get_projection_status(
        self, request: pb.GetProjectionStatusRequest | None = None, /, *, timeout: float | None = None
    ) -> pb.GetProjectionStatusResponse:
        """The stream positions applied and the facts held."""
        return await self._call_with(_STATUS, locals())

    async def import_facts(
        self,
        request: pb.ImportFactsRequest | None = None,
        /,
        *,
        orders: Sequence[pb.OrderFact] | None = None,
        operations: Sequence[pb.OperationFact] | None = None,
        timeout: float | None = None,
    ) -> pb.ImportFactsResponse:
        """Merge facts read from the services' stores (idempotent: safe to send again)."""
        return await self._call_with(_IMPORT, locals())

    async def rebuild(
        self,
        request: pb.RebuildRequest | None = None,
        /,
        *,
        keep_imported: bool | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> pb.RebuildResponse:
        """Empty the read model and replay the streams (a request_id is generated when none is given)."""
        return await self._call_with(_REBUILD, locals())
