"""Composition root of the inventory service: what the runtime (:mod:`mes_platform.runtime`)
needs that is its own. With ``NATS_URL`` the process also runs its consumers and the
waiting-orders sweeper (at start, when a stock event wakes it, and every
``MES_INVENTORY_WAITING_RETRY_INTERVAL_S``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mes.inventory.v1 import inventory_pb2_grpc
from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.runtime import RunningService, ServiceSpec, Wiring, start_service
from mes_platform.uow import SqlUnitOfWorkFactory
from services.inventory.adapters.tables import infra
from services.inventory.adapters.unit_of_work import InventoryUnitOfWork
from services.inventory.config import SERVICE, Settings
from services.inventory.entrypoints.codec import encode_event
from services.inventory.entrypoints.consumers import consumer_specs
from services.inventory.entrypoints.grpc_api import SERVICE_NAME, InventoryServicer
from services.inventory.entrypoints.waiting_sweeper import WaitingSweeper
from services.inventory.service_layer.handlers import Handlers
from services.inventory.service_layer.ports import InventoryDeps

__all__ = ["SPEC", "App", "Handles", "start"]


@dataclass(frozen=True)
class Handles:
    uows: SqlUnitOfWorkFactory[InventoryUnitOfWork]
    handlers: Handlers


def wire(settings: Settings, db: Database) -> Wiring[Handles]:
    uows = SqlUnitOfWorkFactory(db, infra, producer=SERVICE, make=InventoryUnitOfWork, encode=encode_event)
    deps: InventoryDeps = Deps(uows, PageTokens(settings.page_token_secret))
    handlers = Handlers.build(deps, attempts=settings.reserve_attempts, retry_batch=settings.retry_batch)
    servicer = InventoryServicer(handlers)
    sweeper = WaitingSweeper(uows, handlers.events, interval_s=settings.waiting_retry_interval_s)
    return Wiring(
        register=lambda server: inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        handles=Handles(uows, handlers),
        consumers=consumer_specs(uows, handlers.events, wake=sweeper.wake),
        tasks=[sweeper],
    )


SPEC = ServiceSpec(SERVICE, Path(__file__).parent / "migrations", infra, Settings.of, wire)
App = RunningService[Settings, Handles]


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    return await start_service(SPEC, settings, port=port)
