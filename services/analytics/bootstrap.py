"""Composition root of the analytics service: only what is its own (the rest: mes_platform.runtime);
the worker side runs one consumer per stream it reads (ORDERS, PRODUCTION, INVENTORY, FACADE)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mes.analytics.v1 import analytics_pb2_grpc
from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.runtime import RunningService, ServiceSpec, Wiring, start_service
from mes_platform.uow import SqlUnitOfWorkFactory
from services.analytics.adapters.streams import NatsStreamReplay, ensure_consumed_streams
from services.analytics.adapters.tables import infra
from services.analytics.adapters.unit_of_work import AnalyticsUnitOfWork
from services.analytics.config import SERVICE, Settings
from services.analytics.entrypoints.codec.messages import encode_event
from services.analytics.entrypoints.consumers import CONSUMED_STREAMS, consumer_specs
from services.analytics.entrypoints.grpc_api import SERVICE_NAME, AnalyticsServicer
from services.analytics.service_layer.commands import AnalyticsPolicy
from services.analytics.service_layer.flow import FlowAnalyticsService
from services.analytics.service_layer.maintenance import MaintenanceService
from services.analytics.service_layer.metal import MetalAnalyticsService
from services.analytics.service_layer.partners import PartnerAnalyticsService
from services.analytics.service_layer.ports import AnalyticsDeps
from services.analytics.service_layer.projection import Projection

__all__ = ["SPEC", "App", "Handles", "start"]


@dataclass(frozen=True)
class Handles:
    uows: SqlUnitOfWorkFactory[AnalyticsUnitOfWork]
    partners: PartnerAnalyticsService
    flow: FlowAnalyticsService
    metal: MetalAnalyticsService
    maintenance: MaintenanceService


def wire(settings: Settings, db: Database) -> Wiring[Handles]:
    uows = SqlUnitOfWorkFactory(db, infra, producer=SERVICE, make=AnalyticsUnitOfWork, encode=encode_event)  # type: ignore[arg-type]
    deps: AnalyticsDeps = Deps(uows, PageTokens(settings.page_token_secret))
    consumers = consumer_specs(uows, Projection())
    streams = tuple(stream.name for stream in CONSUMED_STREAMS)
    policy = AnalyticsPolicy(settings.zone, streams, tuple(spec.durable(SERVICE) for spec in consumers))
    maintenance = MaintenanceService(deps, policy, NatsStreamReplay(settings, consumers))
    handles = Handles(uows, PartnerAnalyticsService(deps, policy), FlowAnalyticsService(deps, policy),
                      MetalAnalyticsService(deps, policy), maintenance)  # fmt: skip
    servicer = AnalyticsServicer(handles.partners, handles.flow, handles.metal, maintenance)
    return Wiring(
        register=lambda server: analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        handles=handles,
        consumers=consumers,
    )


SPEC = ServiceSpec(SERVICE, Path(__file__).parent / "migrations", infra, Settings.of, wire)
App = RunningService[Settings, Handles]


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    """Ensure the streams it reads (the FACADE stream is the facade's), then start the service."""
    await ensure_consumed_streams(settings, CONSUMED_STREAMS)
    return await start_service(SPEC, settings, port=port)
