"""Composition root of the production service.

With ``NATS_URL`` set, the process also publishes its outbox (relay) and runs its event
consumers (``entrypoints/consumers.py``); health is NOT_SERVING while NATS is away. Without
``NATS_URL`` it serves gRPC only: events accumulate in the outbox, unpublished, until a
process with NATS runs the relay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from mes.production.v1 import production_pb2_grpc
from services.production.adapters.tables import infra
from services.production.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.production.config import SERVICE, Settings
from services.production.entrypoints.consumers import consumer_specs
from services.production.entrypoints.grpc_api import SERVICE_NAME, ProductionServicer
from services.production.service_layer.common import Context
from services.production.service_layer.handlers import Handlers
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
_log = get_logger("mes.production")


@dataclass
class App:
    settings: Settings
    db: Database
    handle: ServerHandle
    monitor: HealthMonitor
    closer: Closer
    #: The use cases; event consumers call ``handlers.order_events``.
    handlers: Handlers
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
    """Migrate (when configured), open the database, connect NATS (when configured), serve gRPC;
    returns once SERVING is known."""
    config = Settings.wrap(settings)
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
        uows = SqlUnitOfWorkFactory(db, producer=SERVICE)
        ctx = Context(uow=uows, tokens=PageTokens(config.page_token_secret))
        handlers = Handlers.build(ctx, default_window_minutes=config.stats_window_minutes)
        servicer = ProductionServicer(handlers)
        handle = await create_server(
            service=SERVICE,
            register=lambda server: production_pb2_grpc.add_ProductionServiceServicer_to_server(servicer, server),
            service_names=[SERVICE_NAME],
            authenticator=Authenticator(config.tokens),
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
                    consumers=consumer_specs(uows, handlers.order_events),
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
    return App(config, db, handle, monitor, closer, handlers, messaging, metrics)


async def _serve() -> None:
    app = await start(Settings.load())
    _log.info("listening", port=app.port, serving=app.monitor.serving)
    try:
        await wait_for_shutdown_signal()
    finally:
        await app.aclose()


def main() -> None:
    settings = Settings.load()
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    try:
        asyncio.run(_serve())
    except NatsUnavailable as exc:  # a clear one-line reason instead of a traceback
        _log.error("startup_failed", error=str(exc))
        raise SystemExit(1) from None
