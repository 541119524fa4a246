"""In-process fan-out of the JetStream events this replica receives.

Each facade replica runs its own consumers (see ``adapters/nats_events.py``) and hands
every message to :meth:`EventHub.publish`. The hub

* tracks the highest stream sequence seen per stream; the *version* derived from them is
  part of every response-cache key, so an event makes older entries unreachable (coalesced
  over ``coalesce_s`` so a burst of events costs one miss, not one per event);
* decodes ``orders.order.status_changed`` events and pushes them to the subscribers
  (each with its stream sequence), keeping the last ``replay_buffer`` of them so a client
  that reconnects with ``since`` gets what it missed, or a resync marker when the buffer no
  longer reaches back that far;
* wakes whoever waits for changes of the orders stream (the dashboard counters feed);
* calls listeners (the reference cache forgets upserted styles and alloys).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import DecodeError

from graphql_facade.metrics import EVENTS
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2
from mes_contracts import events
from mes_platform.telemetry.logs import get_logger

__all__ = ["STREAMS", "EventEnvelope", "EventHub", "Resync", "StatusEvent"]

_log = get_logger("mes.facade.events")
STREAMS = tuple(stream.name for stream in events.STREAMS)
#: Intake publishes no status change for the first status; the submitted event stands for it.
_STATUS_SUBJECTS = (events.ORDER_STATUS_CHANGED.subject, events.ORDER_SUBMITTED.subject)


@dataclass(frozen=True)
class EventEnvelope:
    stream: str
    seq: int
    subject: str
    data: bytes
    time: datetime


@dataclass(frozen=True)
class StatusEvent:
    """An order's status change, with the ORDERS stream sequence it was published at."""

    seq: int
    time: datetime
    order_id: str
    partner_id: str
    from_status: int
    to_status: int
    reason: str
    order_version: int


@dataclass(frozen=True)
class Resync:
    """The subscriber missed events: it should refetch its snapshot and resubscribe."""

    seq: int
    reason: str


Listener = Callable[[EventEnvelope], None]


def _decode_status(event: EventEnvelope) -> StatusEvent:
    """A status change, or the submitted event as the change to SUBMITTED."""
    if event.subject == events.ORDER_SUBMITTED.subject:
        submitted = events.ORDER_SUBMITTED.decode(event.data)
        order = submitted.order
        return StatusEvent(
            seq=event.seq,
            time=_event_time(submitted.meta, event),
            order_id=order.order_id,
            partner_id=order.partner.removeprefix("partners/"),
            from_status=orders_pb2.ORDER_STATUS_UNSPECIFIED,
            to_status=order.status or orders_pb2.ORDER_STATUS_SUBMITTED,
            reason="",
            order_version=order.version,
        )
    msg = events.ORDER_STATUS_CHANGED.decode(event.data)
    return StatusEvent(
        seq=event.seq,
        time=_event_time(msg.meta, event),
        order_id=msg.order_id,
        partner_id=msg.partner_id,
        from_status=msg.from_status,
        to_status=msg.to_status,
        reason=msg.reason,
        order_version=msg.order_version,
    )


def _event_time(meta: common_pb2.EventMeta, event: EventEnvelope) -> datetime:
    return meta.occur_time.ToDatetime(tzinfo=UTC) if meta.HasField("occur_time") else event.time


class _Subscriber:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[StatusEvent | Resync | None] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    def push(self, item: StatusEvent | Resync | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True  # the consumer is too slow: tell it to resync instead of dropping silently


class EventHub:
    def __init__(self, *, replay_buffer: int = 1000, coalesce_s: float = 0.25, subscriber_queue: int = 1000) -> None:
        self._latest: dict[str, int] = dict.fromkeys(STREAMS, 0)
        self._published: dict[str, int] = dict(self._latest)
        self._coalesce_s = coalesce_s
        self._flush: asyncio.TimerHandle | None = None
        self._buffer: deque[StatusEvent] = deque(maxlen=max(1, replay_buffer))
        #: Status events at or below this sequence may be missing from the buffer.
        self._horizon = 0
        self._subscribers: set[_Subscriber] = set()
        self._subscriber_queue = subscriber_queue
        self._listeners: list[Listener] = []
        self._orders_changed = asyncio.Event()
        self._live = False
        self._nonce = secrets.token_hex(4)
        self._version = self._compute_version()
        self._closed = False

    # -- state -----------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """True once the event source is subscribed from known stream positions."""
        return self._live

    def version(self) -> str:
        """Cache-key version: the sequences folded in so far (``live``) or a per-process marker."""
        return self._version

    def as_of(self) -> dict[str, int]:
        """The published (coalesced) sequence per stream: what cached and fresh data reflect at least."""
        return dict(self._published)

    def latest(self, stream: str) -> int:
        return self._latest.get(stream, 0)

    def _compute_version(self) -> str:
        seqs = ".".join(str(self._published[s]) for s in STREAMS)
        return seqs if self._live else f"{self._nonce}-{seqs}"

    def start_at(self, positions: dict[str, int]) -> None:
        """Called by the event source once subscribed: the last sequence of every stream before it."""
        for stream, seq in positions.items():
            if seq > self._latest.get(stream, 0):
                self._latest[stream] = seq
                if stream == "ORDERS":
                    self._horizon = seq  # events up to here were never seen by this replica
        self._published = dict(self._latest)
        self._live = True
        self._version = self._compute_version()

    def set_offline(self) -> None:
        """The source lost its subscriptions: fall back to a per-process version (TTL-only caching)."""
        self._live = False
        self._nonce = secrets.token_hex(4)
        self._version = self._compute_version()
        for sub in list(self._subscribers):
            sub.push(Resync(self._latest["ORDERS"], "EVENT_SOURCE_RESTARTED"))

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- input -----------------------------------------------------------------------------

    def publish(self, event: EventEnvelope) -> None:
        if event.seq <= self._latest.get(event.stream, 0):
            return  # redelivered by an ordered consumer reset
        self._latest[event.stream] = event.seq
        EVENTS.labels(event.stream).inc()
        self._schedule_flush()
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                _log.exception("event_listener_failed", subject=event.subject)
        if event.stream == "ORDERS":
            self._orders_changed.set()
            self._orders_changed = asyncio.Event()
            if event.subject in _STATUS_SUBJECTS:
                self._dispatch_status(event)

    def _schedule_flush(self) -> None:
        if self._coalesce_s <= 0:
            self._do_flush()
        elif self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self._coalesce_s, self._do_flush)

    def _do_flush(self) -> None:
        self._flush = None
        self._published = dict(self._latest)
        self._version = self._compute_version()

    def _dispatch_status(self, event: EventEnvelope) -> None:
        try:
            status = _decode_status(event)
        except DecodeError:
            _log.warning("undecodable_event", subject=event.subject, seq=event.seq)
            return
        if len(self._buffer) == self._buffer.maxlen:
            self._horizon = self._buffer[0].seq
        self._buffer.append(status)
        for sub in list(self._subscribers):
            sub.push(status)

    # -- output ----------------------------------------------------------------------------

    async def wait_orders_change(self, timeout_s: float | None = None) -> bool:
        """Wait until the next event of the orders stream; False on timeout."""
        changed = self._orders_changed
        try:
            async with asyncio.timeout(timeout_s):
                await changed.wait()
        except TimeoutError:
            return False
        return True

    async def status_events(self, since: int | None = None) -> AsyncIterator[StatusEvent | Resync]:
        """Every status change from now on; with ``since``, first the buffered ones after it."""
        sub = _Subscriber(self._subscriber_queue)
        self._subscribers.add(sub)
        try:
            last = since if since is not None else self._latest["ORDERS"]
            if since is not None and since < self._latest["ORDERS"]:
                if since < self._horizon:
                    last = self._latest["ORDERS"]
                    yield Resync(last, "EVENTS_NOT_RETAINED")
                else:
                    for event in [e for e in self._buffer if e.seq > since]:
                        last = event.seq
                        yield event
            while not self._closed:
                if sub.overflowed:
                    sub.overflowed = False
                    while not sub.queue.empty():
                        sub.queue.get_nowait()
                    yield Resync(self._latest["ORDERS"], "SLOW_CONSUMER")
                    continue
                item = await sub.queue.get()
                if item is None:
                    return
                if isinstance(item, StatusEvent):
                    if item.seq <= last:
                        continue
                    last = item.seq
                yield item
        finally:
            self._subscribers.discard(sub)

    async def aclose(self) -> None:
        self._closed = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        for sub in list(self._subscribers):
            with contextlib.suppress(Exception):
                sub.queue.put_nowait(None)
        self._orders_changed.set()
