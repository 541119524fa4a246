"""The analytics' streams on NATS: making sure every stream it consumes exists before its consumers
start, and the replay of a rebuild.

The FACADE stream is the facade's own (the services ensure only theirs at start): the analytics
service ensures it too, with the same configuration the facade gives it, before its consumers start.

A replay deletes each durable consumer and creates it again with the same configuration, whose
deliver policy is ALL: the consumer then delivers from the first message its stream still keeps. A
process that runs the consumers keeps its pull subscription: it fetches by the durable's name, which
the new consumer answers. Messages of the old consumer still in flight are applied (their inbox
rows then make the new consumer's deliveries duplicates) or come again from the new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from nats.js.errors import NotFoundError

from mes_platform.config import ServiceSettings
from mes_platform.messaging.connection import NatsConnection
from mes_platform.messaging.runtime import ConsumerSpec, MessagingSettings, connect_service_nats
from mes_platform.messaging.streams import StreamSpec, consumer_config, ensure_streams
from mes_platform.telemetry.logs import get_logger

__all__ = ["NatsStreamReplay", "ensure_consumed_streams"]

_log = get_logger("mes.analytics.streams")


async def _connect(service: str, settings: MessagingSettings) -> NatsConnection:
    """The service's administrative connection (``-admin``)."""
    return await connect_service_nats(service, settings, suffix="-admin")


async def ensure_consumed_streams(settings: ServiceSettings, streams: Sequence[StreamSpec]) -> None:
    """Create (or update) the ``streams`` the consumers read; nothing without ``NATS_URL``."""
    messaging = MessagingSettings.from_settings(settings)
    if messaging is None:
        return
    conn = await _connect(settings.service, messaging)
    try:
        await ensure_streams(
            conn.js, streams, replicas=messaging.stream_replicas, duplicate_window_s=messaging.duplicate_window_s
        )
    finally:
        await conn.close()


class NatsStreamReplay:
    """Re-creates the service's durable consumers so that they deliver every kept message again."""

    def __init__(self, settings: ServiceSettings, consumers: Sequence[ConsumerSpec]) -> None:
        self._service = settings.service
        self._settings = MessagingSettings.from_settings(settings)
        self._consumers = tuple(consumers)

    async def replay_all(self) -> None:
        settings = self._settings
        if settings is None:
            return
        conn = await _connect(self._service, settings)
        try:
            for spec in self._consumers:
                durable = spec.durable(self._service)
                with contextlib.suppress(NotFoundError):
                    await conn.js.delete_consumer(spec.stream.name, durable)
                config = consumer_config(
                    durable,
                    spec.subjects,
                    max_deliver=settings.max_deliver,
                    backoff=settings.backoff_s,
                    ack_wait=settings.ack_wait_s,
                    max_ack_pending=settings.max_ack_pending,
                    description=f"{self._service}: {', '.join(spec.subjects)}",
                )
                await conn.js.add_consumer(spec.stream.name, config)
                _log.info("consumer_replaying", consumer=durable, stream=spec.stream.name)
        finally:
            await conn.close()
