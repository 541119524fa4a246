"""Composition root of the orders service: only what is its own (the rest: mes_platform.runtime)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mes.orders.v1 import orders_pb2_grpc
from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.runtime import RunningService, ServiceSpec, Wiring, start_service
from mes_platform.uow import SqlUnitOfWorkFactory
from services.orders.adapters.tables import infra
from services.orders.adapters.unit_of_work import OrdersUnitOfWork
from services.orders.config import SERVICE, Settings
from services.orders.entrypoints.codec.messages import encode_event
from services.orders.entrypoints.consumers import consumer_specs
from services.orders.entrypoints.grpc_api import SERVICE_NAME, OrdersServicer
from services.orders.service_layer.api_key_cache import ApiKeyCache
from services.orders.service_layer.catalogue import CatalogueService
from services.orders.service_layer.event_handlers import OrderEventHandlers
from services.orders.service_layer.orders import OrderService
from services.orders.service_layer.partners import PartnerService
from services.orders.service_layer.ports import OrdersDeps

__all__ = ["SPEC", "App", "Handles", "start"]


@dataclass(frozen=True)
class Handles:
    uows: SqlUnitOfWorkFactory[OrdersUnitOfWork]
    event_handlers: OrderEventHandlers


def wire(settings: Settings, db: Database) -> Wiring[Handles]:
    uows = SqlUnitOfWorkFactory(db, infra, producer=SERVICE, make=OrdersUnitOfWork, encode=encode_event)
    deps: OrdersDeps = Deps(uows, PageTokens(settings.page_token_secret))
    events = OrderEventHandlers(deps)
    partners = PartnerService(deps, ApiKeyCache(settings.api_key_cache_ttl_s))
    servicer = OrdersServicer(OrderService(deps), partners, CatalogueService(deps))
    return Wiring(
        register=lambda server: orders_pb2_grpc.add_OrdersServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        handles=Handles(uows, events),
        consumers=consumer_specs(uows, events),
        partner_keys=partners.resolve_api_key,
    )


SPEC = ServiceSpec(SERVICE, Path(__file__).parent / "migrations", infra, Settings.of, wire)
App = RunningService[Settings, Handles]


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    return await start_service(SPEC, settings, port=port)
