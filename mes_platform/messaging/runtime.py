"""The messaging side of one service process: connection, streams, relay, consumers, retention.

A composition root calls :meth:`ServiceMessaging.start` when ``settings.nats_url`` is set
(:meth:`MessagingSettings.from_settings` returns None otherwise: the service then writes
its outbox rows and publishes nothing). Start-up fails with :class:`NatsUnavailable` when
NATS does not answer within ``connect_timeout_s``. Shutdown goes through the
:class:`~mes_platform.lifecycle.Closer`, in the reverse order of start-up: consumers
stop (the message in flight finishes, the rest of the batch goes back) -> the retention
job -> the relay (the batch in flight finishes) -> the NATS connection drains and closes;
the database is disposed after that by whoever pushed it first.

Knobs, from the service's prefixed environment (``MES_<SERVICE>_<NAME>``, i.e.
``ServiceSettings.extra``), else from the unprefixed ``MES_<NAME>`` (every service; i.e.
``ServiceSettings.common``), with defaults:

==============================  =========  ====================================================
``NATS_CONNECT_TIMEOUT_S``      10         initial connection; then reconnects forever
``NATS_DRAIN_TIMEOUT_S``        5          bound of the drain on shutdown
``CONSUMERS``                   1          0: this process runs no consumers
``RELAY``                       1          0: this process runs no outbox relay
``CONSUMER_ACK_WAIT_S``         30         redelivery to another replica after this silence
``CONSUMER_MAX_DELIVER``        5          deliveries before a dead letter
``CONSUMER_BACKOFF_S``          1,5,15,30,60  NAK delays after a failed attempt (comma list)
``CONSUMER_BATCH``              50         messages per fetch
``CONSUMER_TX_BATCH``           64         messages applied in one transaction (1: one each)
``CONSUMER_FETCH_TIMEOUT_S``    2          long-poll of one fetch
``CONSUMER_MAX_ACK_PENDING``    1000       unacknowledged messages per durable consumer
``RELAY_POLL_S``                0.2        fallback poll (commits wake the relay at once)
``RELAY_BATCH``                 200        outbox rows per publish batch
``RELAY_PUBLISH_TIMEOUT_S``     5          wait for the PubAcks of a batch
``STREAM_DUPLICATE_WINDOW_S``   120        JetStream duplicate window (same value everywhere)
``STREAM_REPLICAS``             1          replicas of new streams (3 on a NATS cluster); an
                                           existing stream's replicas are never lowered
``RETENTION_INTERVAL_S``        3600       purge of old outbox/inbox/idempotency rows
==============================  =========  ====================================================

The NATS connection is named ``<service>-<hostname>-<pid>`` (visible in ``/connz``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from mes_contracts.events import EventType
from mes_kernel.settings import parse_number
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.lifecycle import Closer
from mes_platform.messaging.backoff import DEFAULT_REDELIVERY_BACKOFF
from mes_platform.messaging.connection import NatsConnection, connect_nats
from mes_platform.messaging.consumer import EventConsumer
from mes_platform.messaging.events import Handler
from mes_platform.messaging.relay import OutboxRelay
from mes_platform.messaging.retention import RetentionJob
from mes_platform.messaging.streams import DEFAULT_DUPLICATE_WINDOW_S, StreamSpec, durable_name, ensure_streams
from mes_platform.tables import InfraTables
from mes_platform.telemetry.logs import get_logger

__all__ = [
    "ConsumerSpec",
    "MessagingSettings",
    "NatsUnavailable",
    "Probe",
    "ServiceMessaging",
    "connect_service_nats",
    "connection_name",
]

_log = get_logger("mes.messaging.runtime")
Probe = Callable[[], Awaitable[bool]]
_FALSE = {"0", "false", "no", "off"}


def connection_name(service: str) -> str:
    """``<service>-<hostname>-<pid>``: tells replicas (pods) apart in the server's monitoring."""
    return f"{service}-{socket.gethostname() or 'localhost'}-{os.getpid()}"


class NatsUnavailable(RuntimeError):
    """NATS did not answer at start-up."""


def _float(extra: Mapping[str, str], key: str, default: float, *, minimum: float = 0.0) -> float:
    return parse_number(key, extra.get(key, ""), default, minimum=minimum)


def _int(extra: Mapping[str, str], key: str, default: int) -> int:
    return int(_float(extra, key, default, minimum=1))


def _floats(extra: Mapping[str, str], key: str, default: Sequence[float]) -> tuple[float, ...]:
    raw = extra.get(key, "").strip()
    if not raw:
        return tuple(default)
    try:
        values = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{key}: expected comma-separated seconds, got {raw!r}") from None
    if any(v < 0 for v in values):
        raise ValueError(f"{key}: delays must be >= 0")
    return values


@dataclass(frozen=True)
class MessagingSettings:
    nats_url: str
    connect_timeout_s: float = 10.0
    drain_timeout_s: float = 5.0
    run_consumers: bool = True
    run_relay: bool = True
    ack_wait_s: float = 30.0
    max_deliver: int = 5
    backoff_s: tuple[float, ...] = DEFAULT_REDELIVERY_BACKOFF
    batch: int = 50
    tx_batch: int = 64
    fetch_timeout_s: float = 2.0
    max_ack_pending: int = 1000
    relay_poll_s: float = 0.2
    relay_batch: int = 200
    publish_timeout_s: float = 5.0
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S
    retention_interval_s: float = 3600.0
    stream_replicas: int = 1

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> MessagingSettings | None:
        """None when ``NATS_URL`` is not set (the service runs without events)."""
        if not settings.nats_url:
            return None
        x = settings.knobs
        return cls(
            nats_url=settings.nats_url,
            connect_timeout_s=_float(x, "NATS_CONNECT_TIMEOUT_S", 10.0, minimum=0.1),
            drain_timeout_s=_float(x, "NATS_DRAIN_TIMEOUT_S", 5.0, minimum=0.1),
            run_consumers=x.get("CONSUMERS", "1").strip().lower() not in _FALSE,
            run_relay=x.get("RELAY", "1").strip().lower() not in _FALSE,
            ack_wait_s=_float(x, "CONSUMER_ACK_WAIT_S", 30.0, minimum=0.1),
            max_deliver=_int(x, "CONSUMER_MAX_DELIVER", 5),
            backoff_s=_floats(x, "CONSUMER_BACKOFF_S", DEFAULT_REDELIVERY_BACKOFF),
            batch=_int(x, "CONSUMER_BATCH", 50),
            tx_batch=_int(x, "CONSUMER_TX_BATCH", 64),
            fetch_timeout_s=_float(x, "CONSUMER_FETCH_TIMEOUT_S", 2.0, minimum=0.05),
            max_ack_pending=_int(x, "CONSUMER_MAX_ACK_PENDING", 1000),
            relay_poll_s=_float(x, "RELAY_POLL_S", 0.2, minimum=0.01),
            relay_batch=_int(x, "RELAY_BATCH", 200),
            publish_timeout_s=_float(x, "RELAY_PUBLISH_TIMEOUT_S", 5.0, minimum=0.1),
            duplicate_window_s=_float(x, "STREAM_DUPLICATE_WINDOW_S", DEFAULT_DUPLICATE_WINDOW_S, minimum=0.1),
            retention_interval_s=_float(x, "RETENTION_INTERVAL_S", 3600.0, minimum=1.0),
            stream_replicas=_int(x, "STREAM_REPLICAS", 1),
        )


async def connect_service_nats(service: str, settings: MessagingSettings, *, suffix: str = "") -> NatsConnection:
    """A NATS connection of ``service`` named :func:`connection_name` (plus ``suffix``), with the
    timeouts of ``settings``; :class:`NatsUnavailable` when NATS does not answer in time."""
    try:
        return await connect_nats(
            settings.nats_url,
            name=connection_name(service) + suffix,
            initial_timeout_s=settings.connect_timeout_s,
            drain_timeout_s=settings.drain_timeout_s,
        )
    except TimeoutError:
        raise NatsUnavailable(
            f"{service}: cannot connect to NATS at {settings.nats_url} within {settings.connect_timeout_s:g} s"
        ) from None


@dataclass(frozen=True)
class ConsumerSpec:
    """One durable consumer of a service: ``{service}-{purpose}`` on the stream of the
    events it handles (all of one stream), filtered to exactly those subjects."""

    purpose: str
    handlers: Mapping[EventType[Message], Handler]

    def __post_init__(self) -> None:
        streams = {event.stream for event in self.handlers}
        if len(streams) != 1:
            raise ValueError(f"consumer {self.purpose!r} must handle the events of exactly one stream")

    @property
    def stream(self) -> StreamSpec:
        return next(iter(self.handlers)).stream

    @property
    def subjects(self) -> list[str]:
        return [event.subject for event in self.handlers]

    def handlers_by_subject(self) -> dict[str, Handler]:
        return {event.subject: handler for event, handler in self.handlers.items()}

    def decoders(self) -> dict[str, type[Message]]:
        return {event.subject: event.message for event in self.handlers}

    def durable(self, service: str) -> str:
        return durable_name(service, self.purpose)


@dataclass
class ServiceMessaging:
    """What runs for one process; its parts are exposed for tests and fault drivers."""

    service: str
    settings: MessagingSettings
    conn: NatsConnection
    relay: OutboxRelay | None
    consumers: list[EventConsumer] = field(default_factory=list)
    retention: RetentionJob | None = None

    @classmethod
    async def start(
        cls,
        *,
        service: str,
        settings: MessagingSettings,
        db: Database,
        infra: InfraTables,
        consumers: Sequence[ConsumerSpec],
        closer: Closer,
        probes: dict[str, Probe],
    ) -> ServiceMessaging:
        """Connect, ensure streams, start relay, consumers and retention; register their closing.

        On failure what was started is left in ``closer`` (the caller closes it).
        """
        conn = await connect_service_nats(service, settings)
        closer.push("nats", conn.close)
        probes["nats"] = conn.probe
        await ensure_streams(conn.js, replicas=settings.stream_replicas, duplicate_window_s=settings.duplicate_window_s)
        relay: OutboxRelay | None = None
        if settings.run_relay:
            relay = OutboxRelay(
                db,
                infra.outbox,
                conn.js,
                service,
                batch_size=settings.relay_batch,
                poll_interval_s=settings.relay_poll_s,
                publish_timeout_s=settings.publish_timeout_s,
            )
            db.on_outbox_committed(relay.notify)
            relay.start()
            closer.push("outbox-relay", relay.stop)
        self = cls(service, settings, conn, relay)
        self.retention = RetentionJob(db, infra, interval_s=settings.retention_interval_s)
        self.retention.start()
        closer.push("retention", self.retention.stop)
        if settings.run_consumers:
            closer.push("consumers", self.stop_consumers)
            for spec in consumers:
                consumer = EventConsumer(
                    conn.js,
                    db,
                    infra,
                    service,
                    spec.durable(service),
                    spec.stream.name,
                    None,
                    handlers=spec.handlers_by_subject(),
                    decoders=spec.decoders(),
                    max_deliver=settings.max_deliver,
                    backoff=settings.backoff_s,
                    ack_wait=settings.ack_wait_s,
                    batch=settings.batch,
                    tx_batch=settings.tx_batch,
                    fetch_timeout_s=settings.fetch_timeout_s,
                    max_ack_pending=settings.max_ack_pending,
                )
                self.consumers.append(consumer)
                await consumer.start()
        _log.info(
            "messaging_started",
            service=service,
            relay=relay is not None,
            consumers=[c.durable for c in self.consumers],
        )
        return self

    async def stop_consumers(self) -> None:
        """Stop every consumer at once; each finishes its message in flight and returns the rest."""
        await asyncio.gather(*(consumer.stop() for consumer in self.consumers))

    def consumer(self, durable: str) -> EventConsumer:
        for consumer in self.consumers:
            if consumer.durable == durable:
                return consumer
        raise KeyError(durable)
