"""One service runtime: what every service process does, in one place.

A service states only what is its own in a :class:`ServiceSpec` (its name, migrations,
infrastructure tables, settings class, and a ``wire`` function that builds its servicer,
event consumers and background tasks from the database); :func:`start_service` does the
rest, in this order:

1. migrate (``MIGRATE_ON_START``), open the writer and reader engines;
2. the ``/metrics`` endpoint (``METRICS_PORT``);
3. the gRPC server with the shared interceptor, health and reflection;
4. messaging (``NATS_URL``): streams, the outbox relay, the consumers, retention, and the
   service's background tasks (which run where the consumers run);
5. the health monitor: SERVING while the database (and NATS) answer.

:func:`run_service` is a process's ``main``: settings from the environment, logs, start,
then on SIGTERM/SIGINT a graceful stop (:meth:`RunningService.shutdown`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import grpc

from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.grpc_server import Authenticator, PartnerKeyResolver, ServerHandle, create_server
from mes_platform.lifecycle import Closer, HealthMonitor, wait_for_shutdown_signal
from mes_platform.messaging.runtime import ConsumerSpec, MessagingSettings, NatsUnavailable, Probe, ServiceMessaging
from mes_platform.migrations import upgrade
from mes_platform.tables import InfraTables
from mes_platform.telemetry.logs import configure_logging, get_logger
from mes_platform.telemetry.metrics import MetricsServer, start_metrics_server

__all__ = ["BackgroundTask", "RunningService", "ServiceSpec", "Wiring", "run_service", "start_service"]

S = TypeVar("S", bound=ServiceSettings)
H = TypeVar("H")
_log = get_logger("mes.runtime")


class BackgroundTask(Protocol):
    """A job of the service that runs beside its consumers (e.g. a periodic sweep)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Wiring(Generic[H]):
    """What a service builds from its settings and database.

    ``register`` adds the servicer to the gRPC server; ``consumers`` and ``tasks`` run only
    where the process runs consumers; ``handles`` is whatever the service wants to expose to
    tests and tools (its use cases, units of work...).
    """

    register: Callable[[grpc.aio.Server], None]
    service_names: Sequence[str]
    handles: H
    consumers: Sequence[ConsumerSpec] = ()
    tasks: Sequence[BackgroundTask] = ()
    partner_keys: PartnerKeyResolver | None = None


@dataclass(frozen=True)
class ServiceSpec(Generic[S, H]):
    """Everything the runtime needs to know about one service."""

    name: str
    migrations: Path
    infra: InfraTables
    settings: Callable[[ServiceSettings], S]
    wire: Callable[[S, Database], Wiring[H]]

    def settings_from_env(self) -> S:
        return self.settings(ServiceSettings.from_env(self.name))


@dataclass
class RunningService(Generic[S, H]):
    """A started service: its parts, for tests and tools; :meth:`aclose` stops it."""

    settings: S
    db: Database
    handle: ServerHandle
    monitor: HealthMonitor
    closer: Closer
    wiring: Wiring[H]
    messaging: ServiceMessaging | None = None
    metrics: MetricsServer | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return self.handle.port

    @property
    def handles(self) -> H:
        return self.wiring.handles

    async def aclose(self, grace_s: float | None = None) -> None:
        """Stop serving (in-flight calls get ``grace_s``, default ``SHUTDOWN_GRACE_S``), then
        stop consumers, relay and tasks, drain NATS and close the database."""
        if self._closed:
            return
        self._closed = True
        await self.monitor.stop()
        await self.handle.stop(self.settings.shutdown_grace_s if grace_s is None else grace_s)
        await self.closer.aclose()


async def start_service(
    spec: ServiceSpec[S, H], settings: ServiceSettings, *, port: int | None = None
) -> RunningService[S, H]:
    """Start one service process's parts; returns once its health is known."""
    config = spec.settings(settings)
    messaging_settings = MessagingSettings.from_settings(config)
    if config.migrate_on_start:
        await upgrade(spec.migrations, config.database_url, config.database_schema)
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
        wiring = spec.wire(config, db)
        handle = await create_server(
            service=spec.name,
            register=wiring.register,
            service_names=wiring.service_names,
            authenticator=Authenticator(config.tokens, partner_keys=wiring.partner_keys),
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
                    service=spec.name,
                    settings=messaging_settings,
                    db=db,
                    infra=spec.infra,
                    consumers=wiring.consumers,
                    closer=closer,
                    probes=probes,
                )
                if messaging_settings.run_consumers:
                    for task in wiring.tasks:
                        task.start()
                        closer.push(type(task).__name__, task.stop)
            except BaseException:
                await handle.stop(0)
                raise
    except BaseException:
        await closer.aclose()
        raise
    monitor = HealthMonitor(handle, probes)
    await monitor.check_once()
    monitor.start()
    return RunningService(config, db, handle, monitor, closer, wiring, messaging, metrics)


async def serve(spec: ServiceSpec[S, H], settings: S, *, until: Callable[[], Awaitable[None]] | None = None) -> None:
    """Start, log where it listens, wait for SIGTERM/SIGINT (or ``until``), stop gracefully."""
    service = await start_service(spec, settings)
    _log.info("listening", service=spec.name, host=settings.grpc_host, port=service.port)
    try:
        await (until or wait_for_shutdown_signal)()
    finally:
        await service.aclose()


def run_service(spec: ServiceSpec[S, H]) -> None:
    """A service process's ``main``."""
    settings = spec.settings_from_env()
    configure_logging(spec.name, settings.log_level, json=settings.log_json)
    try:
        asyncio.run(serve(spec, settings))
    except NatsUnavailable as exc:  # a clear one-line reason instead of a traceback
        _log.error("startup_failed", error=str(exc))
        raise SystemExit(1) from None
