"""Composition root of the orders service: settings -> database, use cases, gRPC server, events.

With ``NATS_URL`` set, the process also publishes its outbox (relay) and runs its event
consumers (``entrypoints/consumers.py``); health is NOT_SERVING while NATS is away. Without
``NATS_URL`` it serves gRPC only: events accumulate in the outbox, unpublished, until a
process with NATS runs the relay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import grpc

from mes.orders.v1 import orders_pb2_grpc
from services.orders.adapters.tables import infra
from services.orders.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.orders.config import SERVICE, Settings
from services.orders.entrypoints.consumers import consumer_specs
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
from services.shared.messaging.runtime import MessagingSettings, NatsUnavailable, Probe, ServiceMessaging
from services.shared.metrics import MetricsServer, start_metrics_server
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
    #: NATS connection, relay and consumers; None without NATS_URL.
    messaging: ServiceMessaging | None = None
    #: The ``/metrics`` endpoint; None unless ``METRICS_PORT`` is set.
    metrics: MetricsServer | None = None

    @property
    def port(self) -> int:
        return self.handle.port

    async def aclose(self) -> None:
        await self.monitor.stop()
        await self.handle.stop(self.settings.shutdown_grace_s)
        await self.closer.aclose()


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    """Migrate (if configured), open the database, connect NATS (if configured) and serve;
    health SERVING once the database (and NATS) answer."""
    config = Settings.of(settings)
    messaging_settings = MessagingSettings.from_settings(config)
    if config.migrate_on_start:
        await upgrade(MIGRATIONS, config.database_url, config.database_schema)
    closer = Closer()
    db = Database(
        config.database_url,
        config.database_read_url,
        schema=config.database_schema,
        pool_size=config.database_pool_size,
    )
    closer.push("database", db.dispose)
    probes: dict[str, Probe] = {"database": db.ping}
    messaging: ServiceMessaging | None = None
    metrics: MetricsServer | None = None
    try:
        if config.metrics_port:
            metrics = start_metrics_server(config.grpc_host, config.metrics_port)
            closer.push("metrics", metrics.close)
        uows = SqlUnitOfWorkFactory(db)
        event_handlers = OrderEventHandlers(uows)
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
            max_connection_age_s=config.grpc_max_connection_age_s,
            max_connection_age_grace_s=config.grpc_max_connection_age_grace_s,
            keepalive_s=config.grpc_keepalive_s,
        )
        if messaging_settings is not None:
            try:
                messaging = await ServiceMessaging.start(
                    service=SERVICE,
                    settings=messaging_settings,
                    db=db,
                    infra=infra,
                    consumers=consumer_specs(uows, event_handlers),
                    closer=closer,
                    probes=probes,
                )
            except BaseException:
                await handle.stop(0)
                raise
    except BaseException:
        await closer.aclose()
        raise
    monitor = HealthMonitor(handle, probes)
    await monitor.check_once()
    monitor.start()
    return App(config, db, handle, monitor, closer, uows, event_handlers, messaging, metrics)


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
    try:
        asyncio.run(_serve(settings))
    except NatsUnavailable as exc:  # a clear one-line reason instead of a traceback
        _log.error("startup_failed", error=str(exc))
        raise SystemExit(1) from None
