"""Publishes the partners' usage events to JetStream (the ``publish`` of
:class:`graphql_facade.usage_events.UsagePublisher`).

A connection of its own (the event source's consumers stay apart), opened on the first publish and
retried on the next one when NATS cannot be reached; nats-py reconnects it from then on. The FACADE
stream is ensured (created, or updated to the shared definition of
``mes_platform.messaging.streams``) before the first publish and again after a failed one: the
facade is the only process that ensures it. A publish returns once JetStream acknowledged it (a
duplicate acknowledgement too: the event was stored before); while the connection is down it fails
at once instead of filling the client's reconnect buffer.
"""

from __future__ import annotations

import contextlib

from mes_contracts.events import FACADE_STREAM
from mes_platform.messaging import NatsConnection, connect_nats, ensure_streams

__all__ = ["NatsUsageSink"]

_MSG_ID = "Nats-Msg-Id"


class NatsUsageSink:
    def __init__(self, url: str, *, name: str, timeout_s: float = 5.0) -> None:
        self._url = url
        self._name = name
        self._timeout_s = timeout_s
        self._conn: NatsConnection | None = None
        self._ensured = False

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.connected()

    async def _connection(self) -> NatsConnection:
        if self._conn is None or self._conn.nc.is_closed:
            self._conn = await connect_nats(
                self._url, name=self._name, connect_timeout_s=2.0, initial_timeout_s=self._timeout_s
            )
            self._ensured = False
        return self._conn

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        """Publish one event with ``Nats-Msg-Id`` = ``msg_id``; raises when it was not acknowledged."""
        conn = await self._connection()
        try:
            if not conn.connected():
                raise ConnectionError("not connected to NATS (reconnecting)")
            if not self._ensured:
                await ensure_streams(conn.js, [FACADE_STREAM])
                self._ensured = True
            await conn.js.publish(
                subject, payload, timeout=self._timeout_s, stream=FACADE_STREAM.name, headers={_MSG_ID: msg_id}
            )
        except Exception:
            self._ensured = False
            raise

    async def aclose(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
