"""Composition root of the inventory service.

With ``NATS_URL`` set, the process also publishes its outbox (relay), runs its event
consumers (``entrypoints/consumers.py``) and retries waiting orders periodically as a safety
net (``MES_INVENTORY_WAITING_RETRY_INTERVAL_S``, default 30 s); health is NOT_SERVING while
NATS is away. Without ``NATS_URL`` it serves gRPC only: events accumulate in the outbox,
unpublished, until a process with NATS runs the relay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import grpc

from mes.inventory.v1 import inventory_pb2_grpc
from services.inventory.adapters.tables import infra
from services.inventory.adapters.unit_of_work import SqlUnitOfWork
from services.inventory.config import SERVICE, Settings
from services.inventory.entrypoints.consumers import consumer_specs
from services.inventory.entrypoints.grpc_api import SERVICE_NAME, InventoryServicer
from services.inventory.entrypoints.waiting_sweeper import WaitingSweeper
from services.inventory.service_layer.common import Deps
from services.inventory.service_layer.handlers import Handlers
from services.shared.config import ServiceSettings
from services.shared.db import Database
from services.shared.grpc_server import Authenticator, ServerHandle, create_server
from services.shared.lifecycle import Closer, HealthMonitor, wait_for_shutdown_signal
from services.shared.logging import configure_logging, get_logger
from services.shared.messaging.runtime import MessagingSettings, NatsUnavailable, Probe, ServiceMessaging
from services.shared.metrics import MetricsServer, start_metrics_server
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
                    consumers=consumer_specs(SqlUnitOfWork(db), handlers.events),
                    closer=closer,
                    probes=probes,
                )
                if messaging_settings.run_consumers:
                    sweeper = WaitingSweeper(handlers.events, interval_s=config.waiting_retry_interval_s)
                    sweeper.start()
                    closer.push("waiting-sweeper", sweeper.stop)
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
    app = await start(Settings.from_env())
    _log.info("listening", port=app.port, host=app.settings.grpc_host)
    try:
        await wait_for_shutdown_signal()
    finally:
        await app.aclose()


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    try:
        asyncio.run(_serve())
    except NatsUnavailable as exc:  # a clear one-line reason instead of a traceback
        _log.error("startup_failed", error=str(exc))
        raise SystemExit(1) from None
