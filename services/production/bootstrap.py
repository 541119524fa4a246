"""Composition root of the production service: what the runtime needs that is its own.

With ``NATS_URL`` set the process also relays its outbox and runs its consumers
(``entrypoints/consumers.py``); the shared start sequence is :mod:`mes_platform.runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from mes.production.v1 import production_pb2_grpc
from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.runtime import RunningService, ServiceSpec, Wiring, start_service
from mes_platform.telemetry.logs import get_logger
from mes_platform.uow import SqlUnitOfWorkFactory
from services.production.adapters.tables import infra
from services.production.adapters.unit_of_work import ProductionUnitOfWork
from services.production.config import SERVICE, Settings
from services.production.entrypoints.codec.events import encode_event
from services.production.entrypoints.consumers import consumer_specs
from services.production.entrypoints.grpc_api import SERVICE_NAME, ProductionServicer
from services.production.service_layer.handlers import Handlers
from services.production.service_layer.ports import Uows

__all__ = ["SPEC", "App", "Handles", "start"]


@dataclass(frozen=True)
class Handles:
    handlers: Handlers
    #: The service's units of work (tests borrow them inside a transaction of their own).
    uows: Uows


_audit_log = get_logger("mes.production.sign_in")


def _audit(event: str, /, **fields: Any) -> None:
    """The audit lines of signing in (``service_layer/sign_in.py``), structured."""
    _audit_log.info(event, **fields)


def wire(settings: Settings, db: Database) -> Wiring[Handles]:
    uows: Uows = SqlUnitOfWorkFactory(db, infra, producer=SERVICE, make=ProductionUnitOfWork, encode=encode_event)
    handlers = Handlers.build(
        Deps(uows, PageTokens(settings.page_token_secret)),
        default_window_minutes=settings.stats_window_minutes,
        session_ttl=timedelta(seconds=settings.session_ttl_s),
        audit=_audit,
    )
    servicer = ProductionServicer(handlers)
    return Wiring(
        register=lambda server: production_pb2_grpc.add_ProductionServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        handles=Handles(handlers, uows),
        consumers=consumer_specs(uows, handlers.order_events),
    )


SPEC = ServiceSpec(SERVICE, Path(__file__).parent / "migrations", infra, Settings.of, wire)
App = RunningService[Settings, Handles]


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    return await start_service(SPEC, settings, port=port)
