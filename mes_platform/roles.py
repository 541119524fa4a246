"""What one process of a service runs besides its gRPC server, by its ``ROLE``.

=========  ==========================================================================
``all``    the consumers, background tasks, retention and the outbox relay (one process
           does everything; the default, and what tests start in process)
``api``    no consumers, no tasks, no retention; the outbox relay runs in the workers and
           each commit wakes it over NATS (:mod:`mes_platform.relay_wake`). NATS is not
           part of its health: intake goes on while NATS is down (the outbox keeps the
           events). ``RELAY=1`` runs a relay in the api process instead (no wake-ups).
``worker`` the consumers, background tasks, retention and the relay, which also wakes when
           an api process commits; its gRPC server serves health (and reflection) only
=========  ==========================================================================

``CONSUMERS=0`` and ``RELAY=0`` still turn those parts off in ``all`` and ``worker``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.lifecycle import Closer
from mes_platform.messaging.connection import NatsConnection, connect_nats
from mes_platform.messaging.runtime import ConsumerSpec, MessagingSettings, Probe, ServiceMessaging, connection_name
from mes_platform.relay_wake import RelayWaker, listen_for_wakes
from mes_platform.tables import InfraTables

__all__ = ["BackgroundTask", "RoleParts", "relay_in_api", "start_role"]

_TRUE = frozenset({"1", "true", "yes", "on"})


class BackgroundTask(Protocol):
    """A job of the service that runs beside its consumers (e.g. a periodic sweep)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


def relay_in_api(knobs: Mapping[str, str]) -> bool:
    """``RELAY`` explicitly on: an api process runs a relay itself."""
    return knobs.get("RELAY", "").strip().lower() in _TRUE


@dataclass
class RoleParts:
    """The messaging side of one process: none of it without ``NATS_URL``."""

    messaging: ServiceMessaging | None = None
    waker: RelayWaker | None = None


async def start_role(
    *,
    service: str,
    config: ServiceSettings,
    settings: MessagingSettings,
    db: Database,
    infra: InfraTables,
    consumers: Sequence[ConsumerSpec],
    tasks: Sequence[BackgroundTask],
    closer: Closer,
    probes: dict[str, Probe],
) -> RoleParts:
    """Start what ``config.role`` runs; every part is pushed on ``closer``."""
    if not config.runs_workers:
        if relay_in_api(config.knobs):
            api_settings = replace(settings, run_consumers=False)
            messaging = await ServiceMessaging.start(
                service=service, settings=api_settings, db=db, infra=infra, consumers=(), closer=closer, probes={}
            )
            return RoleParts(messaging=messaging)
        waker = RelayWaker(service)

        async def connect() -> NatsConnection:
            return await connect_nats(
                settings.nats_url, name=connection_name(service), drain_timeout_s=settings.drain_timeout_s
            )

        db.on_outbox_committed(waker.notify)
        waker.start(connect)
        closer.push("relay-waker", waker.stop)
        return RoleParts(waker=waker)
    messaging = await ServiceMessaging.start(
        service=service, settings=settings, db=db, infra=infra, consumers=consumers, closer=closer, probes=probes
    )
    if messaging.relay is not None:
        await listen_for_wakes(messaging.conn, service, messaging.relay)
    if settings.run_consumers:
        for task in tasks:
            task.start()
            closer.push(type(task).__name__, task.stop)
    return RoleParts(messaging=messaging)
