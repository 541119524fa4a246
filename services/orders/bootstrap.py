"""Composition root of the orders service: settings -> database, use cases, gRPC server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import grpc

from mes.orders.v1 import orders_pb2_grpc
from services.orders.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.orders.config import SERVICE, Settings
from services.orders.entrypoints.grpc_api import SERVICE_NAME, OrdersServicer
from services.orders.service_layer.api_key_cache import ApiKeyCache
from services.orders.service_layer.catalogue import CatalogueService
from services.orders.service_layer.event_handlers import OrderEventHandlers
from services.orders.service_layer.orders import OrderService
from services.orders.service_layer.partners import PartnerService
from services.shared.config import ServiceSettings
from services.shared.db import Database
from services.shared.grpc_server import Authenticator, ServerHandle, create_server
from services.shared.lifecycle import Closer, HealthMonitor, wait_for_shutdown_signal
from services.shared.logging import configure_logging, get_logger
from services.shared.migrations import upgrade
from services.shared.pagination import PageTokens

__all__ = ["MIGRATIONS", "App", "main", "start"]

MIGRATIONS = Path(__file__).parent / "migrations"
_log = get_logger("mes.orders")


@dataclass
class App:
    settings: Settings
    db: Database
    handle: ServerHandle
    monitor: HealthMonitor
    closer: Closer
    #: Units of work and the saga/catalogue handlers, for the event consumers.
    uows: SqlUnitOfWorkFactory
    event_handlers: OrderEventHandlers

    @property
    def port(self) -> int:
        return self.handle.port

    async def aclose(self) -> None:
        await self.monitor.stop()
        await self.handle.stop(self.settings.shutdown_grace_s)
        await self.closer.aclose()


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    """Migrate (if configured), open the database and serve; health SERVING once the database answers."""
    config = Settings.of(settings)
    if config.migrate_on_start:
        await upgrade(MIGRATIONS, config.database_url, config.database_schema)
    closer = Closer()
    db = Database(config.database_url, config.database_read_url, schema=config.database_schema)
    closer.push("database", db.dispose)
    try:
        uows = SqlUnitOfWorkFactory(db)
        tokens = PageTokens(config.page_token_secret)
        partners = PartnerService(uows, tokens, ApiKeyCache(config.api_key_cache_ttl_s))
        servicer = OrdersServicer(OrderService(uows, tokens), partners, CatalogueService(uows, tokens))

        def register(server: grpc.aio.Server) -> None:
            orders_pb2_grpc.add_OrdersServiceServicer_to_server(servicer, server)

        handle = await create_server(
            service=SERVICE,
            register=register,
            service_names=[SERVICE_NAME],
            authenticator=Authenticator(config.tokens, partner_keys=partners.resolve_api_key),
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
    return App(config, db, handle, monitor, closer, uows, OrderEventHandlers(uows))


async def _serve(settings: Settings) -> None:
    app = await start(settings)
    _log.info("listening", host=settings.grpc_host, port=app.port)
    try:
        await wait_for_shutdown_signal()
    finally:
        await app.aclose()


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    asyncio.run(_serve(settings))
