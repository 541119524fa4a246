"""In-process fan-out of the JetStream events this replica receives.

Each facade replica runs its own consumers (see ``adapters/nats_events.py``) and hands
every message to :meth:`EventHub.publish`. The hub

* tracks the highest stream sequence seen per stream (:attr:`EventHub.seen`): what data read
  from the services from now on reflects at least;
* calls listeners with every new event (the response cache marks what the event touches stale,
  the reference cache forgets upserted styles and alloys), and reset listeners when the source
  (re)subscribes or goes offline (nothing known fresh can be trusted then);
* decodes ``orders.order.status_changed`` events and pushes them to the subscribers
  (each with its stream sequence), keeping the last ``replay_buffer`` of them so a client
  that reconnects with ``since`` gets what it missed, or a resync marker when the buffer no
  longer reaches back that far;
* wakes whoever waits for changes of the orders stream (the dashboard counters feed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import DecodeError

from graphql_facade.metrics import EVENTS
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2
from mes_contracts import events
from mes_platform.telemetry.logs import get_logger

__all__ = ["STREAMS", "EventEnvelope", "EventHub", "Listener", "ResetListener", "Resync", "StatusEvent"]

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
    #: The writer position the event's effects are committed at (its ``Mes-Commit-Lsn``; 0: none given,
    #: as when the service reads on its writer): what a read of them must ask for on a replica.
    position: int = 0


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
#: Called with the positions the source starts after (subscribed), or None (it went offline).
ResetListener = Callable[[Mapping[str, int] | None], None]


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
    def __init__(self, *, replay_buffer: int = 1000, subscriber_queue: int = 1000) -> None:
        self._latest: dict[str, int] = dict.fromkeys(STREAMS, 0)
        #: The highest writer position an event of each stream carried (``EventEnvelope.position``).
        self._positions: dict[str, int] = {}
        self._buffer: deque[StatusEvent] = deque(maxlen=max(1, replay_buffer))
        #: Status events at or below this sequence may be missing from the buffer.
        self._horizon = 0
        #: ORDERS events at or below this sequence may never have reached this replica (it started
        #: or its source resubscribed after them).
        self._gap = 0
        #: Per partner, the sequence of its latest status event, and of its latest one evicted from
        #: the buffer: what partners' positions are made of (:meth:`partner_position`).
        self._partner_last: dict[str, int] = {}
        self._partner_evicted: dict[str, int] = {}
        self._subscribers: set[_Subscriber] = set()
        self._subscriber_queue = subscriber_queue
        self._listeners: list[Listener] = []
        self._reset_listeners: list[ResetListener] = []
        self._orders_changed = asyncio.Event()
        self._live = False
        self._closed = False

    # -- state -----------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """True once the event source is subscribed from known stream positions."""
        return self._live

    @property
    def seen(self) -> Mapping[str, int]:
        """The highest sequence received per stream (a live view: copy it to keep it)."""
        return self._latest

    def as_of(self) -> dict[str, int]:
        """The sequence per stream that data read from the services from now on reflects at least."""
        return dict(self._latest)

    def latest(self, stream: str) -> int:
        return self._latest.get(stream, 0)

    def positions(self) -> dict[str, int]:
        """:meth:`position` of every stream whose events carried one."""
        return dict(self._positions)

    def position(self, stream: str) -> int:
        """The highest writer position the events of ``stream`` carried (0: none): a read at it or
        later sees every event seen so far, on a replica too."""
        return self._positions.get(stream, 0)

    def partner_position(self, partner_id: str) -> int:
        """The ORDERS sequence a partner's "now" is shown as: its own latest status event, or the
        point this replica's events start from when that is later.

        Data read from the services from now on reflects every status event of the partner up to
        it, and resuming after it replays every later one; unlike the stream's head, it does not
        move with other partners' events, so a partner polling it learns nothing about them.
        """
        return max(self._partner_last.get(partner_id, 0), self._gap)

    def start_at(self, positions: dict[str, int]) -> None:
        """Called by the event source once subscribed: the last sequence of every stream before it."""
        for stream, seq in positions.items():
            if seq > self._latest.get(stream, 0):
                self._latest[stream] = seq
                if stream == "ORDERS":
                    self._horizon = seq  # events up to here were never seen by this replica
                    self._gap = seq
        self._live = True
        self._reset(dict(self._latest))

    def set_offline(self) -> None:
        """The source lost its subscriptions: events may be missed until it subscribes again."""
        self._live = False
        self._reset(None)
        for sub in list(self._subscribers):
            sub.push(Resync(self._latest["ORDERS"], "EVENT_SOURCE_RESTARTED"))

    def _reset(self, positions: Mapping[str, int] | None) -> None:
        for listener in self._reset_listeners:
            try:
                listener(positions)
            except Exception:
                _log.exception("reset_listener_failed")

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def add_reset_listener(self, listener: ResetListener) -> None:
        self._reset_listeners.append(listener)

    # -- input -----------------------------------------------------------------------------

    def publish(self, event: EventEnvelope) -> None:
        if event.seq <= self._latest.get(event.stream, 0):
            return  # redelivered by an ordered consumer reset
        self._latest[event.stream] = event.seq
        if event.position > self._positions.get(event.stream, 0):
            self._positions[event.stream] = event.position
        EVENTS.labels(event.stream).inc()
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

    def _dispatch_status(self, event: EventEnvelope) -> None:
        try:
            status = _decode_status(event)
        except DecodeError:
            _log.warning("undecodable_event", subject=event.subject, seq=event.seq)
            return
        if len(self._buffer) == self._buffer.maxlen:
            evicted = self._buffer[0]
            self._horizon = evicted.seq
            self._partner_evicted[evicted.partner_id] = evicted.seq
        self._buffer.append(status)
        self._partner_last[status.partner_id] = status.seq
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

    def _missed(self, since: int, partner_id: str | None) -> bool:
        """Whether status events after ``since`` (of ``partner_id``'s orders, when given) may be
        missing from the buffer."""
        if partner_id is None:
            return since < self._horizon
        return since < max(self._gap, self._partner_evicted.get(partner_id, 0))

    async def status_events(
        self, since: int | None = None, *, partner_id: str | None = None
    ) -> AsyncIterator[StatusEvent | Resync]:
        """Every status change from now on; with ``since``, first the buffered ones after it.

        With ``partner_id``, ``since`` only needs the buffer to hold that partner's later events
        (a quiet partner resumes after its own last event, however many others' came since); the
        caller still filters the events by partner.
        """
        sub = _Subscriber(self._subscriber_queue)
        self._subscribers.add(sub)
        try:
            last = since if since is not None else self._latest["ORDERS"]
            if since is not None and since < self._latest["ORDERS"]:
                if self._missed(since, partner_id):
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
        for sub in list(self._subscribers):
            with contextlib.suppress(Exception):
                sub.queue.put_nowait(None)
        self._orders_changed.set()
