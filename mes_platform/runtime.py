"""One service runtime: what every service process does, in one place.

A service states only what is its own in a :class:`ServiceSpec` (its name, migrations,
infrastructure tables, settings class, and a ``wire`` function that builds its servicer,
event consumers and background tasks from the database); :func:`start_service` does the
rest, in this order:

1. migrate (``MIGRATE_ON_START``), open the writer and reader engines (a PostgreSQL replica as
   reader: reads routed for read-your-writes and probed, :mod:`mes_platform.replica`);
2. the ``/metrics`` endpoint (``METRICS_PORT``), and with it the poller of the event pipeline's
   gauges (outbox backlog, dead letters, consumer lag: :mod:`mes_platform.messaging.metrics`);
3. the gRPC server with the shared interceptor, health and reflection (unless
   ``GRPC_REFLECTION=0``; the service's API only where the process serves it: ``ROLE``
   ``api`` or ``all``);
4. messaging (``NATS_URL``), by role (:mod:`mes_platform.roles`): streams, the outbox relay,
   the consumers, retention and the service's background tasks where workers run; the
   relay's wake-ups where only the API runs;
5. the health monitor: SERVING while the database (and NATS, where consumers or a relay
   run) answer.

:func:`run_service` is a process's ``main``: settings from the environment, logs, start,
then on SIGTERM/SIGINT a graceful stop (:meth:`RunningService.aclose`): NOT_SERVING at
once, calls still accepted for ``SHUTDOWN_DELAY_S`` (so that balancers move away; a
worker has no such delay), then new calls refused (UNAVAILABLE) while calls in flight get
``SHUTDOWN_GRACE_S``, then consumers stop (the batch in flight finishes, the rest goes
back), the relay finishes its batch, NATS drains, the database closes. A second signal
skips what is left of the delay.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import grpc

from mes_platform.config import InsecureSettings, ServiceSettings
from mes_platform.db import Database
from mes_platform.grpc_server import Authenticator, PartnerKeyResolver, ServerHandle, create_server
from mes_platform.lifecycle import Closer, HealthMonitor, ShutdownSignals, sleep_unless
from mes_platform.messaging.metrics import PipelineGauges, poll_interval
from mes_platform.messaging.runtime import ConsumerSpec, MessagingSettings, NatsUnavailable, Probe, ServiceMessaging
from mes_platform.migrations import upgrade
from mes_platform.relay_wake import RelayWaker
from mes_platform.replica import ReplicaSettings
from mes_platform.roles import BackgroundTask, RoleParts, start_role
from mes_platform.tables import InfraTables
from mes_platform.telemetry.logs import configure_logging, get_logger
from mes_platform.telemetry.metrics import MetricsServer, start_metrics_server
from mes_platform.telemetry.trace_export import configure_tracing

__all__ = ["BackgroundTask", "RunningService", "ServiceSpec", "Wiring", "run_service", "start_service"]

S = TypeVar("S", bound=ServiceSettings)
H = TypeVar("H")
_log = get_logger("mes.runtime")


@dataclass
class Wiring(Generic[H]):
    """What a service builds from its settings and database.

    ``register`` adds the servicer to the gRPC server (where the process serves the API);
    ``consumers`` and ``tasks`` run only where the process runs workers; ``handles`` is
    whatever the service wants to expose to tests and tools (its use cases, units of work...).
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
    waker: RelayWaker | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return self.handle.port

    @property
    def handles(self) -> H:
        return self.wiring.handles

    async def aclose(
        self, grace_s: float | None = None, *, delay_s: float = 0.0, hurry: asyncio.Event | None = None
    ) -> None:
        """Stop: NOT_SERVING at once; where the API is served, calls are still accepted for
        ``delay_s`` (0 here: tests stop at once; ``serve`` passes ``SHUTDOWN_DELAY_S``) unless
        ``hurry`` gets set; then new calls are refused while in-flight calls get ``grace_s``
        (default ``SHUTDOWN_GRACE_S``); then consumers, tasks and relay stop, NATS drains and
        the database closes."""
        if self._closed:
            return
        self._closed = True
        await self.monitor.stop()
        await self.handle.enter_shutdown()
        name = self.settings.service
        if delay_s > 0 and self.settings.serves_api:
            _log.info("shutdown_not_serving", service=name, accepting_calls_for_s=delay_s)
            await sleep_unless(delay_s, hurry)
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        _log.info("shutdown_refusing_new_calls", service=name, grace_s=grace)
        await self.handle.stop(grace)
        await self.closer.aclose()
        _log.info("shutdown_complete", service=name)


def _no_api(_server: grpc.aio.Server) -> None:
    """A worker's gRPC server carries health and reflection only."""


async def start_service(
    spec: ServiceSpec[S, H], settings: ServiceSettings, *, port: int | None = None
) -> RunningService[S, H]:
    """Start one service process's parts (by ``settings.role``); returns once its health is known."""
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
        replica=ReplicaSettings.from_knobs(spec.name, config.knobs),
    )
    closer.push("database", db.dispose)
    db.start_replica_probe()  # a PostgreSQL replica as reader: its lag and health (mes_platform.replica)
    probes: dict[str, Probe] = {"database": db.ping}
    parts = RoleParts()
    metrics: MetricsServer | None = None
    try:
        if config.metrics_port:
            poll_s = poll_interval(config.knobs)  # a bad METRICS_POLL_S stops the start here
            metrics = start_metrics_server(config.grpc_host, config.metrics_port)
            closer.push("metrics", metrics.close)
        wiring = spec.wire(config, db)
        api = config.serves_api
        handle = await create_server(
            service=spec.name,
            register=wiring.register if api else _no_api,
            service_names=wiring.service_names if api else (),
            authenticator=Authenticator(config.tokens, partner_keys=wiring.partner_keys),
            host=config.grpc_host,
            port=config.grpc_port if port is None else port,
            default_deadline_s=config.default_deadline_s,
            tls_cert_file=config.tls_cert_file,
            tls_key_file=config.tls_key_file,
            max_connection_age_s=config.grpc_max_connection_age_s,
            max_connection_age_grace_s=config.grpc_max_connection_age_grace_s,
            keepalive_s=config.grpc_keepalive_s,
            reflection=config.grpc_reflection,
        )
        if messaging_settings is not None:
            try:
                parts = await start_role(
                    service=spec.name,
                    config=config,
                    settings=messaging_settings,
                    db=db,
                    infra=spec.infra,
                    consumers=wiring.consumers,
                    tasks=wiring.tasks,
                    closer=closer,
                    probes=probes,
                )
            except BaseException:
                await handle.stop(0)
                raise
        if metrics is not None:  # the pipeline's gauges: read only where something scrapes them
            gauges = PipelineGauges.of(spec.name, db, spec.infra, parts.messaging, interval_s=poll_s)
            gauges.start()
            closer.push("pipeline-gauges", gauges.stop)
    except BaseException:
        await closer.aclose()
        raise
    monitor = HealthMonitor(handle, probes)
    await monitor.check_once()
    monitor.start()
    return RunningService(config, db, handle, monitor, closer, wiring, parts.messaging, metrics, parts.waker)


async def serve(spec: ServiceSpec[S, H], settings: S, *, until: Callable[[], Awaitable[None]] | None = None) -> None:
    """Start, log where it listens, wait for SIGTERM/SIGINT (or ``until``), stop gracefully."""
    signals = ShutdownSignals()
    if until is None:
        signals.install()
    service = await start_service(spec, settings)
    _log.info("listening", service=spec.name, role=settings.role, host=settings.grpc_host, port=service.port)
    try:
        await (until or signals.wait)()
    finally:
        await service.aclose(delay_s=settings.shutdown_delay_s, hurry=signals.hurry)


def run_service(spec: ServiceSpec[S, H]) -> None:
    """A service process's ``main``."""
    try:
        settings = spec.settings_from_env()
    except InsecureSettings as exc:  # a development secret off loopback, a placeholder: one clear line
        print(f"{spec.name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(spec.name, settings.log_level, json=settings.log_json)
    try:
        configure_tracing(spec.name)  # OTEL_* (mes_platform.telemetry.trace_export)
    except ValueError as exc:
        print(f"{spec.name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        asyncio.run(serve(spec, settings))
    except NatsUnavailable as exc:  # a clear one-line reason instead of a traceback
        _log.error("startup_failed", error=str(exc))
        raise SystemExit(1) from None
