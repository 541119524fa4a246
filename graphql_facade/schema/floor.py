"""The floor: one tile per work center (state, queue, WIP, output), the late orders, and the
``floorEvents`` subscription that keeps a Floor page live.

Everything is read from the services' existing RPCs, one call per kind for the whole floor or for the
work centers an update touches (never one per work center): ``ListWorkCenters``;
``ListWorkCenterStats`` (queue and bench counts, the oldest queued, the bench's pieces and metal per
alloy, and the operations finished in the last hour: aggregates computed where the operations are);
``ListWorkCenterOutput`` (this hour and this shift of each calendar, by the request's loaders); the
alloys' fineness (``BatchGetAlloys``, through the reference cache); ``CountOrders`` and
``ListOrders(late_only)`` for the late orders. A tile costs no listing of operations, so a live update
costs the same at 2,000 stored orders as at 100,000.

* **WIP** of a work center: its operations in progress and paused. Pieces are their work orders'
  quantities; gross metal is their weigh-ins; fine metal is ``weigh-in x fineness // 1000`` per
  alloy (an alloy missing from the catalogue counts no fine metal).
* **Queued at**: the production service keeps no queue time, so an operation counts as queued
  since the latest of its work order's release (create time), the finish of its earlier steps and
  its own last finish (a reworked operation is queued again after it).
* **This shift**: the shift of the work center's own calendar (its time zone, its windows): the tile's
  ``output`` (shift name, this hour and this shift against the calendar's pro-rata target,
  utilisation) and ``finishedThisShift`` (0 off shift or without a calendar).

``floorEvents`` replays and pushes the PRODUCTION events about work centers and operations
(:class:`FloorFeed`: one per event hub, started with the facade, fed by the hub's listener, keeping
the last ``MES_FACADE_EVENT_REPLAY_BUFFER`` of them): each operation change as ``OperationUpdated``,
and each work center they touch as ``WorkCenterUpdated`` with its tile recomputed from the services,
at most every 250 ms (4 per second), in sequence order. The tiles of a batch of events are computed
once, whatever the number of subscribers, and the same updates handed to each; only what a
subscriber resuming with ``since`` missed is computed for it alone. A ``since`` older than the buffer
reaches, a subscriber too slow to keep up, or an event source that went offline yields
``ResyncRequired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from google.protobuf.message import DecodeError
from strawberry.dataloader import DataLoader

from clients._base import use_positions
from graphql_facade.backend import Backend
from graphql_facade.caching import ReferenceCache
from graphql_facade.context import RequestContext
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.loaders import Loaders, WorkCenterDirectory
from graphql_facade.pagination import Page, fetch_page
from graphql_facade.read_your_writes import event_positions
from graphql_facade.schema.common import Long, optional_enum, to_datetime
from graphql_facade.schema.connections import Connection, connection, list_fetch
from graphql_facade.schema.info import Info, field
from graphql_facade.schema.live import ResyncRequired
from graphql_facade.schema.orders import OperatorOrder
from graphql_facade.schema.production import Operation, WorkCenterState
from graphql_facade.schema.shifts import WorkCenterOutput
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events
from mes_platform.telemetry.logs import get_logger

__all__ = [
    "COALESCE_S",
    "Floor",
    "FloorAsOf",
    "FloorChange",
    "FloorEvent",
    "FloorFeed",
    "FloorReads",
    "FloorTiles",
    "FloorUpdate",
    "FloorWorkCenter",
    "OperationUpdated",
    "QueueSummary",
    "TileSource",
    "Wip",
    "WorkCenterUpdated",
    "floor_centers",
    "floor_events",
    "floor_feed",
    "floor_feed_of",
    "floor_of",
    "late_orders_request",
]

_log = get_logger("mes.facade.floor")
#: A work center's tile is pushed at most once per this many seconds (4 per second).
COALESCE_S = 0.25
#: Every work center (an event that does not name its work centers: released or cancelled work orders).
_ALL = "*"
_OPERATION_SUBJECTS = frozenset(
    kind.subject for kind in events.ALL_EVENTS if kind.message is prod_ev.OperationChangedEvent
)
_ALL_CENTERS_SUBJECTS = frozenset({events.WORK_ORDERS_RELEASED.subject, events.WORK_ORDERS_CANCELLED.subject})


# -- types ---------------------------------------------------------------------------------------


@strawberry.type(description="The position of a floor answer: compare `seq` with the `seq` of `floorEvents`.")
class FloorAsOf:
    seq: Long = strawberry.field(description="PRODUCTION stream: the data reflects every event up to it, at least.")
    at: datetime = strawberry.field(description="When the answer was computed.")


@strawberry.type(description="The queue of a work center.")
class QueueSummary:
    length: int = strawberry.field(description="Operations QUEUED at the work center.")
    oldest_queued_at: datetime | None = strawberry.field(
        description="Since when the longest-waiting one is queued (its work order's release or its previous "
        "step's finish: the service keeps no queue time); null when the queue is empty."
    )


@strawberry.type(description="Work in progress: what the operations in progress and paused hold.")
class Wip:
    pieces: int = strawberry.field(description="Pieces: the quantities of their work orders.")
    gross_mg: Long = strawberry.field(description="Metal weighed in, milligrams.")
    fine_mg: Long = strawberry.field(description="Fine metal: weigh-in x the alloy's fineness // 1000, summed.")


@strawberry.type(description="One work center's tile on the floor.")
class FloorWorkCenter:
    id: strawberry.ID = strawberry.field(description="The work center's code.")
    name: str = strawberry.field(description="Its display name (the code when it has none).")
    kind: str = strawberry.field(description="The work-center type (the operations it performs: CASTING...).")
    state: WorkCenterState | None = strawberry.field(description="RUNNING, IDLE or BLOCKED.")
    state_reason: str = strawberry.field(description="Why it is blocked (BLOCKED only).")
    state_time: datetime | None = strawberry.field(description="Since when it is in this state.")
    capacity: int = strawberry.field(description="How many operations may be at the bench at once.")
    version: Long = strawberry.field(description="The work center's version (its definition and state).")
    queue: QueueSummary = strawberry.field(description="Its queue: length and oldest.")
    in_progress: int = strawberry.field(description="Operations IN_PROGRESS.")
    paused: int = strawberry.field(description="Operations PAUSED (they keep their place at the bench).")
    wip: Wip = strawberry.field(description="What the operations in progress and paused hold.")
    finished_last_hour: int = strawberry.field(description="Operations finished (DONE) in the last 60 minutes.")
    finished_this_shift: int = strawberry.field(
        description="Operations finished (DONE) this shift of its calendar (`output.finishedThisShift`); 0 off "
        "shift or without a calendar."
    )
    output_pb: strawberry.Private[prod.WorkCenterOutput | None] = None

    @field(
        description="Its shift now (from its calendar, in the calendar's time zone): finished this hour and this "
        "shift against the pro-rata target, utilisation; `shiftName` null off shift. Null when production did "
        "not answer it."
    )
    def output(self, info: Info) -> WorkCenterOutput | None:
        return WorkCenterOutput.from_pb(self.output_pb) if self.output_pb is not None else None


@strawberry.type(description="The shop floor: work centers' tiles and late orders.")
class Floor:
    as_of: FloorAsOf = strawberry.field(description="The PRODUCTION position the answer reflects at least.")
    now: strawberry.Private[datetime]
    reads: strawberry.Private[FloorReads]

    @field(
        description="Every active work center, in code order (a short list: not paginated); null when "
        "production cannot be reached."
    )
    async def work_centers(self, info: Info) -> list[FloorWorkCenter] | None:
        return await self.reads.centers.load(0)

    @field(description="How many orders are late (due time passed, not shipped); null when orders cannot be reached.")
    async def late_order_count(self, info: Info) -> Long | None:
        return Long(await self.reads.late_count.load(0))

    @field(
        description="The late orders (newest first), a page of `first` (10 by default); null when orders "
        "cannot be reached."
    )
    async def late_orders(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[OperatorOrder] | None:
        return connection(await self.reads.late_orders.load((first, after)), OperatorOrder.from_pb)


class FloorReads:
    """The floor's reads of one answer, as DataLoaders (as every other field that calls a service): the
    tiles, the late orders' count and pages of late orders (by ``first`` and ``after``)."""

    def __init__(self, context: RequestContext, now: datetime) -> None:
        backend, loaders = context.backend, context.loaders

        async def centers(keys: list[int]) -> list[list[FloorWorkCenter]]:
            tiles = await floor_centers(backend, loaders, now)
            return [tiles for _ in keys]

        async def late_count(keys: list[int]) -> list[int]:
            count = (await backend.orders.count_orders(ords.CountOrdersRequest())).late_count
            return [count for _ in keys]

        async def late_orders(keys: list[tuple[int, str | None]]) -> list[Page[ords.Order]]:
            fetch = list_fetch(backend.orders.list_orders, late_orders_request(), lambda page: page.orders)
            return list(await asyncio.gather(*(fetch_page(fetch, first, after) for first, after in keys)))

        self.centers: DataLoader[int, list[FloorWorkCenter]] = DataLoader(centers)
        self.late_count: DataLoader[int, int] = DataLoader(late_count)
        self.late_orders: DataLoader[tuple[int, str | None], Page[ords.Order]] = DataLoader(late_orders)


def late_orders_request() -> ords.ListOrdersRequest:
    return ords.ListOrdersRequest(late_only=True)


def floor_of(context: RequestContext) -> Floor:
    """The ``floor`` root: its position is read after the feed of ``floorEvents`` exists, so that a
    subscription resuming after it finds every later event buffered (the facade starts the feed with
    itself; a hub without a facade gets it here)."""
    floor_feed_of(context)
    now = context.started_at
    seq = max(context.as_of.get("PRODUCTION", 0), context.hub.latest("PRODUCTION"))
    return Floor(as_of=FloorAsOf(seq=Long(seq), at=now), now=now, reads=FloorReads(context, now))


# -- computing the tiles ---------------------------------------------------------------------------


async def _stats(backend: Backend, names: Sequence[str]) -> dict[str, prod.WorkCenterStats]:
    """The figures of the work centers ``names`` (every one when empty) per code: counts, the oldest
    queued, the bench's pieces and metal, and the operations finished in the last hour."""
    request = prod.ListWorkCenterStatsRequest(work_centers=names, window_minutes=60)
    stats = (await backend.production.list_work_center_stats(request)).stats
    return {s.work_center.removeprefix("workCenters/"): s for s in stats}


def _wip(stats: prod.WorkCenterStats | None, fineness: Mapping[str, int]) -> Wip:
    if stats is None:
        return Wip(pieces=0, gross_mg=Long(0), fine_mg=Long(0))
    return Wip(
        pieces=stats.wip_pieces,
        gross_mg=Long(sum(m.gross_mg for m in stats.wip_metal)),
        fine_mg=Long(sum(m.gross_mg * fineness.get(m.alloy_code, 0) // 1000 for m in stats.wip_metal)),
    )


def _this_shift(output: prod.WorkCenterOutput | None) -> int:
    """Finished this shift of the calendar: 0 off shift (no shift name) or without an answer."""
    return output.finished_this_shift if output is not None and output.shift_name else 0


async def floor_centers(
    backend: Backend, loaders: Loaders, now: datetime, codes: Iterable[str] | None = None
) -> list[FloorWorkCenter]:
    """The tiles of the active work centers (of ``codes`` only, when given), in code order."""
    wanted = set(codes) if codes is not None else None
    centers = sorted(
        (wc for wc in await loaders.work_centers.all() if wc.active and (wanted is None or wc.code in wanted)),
        key=lambda wc: wc.code,
    )
    if not centers:
        return []
    names = [wc.name or f"workCenters/{wc.code}" for wc in centers] if wanted is not None else []
    stats, outputs = await asyncio.gather(
        _stats(backend, names), loaders.work_center_output.load_many([wc.code for wc in centers])
    )
    alloys = sorted({m.alloy_code for s in stats.values() for m in s.wip_metal if m.alloy_code})
    fineness = {
        code: alloy.fineness
        for code, alloy in zip(alloys, await loaders.alloy.load_many(alloys), strict=True)
        if alloy is not None
    }
    output = dict(zip((wc.code for wc in centers), outputs, strict=True))
    tiles = []
    for wc in centers:
        figures = stats.get(wc.code)
        tiles.append(
            FloorWorkCenter(
                id=strawberry.ID(wc.code),
                name=wc.display_name or wc.code,
                kind=wc.work_center_type,
                state=optional_enum(WorkCenterState, wc.state),
                state_reason=wc.state_reason,
                state_time=to_datetime(wc.state_time),
                capacity=wc.capacity,
                version=Long(wc.version),
                queue=QueueSummary(
                    length=figures.queued if figures else 0,
                    oldest_queued_at=to_datetime(figures.oldest_queued_time)
                    if figures and figures.HasField("oldest_queued_time")
                    else None,
                ),
                in_progress=figures.in_progress - figures.paused if figures else 0,
                paused=figures.paused if figures else 0,
                wip=_wip(figures, fineness),
                finished_last_hour=figures.done_in_window if figures else 0,
                finished_this_shift=_this_shift(output.get(wc.code)),
                output_pb=output.get(wc.code),
            )
        )
    return tiles


# -- floorEvents -------------------------------------------------------------------------------------


@strawberry.type(description="A work center's tile changed (its state, queue, WIP or output): the whole tile.")
class WorkCenterUpdated:
    seq: Long = strawberry.field(description="PRODUCTION sequence of the last event folded into the tile.")
    work_center: FloorWorkCenter = strawberry.field(description="The work center's tile as it is now.")


@strawberry.type(description="An operation changed (queued, started, paused, resumed, finished...).")
class OperationUpdated:
    seq: Long = strawberry.field(description="PRODUCTION sequence of the event.")
    operation: Operation = strawberry.field(description="The operation as the event carries it.")


FloorEvent = Annotated[WorkCenterUpdated | OperationUpdated | ResyncRequired, strawberry.union("FloorEvent")]


@dataclass(frozen=True)
class FloorChange:
    """A PRODUCTION event about the floor: the work center it touches (``*``: every one) and the
    operation it carries, if any."""

    seq: int
    center: str
    operation: prod.Operation | None = None
    #: The production writer's position of the event (0: none): the tiles are read at it or later.
    position: int = 0


@dataclass(frozen=True)
class _Resync:
    seq: int
    reason: str


def _decode(event: EventEnvelope) -> FloorChange | None:
    """The floor change an event is, or None (not about the floor, or undecodable)."""
    try:
        if event.subject in _OPERATION_SUBJECTS:
            op = prod_ev.OperationChangedEvent.FromString(event.data).operation
            return FloorChange(event.seq, op.work_center.removeprefix("workCenters/") or _ALL, op, event.position)
        if event.subject == events.WORK_CENTER_CHANGED.subject:
            center = prod_ev.WorkCenterChangedEvent.FromString(event.data).work_center.code
            return FloorChange(event.seq, center or _ALL, position=event.position)
    except DecodeError:
        _log.warning("undecodable_event", subject=event.subject, seq=event.seq)
        return None
    if event.subject in _ALL_CENTERS_SUBJECTS:
        return FloorChange(event.seq, _ALL, position=event.position)
    return None


FloorUpdate = WorkCenterUpdated | OperationUpdated


@dataclass(frozen=True)
class _Computed:
    """The updates of one batch of changes, computed once for every subscriber: ``seq`` is the batch's last."""

    seq: int
    updates: tuple[FloorUpdate, ...]


#: What a subscriber is handed: a computed batch, a resync marker, or None (the feed closed).
_Item = _Computed | _Resync | None


class _Subscriber:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    def push(self, item: _Item) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


#: The tiles of the work centers ``codes`` (every active one when None), computed at ``now``.
TileSource = Callable[[Sequence[str] | None, datetime], Awaitable[list[FloorWorkCenter]]]


@dataclass(frozen=True)
class FloorTiles:
    """The tiles from the services, with loaders of their own for each computation (a request's
    would answer from what they loaded for an earlier batch) and the facade's work centers."""

    backend: Backend
    reference: ReferenceCache | None
    stats_window_minutes: int
    work_centers: WorkCenterDirectory | None = None

    @classmethod
    def of(cls, context: RequestContext) -> FloorTiles:
        return cls(context.backend, context.reference, context.settings.stats_window_minutes, context.work_centers)

    async def __call__(self, codes: Sequence[str] | None, now: datetime) -> list[FloorWorkCenter]:
        loaders = Loaders(
            self.backend,
            partner=None,
            reference=self.reference,
            stats_window_minutes=self.stats_window_minutes,
            work_centers=self.work_centers,
        )
        return await floor_centers(self.backend, loaders, now, codes)


async def _updates(tiles: TileSource, batch: Sequence[FloorChange], now: datetime) -> list[FloorUpdate]:
    """The updates of one batch in sequence order: its operations, then the tiles of the work centers
    they touch (each with the sequence of its last change in the batch)."""
    touched: dict[str, int] = {}
    everything = 0
    items: list[tuple[int, int, FloorUpdate]] = []
    for change in batch:
        if change.operation is not None:
            items.append(
                (change.seq, 0, OperationUpdated(seq=Long(change.seq), operation=Operation.from_pb(change.operation)))
            )
        if change.center == _ALL:
            everything = change.seq
        else:
            touched[change.center] = change.seq
    for tile in await tiles(None if everything else list(touched), now):
        seq = max(touched.get(str(tile.id), 0), everything)
        items.append((seq, 1, WorkCenterUpdated(seq=Long(seq), work_center=tile)))
    items.sort(key=lambda item: (item[0], item[1]))
    return [item for _, _, item in items]


class FloorFeed:
    """The floor changes of one event hub, and their updates computed once for every subscriber.

    Every change is kept in a buffer of the last ``replay_buffer`` (from the feed's start: the facade
    starts it with itself, so a first subscriber resuming with ``since`` finds what came before it).
    While anyone listens, one task (the pump) takes the changes in batches, the first at once and then
    at most one per ``interval_s``, computes each batch's operations and tiles once (``tiles``: the
    services' reads) and hands the same updates to every subscriber. A subscriber resuming with
    ``since`` first gets the buffered changes after it, computed for it alone (nobody else missed them).
    """

    def __init__(
        self,
        hub: EventHub,
        tiles: TileSource,
        *,
        replay_buffer: int = 1000,
        subscriber_queue: int = 1000,
        interval_s: float = COALESCE_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # The hub keeps the feed (its listeners); the feed must not keep the hub (``floor_feed``'s table).
        self._hub = weakref.proxy(hub)
        self._tiles = tiles
        self._clock = clock
        self._interval_s = interval_s
        self._buffer: deque[FloorChange] = deque(maxlen=max(1, replay_buffer))
        #: Changes at or below this sequence may be missing from the buffer (before the feed existed,
        #: evicted, or while the event source was away).
        self._horizon = hub.latest("PRODUCTION")
        self._subscribers: set[_Subscriber] = set()
        self._subscriber_queue = subscriber_queue
        #: Changes not yet computed (only while anyone listens), and the pump's wake-up.
        self._pending: list[FloorChange] = []
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        hub.add_listener(self._on_event)
        hub.add_reset_listener(self._on_reset)

    @property
    def horizon(self) -> int:
        return self._horizon

    @property
    def closed(self) -> bool:
        return self._closed

    def buffered(self, since: int) -> list[FloorChange]:
        """The kept changes after ``since``, in sequence order."""
        return [c for c in self._buffer if c.seq > since]

    def _on_event(self, event: EventEnvelope) -> None:
        if event.stream != "PRODUCTION":
            return
        change = _decode(event)
        if change is None:
            return
        if len(self._buffer) == self._buffer.maxlen:
            self._horizon = max(self._horizon, self._buffer[0].seq)
        self._buffer.append(change)
        if self._subscribers:
            self._pending.append(change)
            self._wake.set()

    def _on_reset(self, positions: Mapping[str, int] | None) -> None:
        latest = self._hub.latest("PRODUCTION")
        if positions is None:
            self._pending = []
            self._deliver(_Resync(latest, "EVENT_SOURCE_RESTARTED"))
            return
        self._horizon = max(self._horizon, positions.get("PRODUCTION", 0))

    def _deliver(self, item: _Item) -> None:
        for sub in list(self._subscribers):
            sub.push(item)

    async def _compute(self, batch: Sequence[FloorChange]) -> _Computed | _Resync:
        # read at the batch's last position or later: on a replica, the tiles show what the events say
        positions = event_positions({"PRODUCTION": max(change.position for change in batch)})
        try:
            with use_positions(positions):
                updates = await _updates(self._tiles, batch, self._clock())
        except Exception as exc:
            _log.warning("floor_update_failed", error=type(exc).__name__)
            return _Resync(batch[-1].seq, "UPDATE_FAILED")
        return _Computed(batch[-1].seq, tuple(updates))

    async def _run(self) -> None:
        flush_at = 0.0
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            wait = flush_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            # a change may come twice when the event source redelivers: once per sequence
            batch = sorted({c.seq: c for c in self._pending}.values(), key=lambda c: c.seq)
            self._pending = []
            if not batch or not self._subscribers:
                continue
            flush_at = time.monotonic() + self._interval_s
            self._deliver(await self._compute(batch))

    def _start_pump(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run(), name="floor-feed")

    def _stop_pump(self) -> None:
        self._pending = []
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None

    async def updates(self, since: int | None) -> AsyncIterator[list[FloorUpdate] | _Resync]:
        """This subscriber's updates in sequence order: with ``since``, first the buffered changes after
        it (or a resync marker when they are not all kept), then the batches computed for everyone."""
        sub = _Subscriber(self._subscriber_queue)
        self._subscribers.add(sub)
        self._start_pump()
        try:
            latest = self._hub.latest("PRODUCTION")
            last = since if since is not None else latest
            if since is not None and since < latest:
                if since < self._horizon:
                    last = latest
                    yield _Resync(latest, "EVENTS_NOT_RETAINED")
                elif missed := self.buffered(since):
                    replay = await self._compute(missed)
                    last = replay.seq
                    yield replay if isinstance(replay, _Resync) else list(replay.updates)
            while not self._closed:
                if sub.overflowed:
                    sub.overflowed = False
                    while not sub.queue.empty():
                        sub.queue.get_nowait()
                    last = self._hub.latest("PRODUCTION")
                    yield _Resync(last, "SLOW_CONSUMER")
                    continue
                item = await sub.queue.get()
                if item is None:
                    return
                if isinstance(item, _Resync):
                    if item.reason == "UPDATE_FAILED" and item.seq <= last:
                        continue  # a batch this subscriber had already (replayed for it)
                    last = item.seq
                    yield item
                    continue
                fresh = [update for update in item.updates if update.seq > last]
                last = max(last, item.seq)
                if fresh:
                    yield fresh
        finally:
            self._subscribers.discard(sub)
            if not self._subscribers:
                self._stop_pump()

    async def aclose(self) -> None:
        """Stop the pump and end every subscriber's updates."""
        self._closed = True
        pump, self._pump = self._pump, None
        self._deliver(None)
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump


_FEEDS: weakref.WeakKeyDictionary[EventHub, FloorFeed] = weakref.WeakKeyDictionary()


def floor_feed(hub: EventHub, tiles: TileSource, *, replay_buffer: int = 1000) -> FloorFeed:
    """The floor feed of ``hub``: started by the facade with itself (``graphql_facade.runtime``), else by
    the first floor answer or subscription (``tiles`` and ``replay_buffer`` serve only to start it)."""
    feed = _FEEDS.get(hub)
    if feed is None or feed.closed:
        feed = _FEEDS[hub] = FloorFeed(hub, tiles, replay_buffer=replay_buffer)
    return feed


def floor_feed_of(context: RequestContext) -> FloorFeed:
    """The feed of the request's hub (the facade's, normally)."""
    feed = _FEEDS.get(context.hub)
    if feed is not None and not feed.closed:
        return feed
    return floor_feed(context.hub, FloorTiles.of(context), replay_buffer=context.settings.event_replay_buffer)


async def floor_events(context: RequestContext, since: int | None) -> AsyncIterator[FloorUpdate | ResyncRequired]:
    """The ``floorEvents`` subscription (one subscription slot while it runs)."""
    feed = floor_feed_of(context)
    async with context.slots.hold(context.viewer):
        async for batch in feed.updates(since):
            if isinstance(batch, _Resync):
                yield ResyncRequired(seq=Long(batch.seq), reason=batch.reason)
                continue
            for update in batch:
                yield update
