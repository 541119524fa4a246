"""Feeds the :class:`~graphql_facade.events.EventHub` from JetStream.

Every facade replica runs its *own* ordered (ephemeral, flow-controlled, no-ack) push consumer
per stream (``orders.>``, ``inventory.>``, ``production.>``), so every replica sees every event:
cache invalidation and subscriptions work with any number of replicas. Each consumer starts
right after the stream's last sequence read at subscribe time, and the hub starts from those
positions, so no event falls between the two. A missing stream is created with the shared
definition (``mes_platform.messaging.streams``), an existing one is never reconfigured.
Connection and subscription are retried in the background: the facade serves (with TTL-only
caching) while NATS is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from clients._base import parse_position
from graphql_facade.events import EventEnvelope, EventHub
from mes_platform.messaging import EVENT_POSITION_HEADER
from mes_platform.messaging.connection import nats_servers
from mes_platform.messaging.streams import ensure_streams, stream_for_subject
from mes_platform.telemetry.logs import get_logger

__all__ = ["SUBJECTS", "NatsEventSource"]

_log = get_logger("mes.facade.nats")
SUBJECTS = ("orders.>", "inventory.>", "production.>")


def _position(msg: Msg) -> int:
    """The event's ``Mes-Commit-Lsn`` (0: none, or not a position: the event is still delivered)."""
    raw = (msg.headers or {}).get(EVENT_POSITION_HEADER)
    if not raw:
        return 0
    try:
        return parse_position(raw)
    except ValueError:
        return 0


class NatsEventSource:
    def __init__(
        self,
        url: str,
        hub: EventHub,
        *,
        name: str = "mes-facade",
        subjects: Sequence[str] = SUBJECTS,
        retry_s: float = 2.0,
    ) -> None:
        self._url = url
        self._hub = hub
        self._name = name
        self._subjects = tuple(subjects)
        self._retry_s = retry_s
        self._nc: Client | None = None
        self._subs: list[JetStreamContext.PushSubscription] = []
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected and self._subscribed.is_set()

    async def start(self, *, wait_s: float = 2.0) -> None:
        """Start in the background; wait up to ``wait_s`` for the first subscription (not required)."""
        self._task = asyncio.create_task(self._run(), name="facade-events")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._subscribed.wait()

    async def wait_subscribed(self, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            await self._subscribed.wait()

    async def _on_disconnected(self) -> None:
        if self._subscribed.is_set():
            _log.warning("nats_disconnected")
            self._hub.set_offline()

    async def _on_error(self, exc: Exception) -> None:
        """Connection errors while reconnecting are expected (the server restarts, a network blip):
        one warning line, like the services', instead of nats-py's default ERROR with a traceback."""
        _log.warning("nats_error", error=repr(exc))

    async def _on_reconnected(self) -> None:
        if self._subscribed.is_set():
            _log.info("nats_reconnected")
            self._hub.start_at({})

    async def _connect(self) -> Client:
        if self._nc is None or self._nc.is_closed:
            self._nc = await nats.connect(
                nats_servers(self._url),  # a comma-separated list: every node of a cluster
                name=self._name,
                connect_timeout=2,
                reconnect_time_wait=1,
                max_reconnect_attempts=-1,
                allow_reconnect=True,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        return self._nc

    async def _subscribe(self, nc: Client) -> None:
        js = nc.jetstream()
        positions: dict[str, int] = {}
        subs: list[JetStreamContext.PushSubscription] = []
        try:
            for subject in self._subjects:
                stream = await self._stream_for(js, subject)
                info = await js.stream_info(stream)
                last = info.state.last_seq
                positions[stream] = last
                config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=last + 1)
                subs.append(
                    await js.subscribe(
                        subject, stream=stream, cb=self._on_message, ordered_consumer=True, config=config
                    )
                )
        except BaseException:
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            raise
        self._subs = subs
        self._hub.start_at(positions)
        self._subscribed.set()
        _log.info("events_subscribed", positions=positions)

    async def _stream_for(self, js: JetStreamContext, subject: str) -> str:
        """The stream capturing ``subject``; created (never reconfigured) when it does not exist yet."""
        try:
            return await js.find_stream_name_by_subject(subject)
        except NotFoundError:
            spec = stream_for_subject(subject.replace(">", "any"))
            await ensure_streams(js, [spec])
            return spec.name

    async def _run(self) -> None:
        while True:
            try:
                nc = await self._connect()
                await self._subscribe(nc)
                return  # ordered consumers recover by themselves from here on
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("events_subscribe_failed", error=type(exc).__name__, detail=str(exc)[:200])
                await asyncio.sleep(self._retry_s)

    async def _on_message(self, msg: Msg) -> None:
        try:
            meta = msg.metadata
        except Exception:
            return
        stamp = meta.timestamp
        self._hub.publish(
            EventEnvelope(
                stream=meta.stream,
                seq=meta.sequence.stream,
                subject=msg.subject,
                data=msg.data,
                time=stamp.astimezone(UTC) if isinstance(stamp, datetime) else datetime.now(UTC),
                position=_position(msg),
            )
        )

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs = []
        self._subscribed.clear()
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()
