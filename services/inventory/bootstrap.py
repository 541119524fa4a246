"""Composition root of the inventory service: what the runtime needs that is its own.

With ``NATS_URL`` set the process also relays its outbox, runs its consumers
(``entrypoints/consumers.py``) and retries waiting orders periodically as a safety net
(``MES_INVENTORY_WAITING_RETRY_INTERVAL_S``); the shared start sequence is
:mod:`mes_platform.runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mes.inventory.v1 import inventory_pb2_grpc
from mes_kernel.paging import PageTokens
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.runtime import RunningService, ServiceSpec, Wiring, start_service
from services.inventory.adapters.tables import infra
from services.inventory.adapters.unit_of_work import SqlUnitOfWork
from services.inventory.config import SERVICE, Settings
from services.inventory.entrypoints.consumers import consumer_specs
from services.inventory.entrypoints.grpc_api import SERVICE_NAME, InventoryServicer
from services.inventory.entrypoints.waiting_sweeper import WaitingSweeper
from services.inventory.service_layer.common import Deps
from services.inventory.service_layer.handlers import Handlers

__all__ = ["SPEC", "App", "Handles", "build_handlers", "start"]


@dataclass(frozen=True)
class Handles:
    handlers: Handlers


def build_handlers(settings: Settings, db: Database) -> Handlers:
    tokens = PageTokens(settings.page_token_secret)
    uow = SqlUnitOfWork(db)
    return Handlers.build(
        Deps(uow=uow, tokens=tokens, attempts=settings.reserve_attempts, retry_batch=settings.retry_batch)
    )


def wire(settings: Settings, db: Database) -> Wiring[Handles]:
    handlers = build_handlers(settings, db)
    servicer = InventoryServicer(handlers)
    return Wiring(
        register=lambda server: inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        handles=Handles(handlers),
        consumers=consumer_specs(SqlUnitOfWork(db), handlers.events),
        tasks=[WaitingSweeper(handlers.events, interval_s=settings.waiting_retry_interval_s)],
    )


SPEC = ServiceSpec(SERVICE, Path(__file__).parent / "migrations", infra, Settings.of, wire)
App = RunningService[Settings, Handles]


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    return await start_service(SPEC, settings, port=port)
