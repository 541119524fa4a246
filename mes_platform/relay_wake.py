"""Waking the outbox relay of another process over NATS.

A process that commits outbox rows but runs no relay (an ``api`` process: the service's
relay runs in its workers) tells the relays after each commit: one empty core-NATS
message on the service's wake subject (:func:`wake_subject`, outside every stream's
subjects: nothing is stored). The relays listen in one queue group, so one of them wakes
and publishes every unpublished row. Wakes are coalesced (one message at a time per
process, however many commits happened meanwhile) and best effort: a lost one costs at
most the relay's fallback poll (``RELAY_POLL_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg

from mes_platform.messaging.connection import NatsConnection
from mes_platform.messaging.relay import OutboxRelay
from mes_platform.telemetry.logs import get_logger

__all__ = ["WAKE_QUEUE", "RelayWaker", "listen_for_wakes", "wake_subject"]

_log = get_logger("mes.relay_wake")
#: The queue group of the relays of one service: each wake reaches one of them.
WAKE_QUEUE = "outbox-relays"


def wake_subject(service: str) -> str:
    """The core-NATS subject that wakes ``service``'s relays (not an event: no stream holds it)."""
    return f"_MES.relay-wake.{service}"


class RelayWaker:
    """Publishes coalesced wake-ups for ``service``'s relays; :meth:`notify` is the commit hook
    (``Database.on_outbox_committed``). The connection is opened in the background, so a
    process starts (and commits) while NATS is down; its wakes start once it connects."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.subject = wake_subject(service)
        self.sent = 0
        self._pending = asyncio.Event()
        self._conn: NatsConnection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.connected()

    def notify(self) -> None:
        """Ask for one wake-up soon (quick, never raises)."""
        self._pending.set()

    def start(self, connect: Callable[[], Awaitable[NatsConnection]]) -> None:
        self._task = asyncio.create_task(self._run(connect), name=f"relay-waker-{self.service}")

    async def _run(self, connect: Callable[[], Awaitable[NatsConnection]]) -> None:
        self._conn = await connect()
        while True:
            await self._pending.wait()
            await self._send()

    async def _send(self) -> None:
        self._pending.clear()
        if self._conn is None:
            return
        try:
            await self._conn.nc.publish(self.subject, b"")
            self.sent += 1
        except Exception as exc:  # closed or reconnecting with a full buffer: the relay polls anyway
            _log.debug("relay_wake_failed", service=self.service, error=repr(exc))

    async def stop(self) -> None:
        """Send the wake-up still pending (the last commits), then drain and close."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._conn is not None:
            if self._pending.is_set() and self._conn.connected():
                await self._send()
            await self._conn.close()


async def listen_for_wakes(conn: NatsConnection, service: str, relay: OutboxRelay) -> None:
    """Wake ``relay`` whenever another process of ``service`` says it committed outbox rows."""

    async def on_wake(_msg: Msg) -> None:
        relay.notify()

    await conn.nc.subscribe(wake_subject(service), queue=WAKE_QUEUE, cb=on_wake)
