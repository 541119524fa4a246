"""Composition root of the inventory service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import grpc

from mes.inventory.v1 import inventory_pb2_grpc
from services.inventory.adapters.unit_of_work import SqlUnitOfWork
from services.inventory.config import SERVICE, Settings
from services.inventory.entrypoints.grpc_api import SERVICE_NAME, InventoryServicer
from services.inventory.service_layer.common import Deps
from services.inventory.service_layer.handlers import Handlers
from services.shared.config import ServiceSettings
from services.shared.db import Database
from services.shared.grpc_server import Authenticator, ServerHandle, create_server
from services.shared.lifecycle import Closer, HealthMonitor, wait_for_shutdown_signal
from services.shared.logging import configure_logging, get_logger
from services.shared.migrations import upgrade
from services.shared.pagination import PageTokens

__all__ = ["MIGRATIONS", "App", "build_handlers", "main", "start"]

MIGRATIONS = Path(__file__).parent / "migrations"
_log = get_logger("mes.inventory")


@dataclass
class App:
    settings: Settings
    db: Database
    handle: ServerHandle
    monitor: HealthMonitor
    closer: Closer
    #: The use cases, including ``handlers.events`` for the event consumers.
    handlers: Handlers

    @property
    def port(self) -> int:
        return self.handle.port

    async def aclose(self) -> None:
        await self.monitor.stop()
        await self.handle.stop(self.settings.shutdown_grace_s)
        await self.closer.aclose()


def build_handlers(settings: Settings, db: Database) -> Handlers:
    deps = Deps(
        uow=SqlUnitOfWork(db),
        tokens=PageTokens(settings.page_token_secret),
        attempts=settings.reserve_attempts,
        retry_batch=settings.retry_batch,
    )
    return Handlers.build(deps)


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    config = Settings.wrap(settings)
    if config.migrate_on_start:
        await upgrade(MIGRATIONS, config.database_url, config.database_schema)
    closer = Closer()
    db = Database(config.database_url, config.database_read_url, schema=config.database_schema)
    closer.push("database", db.dispose)
    try:
        handlers = build_handlers(config, db)
        servicer = InventoryServicer(handlers)

        def register(server: grpc.aio.Server) -> None:
            inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicer, server)

        handle = await create_server(
            service=SERVICE,
            register=register,
            service_names=[SERVICE_NAME],
            authenticator=Authenticator(config.tokens),
            host=config.grpc_host,
            port=config.grpc_port if port is None else port,
            default_deadline_s=config.default_deadline_s,
            tls_cert_file=config.tls_cert_file,
            tls_key_file=config.tls_key_file,
        )
    except BaseException:
        await closer.aclose()
        raise
    monitor = HealthMonitor(handle, {"database": db.ping})
    await monitor.check_once()
    monitor.start()
    return App(config, db, handle, monitor, closer, handlers)


async def _serve() -> None:
    app = await start(Settings.from_env())
    _log.info("listening", port=app.port, host=app.settings.grpc_host)
    try:
        await wait_for_shutdown_signal()
    finally:
        await app.aclose()


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    asyncio.run(_serve())
