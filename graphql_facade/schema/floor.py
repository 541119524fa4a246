"""The floor: one tile per work center (state, queue, WIP, output), the late orders, and the
``floorEvents`` subscription that keeps a Floor page live.

Everything is read from the services' existing RPCs, one list call per kind for the whole floor
(never one per work center): ``ListWorkCenters``; ``ListWorkCenterStats`` (the last hour);
``ListWorkCenterOutput`` (this hour and this shift of each calendar, by the request's loaders);
``ListOperations`` for the operations at the benches (IN_PROGRESS and PAUSED) and for the queued ones,
followed page by page; their work orders (``BatchGetWorkOrders``), the work orders' operations
(``ListOperations`` by work-order ids, for the time an operation was queued) and the alloys
(``BatchGetAlloys``, through the reference cache) by the request's loaders;
``CountOrders`` and ``ListOrders(late_only)`` for the late orders.

* **WIP** of a work center: its operations in progress and paused. Pieces are their work orders'
  quantities; gross metal is their weigh-ins; fine metal is ``weigh-in x fineness // 1000`` per
  operation (an alloy missing from the catalogue counts no fine metal).
* **Queued at**: the production service keeps no queue time, so an operation counts as queued
  since the latest of its work order's release (create time), the finish of its earlier steps and
  its own last finish (a reworked operation is queued again after it).
* **This shift**: the shift of the work center's own calendar (its time zone, its windows): the tile's
  ``output`` (shift name, this hour and this shift against the calendar's pro-rata target,
  utilisation) and ``finishedThisShift`` (0 off shift or without a calendar).

``floorEvents`` replays and pushes the PRODUCTION events about work centers and operations
(:class:`FloorFeed`: one per event hub, fed by its listener, keeping the last
``MES_FACADE_EVENT_REPLAY_BUFFER`` of them): each operation change as ``OperationUpdated``, and each
work center they touch as ``WorkCenterUpdated`` with its tile recomputed from the services, at most
every 250 ms (4 per second), in sequence order. A ``since`` older than the buffer reaches, a
subscriber too slow to keep up, or an event source that went offline yields ``ResyncRequired``.
"""

from __future__ import annotations

import asyncio
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

from graphql_facade.backend import Backend
from graphql_facade.context import RequestContext
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.loaders import Loaders, list_all
from graphql_facade.pagination import Page, fetch_page
from graphql_facade.schema.common import Long, optional_enum, to_datetime
from graphql_facade.schema.connections import Connection, connection, list_fetch
from graphql_facade.schema.info import Info, field
from graphql_facade.schema.live import ResyncRequired
from graphql_facade.schema.orders import OperatorOrder
from graphql_facade.schema.production import AT_BENCH, Operation, WorkCenterState
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
    "FloorWorkCenter",
    "OperationUpdated",
    "QueueSummary",
    "Wip",
    "WorkCenterUpdated",
    "floor_centers",
    "floor_events",
    "floor_feed",
    "floor_of",
    "late_orders_request",
]

_log = get_logger("mes.facade.floor")
#: A work center's tile is pushed at most once per this many seconds (4 per second).
COALESCE_S = 0.25
_PAGE = 100
_QUEUED: tuple[prod.OperationStatus.ValueType, ...] = (prod.OPERATION_STATUS_QUEUED,)
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
    subscription resuming after it finds every later event buffered."""
    floor_feed(context.hub, context.settings.event_replay_buffer)
    now = context.started_at
    seq = max(context.as_of.get("PRODUCTION", 0), context.hub.latest("PRODUCTION"))
    return Floor(as_of=FloorAsOf(seq=Long(seq), at=now), now=now, reads=FloorReads(context, now))


# -- computing the tiles ---------------------------------------------------------------------------


async def _operations(
    backend: Backend, statuses: Sequence[prod.OperationStatus.ValueType], center: str | None
) -> list[prod.Operation]:
    """Every operation of ``statuses`` (at one work center, or all), page by page."""

    def fetch(token: str) -> Awaitable[prod.ListOperationsResponse]:
        request = prod.ListOperationsRequest(
            statuses=statuses,
            work_center=f"workCenters/{center}" if center else "",
            page_size=_PAGE,
            page_token=token,
        )
        return backend.production.list_operations(request)

    return await list_all(fetch, lambda response: response.operations)


async def _done(backend: Backend, names: Sequence[str], minutes: int) -> dict[str, int]:
    """Operations finished in the last ``minutes`` per work-center code."""
    request = prod.ListWorkCenterStatsRequest(work_centers=names, window_minutes=minutes)
    stats = (await backend.production.list_work_center_stats(request)).stats
    return {s.work_center.removeprefix("workCenters/"): s.done_in_window for s in stats}


def _queued_at(
    op: prod.Operation, steps: Sequence[prod.Operation], work_order: prod.WorkOrder | None
) -> datetime | None:
    times = [to_datetime(step.finish_time) for step in steps if step.sequence < op.sequence]
    times.append(to_datetime(op.finish_time))
    if work_order is not None:
        times.append(to_datetime(work_order.create_time))
    return max((t for t in times if t is not None), default=None)


async def _oldest_queued(loaders: Loaders, queued: Sequence[prod.Operation]) -> dict[str, datetime]:
    """Per work-center code, since when its longest-waiting operation is queued."""
    ids = list(dict.fromkeys(op.work_order_id for op in queued))
    steps, work_orders = await asyncio.gather(
        loaders.operations.load_many([(i, ()) for i in ids]), loaders.work_order.load_many(ids)
    )
    by_id = dict(zip(ids, zip(steps, work_orders, strict=True), strict=True))
    oldest: dict[str, datetime] = {}
    for op in queued:
        siblings, work_order = by_id[op.work_order_id]
        at = _queued_at(op, siblings, work_order)
        code = op.work_center.removeprefix("workCenters/")
        if at is not None and (code not in oldest or at < oldest[code]):
            oldest[code] = at
    return oldest


async def _wip(loaders: Loaders, at_bench: Sequence[prod.Operation]) -> dict[str, Wip]:
    ids = list(dict.fromkeys(op.work_order_id for op in at_bench))
    codes = list(dict.fromkeys(op.alloy_code for op in at_bench if op.alloy_code))
    work_orders, alloys = await asyncio.gather(loaders.work_order.load_many(ids), loaders.alloy.load_many(codes))
    quantity = {i: wo.quantity for i, wo in zip(ids, work_orders, strict=True) if wo is not None}
    fineness = {c: alloy.fineness for c, alloy in zip(codes, alloys, strict=True) if alloy is not None}
    wip: dict[str, Wip] = {}
    for op in at_bench:
        code = op.work_center.removeprefix("workCenters/")
        held = wip.setdefault(code, Wip(pieces=0, gross_mg=Long(0), fine_mg=Long(0)))
        held.pieces += quantity.get(op.work_order_id, 0)
        held.gross_mg = Long(held.gross_mg + op.weigh_in_mg)
        held.fine_mg = Long(held.fine_mg + op.weigh_in_mg * fineness.get(op.alloy_code, 0) // 1000)
    return wip


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
    one = centers[0].code if wanted is not None and len(centers) == 1 else None
    names = [wc.name or f"workCenters/{wc.code}" for wc in centers] if wanted is not None else []
    last_hour, outputs, at_bench, queued = await asyncio.gather(
        _done(backend, names, 60),
        loaders.work_center_output.load_many([wc.code for wc in centers]),
        _operations(backend, AT_BENCH, one),
        _operations(backend, _QUEUED, one),
    )
    oldest, wip = await asyncio.gather(_oldest_queued(loaders, queued), _wip(loaders, at_bench))
    output = dict(zip((wc.code for wc in centers), outputs, strict=True))
    counts: dict[tuple[str, int], int] = {}
    for op in (*at_bench, *queued):
        key = (op.work_center.removeprefix("workCenters/"), op.status)
        counts[key] = counts.get(key, 0) + 1
    return [
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
                length=counts.get((wc.code, prod.OPERATION_STATUS_QUEUED), 0), oldest_queued_at=oldest.get(wc.code)
            ),
            in_progress=counts.get((wc.code, prod.OPERATION_STATUS_IN_PROGRESS), 0),
            paused=counts.get((wc.code, prod.OPERATION_STATUS_PAUSED), 0),
            wip=wip.get(wc.code) or Wip(pieces=0, gross_mg=Long(0), fine_mg=Long(0)),
            finished_last_hour=last_hour.get(wc.code, 0),
            finished_this_shift=_this_shift(output.get(wc.code)),
            output_pb=output.get(wc.code),
        )
        for wc in centers
    ]


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


@dataclass(frozen=True)
class _Resync:
    seq: int
    reason: str


def _decode(event: EventEnvelope) -> FloorChange | None:
    """The floor change an event is, or None (not about the floor, or undecodable)."""
    try:
        if event.subject in _OPERATION_SUBJECTS:
            op = prod_ev.OperationChangedEvent.FromString(event.data).operation
            return FloorChange(event.seq, op.work_center.removeprefix("workCenters/") or _ALL, op)
        if event.subject == events.WORK_CENTER_CHANGED.subject:
            center = prod_ev.WorkCenterChangedEvent.FromString(event.data).work_center.code
            return FloorChange(event.seq, center or _ALL)
    except DecodeError:
        _log.warning("undecodable_event", subject=event.subject, seq=event.seq)
        return None
    if event.subject in _ALL_CENTERS_SUBJECTS:
        return FloorChange(event.seq, _ALL)
    return None


class _Subscriber:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[FloorChange | _Resync] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    def push(self, item: FloorChange | _Resync) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class FloorFeed:
    """The floor changes of one event hub: the last ``replay_buffer`` kept for ``since``, every new
    one handed to the subscribers."""

    def __init__(self, hub: EventHub, *, replay_buffer: int = 1000, subscriber_queue: int = 1000) -> None:
        # The hub keeps the feed (its listeners); the feed must not keep the hub (``floor_feed``'s table).
        self._hub = weakref.proxy(hub)
        self._buffer: deque[FloorChange] = deque(maxlen=max(1, replay_buffer))
        #: Changes at or below this sequence may be missing from the buffer (before the feed existed,
        #: evicted, or while the event source was away).
        self._horizon = hub.latest("PRODUCTION")
        self._subscribers: set[_Subscriber] = set()
        self._subscriber_queue = subscriber_queue
        hub.add_listener(self._on_event)
        hub.add_reset_listener(self._on_reset)

    @property
    def horizon(self) -> int:
        return self._horizon

    def _on_event(self, event: EventEnvelope) -> None:
        if event.stream != "PRODUCTION":
            return
        change = _decode(event)
        if change is None:
            return
        if len(self._buffer) == self._buffer.maxlen:
            self._horizon = max(self._horizon, self._buffer[0].seq)
        self._buffer.append(change)
        for sub in list(self._subscribers):
            sub.push(change)

    def _on_reset(self, positions: Mapping[str, int] | None) -> None:
        latest = self._hub.latest("PRODUCTION")
        if positions is None:
            for sub in list(self._subscribers):
                sub.push(_Resync(latest, "EVENT_SOURCE_RESTARTED"))
            return
        self._horizon = max(self._horizon, positions.get("PRODUCTION", 0))

    async def changes(
        self, since: int | None, *, interval_s: float = COALESCE_S
    ) -> AsyncIterator[list[FloorChange] | _Resync]:
        """Batches of changes in sequence order, a batch at most every ``interval_s`` (the first at once);
        with ``since``, first the buffered ones after it, or a resync marker when they are not all kept."""
        sub = _Subscriber(self._subscriber_queue)
        self._subscribers.add(sub)
        try:
            latest = self._hub.latest("PRODUCTION")
            last = since if since is not None else latest
            pending: list[FloorChange] = []
            if since is not None and since < latest:
                if since < self._horizon:
                    last = latest
                    yield _Resync(latest, "EVENTS_NOT_RETAINED")
                else:
                    pending = [c for c in self._buffer if c.seq > since]
            flush_at = 0.0
            while True:
                if sub.overflowed:
                    sub.overflowed = False
                    while not sub.queue.empty():
                        sub.queue.get_nowait()
                    pending = []
                    last = self._hub.latest("PRODUCTION")
                    yield _Resync(last, "SLOW_CONSUMER")
                    continue
                wait = flush_at - time.monotonic() if pending else None
                if pending and wait is not None and wait <= 0:
                    # a change may be both buffered and queued when it came while this subscriber started
                    batch = sorted({c.seq: c for c in pending if c.seq > last}.values(), key=lambda c: c.seq)
                    pending = []
                    if batch:
                        last = batch[-1].seq
                        flush_at = time.monotonic() + interval_s
                        yield batch
                    continue
                try:
                    async with asyncio.timeout(wait):
                        item = await sub.queue.get()
                except TimeoutError:
                    continue
                if isinstance(item, _Resync):
                    pending = []
                    last = item.seq
                    yield item
                    continue
                pending.append(item)
        finally:
            self._subscribers.discard(sub)


_FEEDS: weakref.WeakKeyDictionary[EventHub, FloorFeed] = weakref.WeakKeyDictionary()


def floor_feed(hub: EventHub, replay_buffer: int = 1000) -> FloorFeed:
    """The floor feed of ``hub``, started by the first floor answer or subscription."""
    feed = _FEEDS.get(hub)
    if feed is None:
        feed = _FEEDS[hub] = FloorFeed(hub, replay_buffer=replay_buffer)
    return feed


async def _updates(
    context: RequestContext, batch: Sequence[FloorChange], now: datetime
) -> list[WorkCenterUpdated | OperationUpdated]:
    """The events of one batch in sequence order: its operations, then the tiles of the work centers
    they touch (each with the sequence of its last change in the batch)."""
    touched: dict[str, int] = {}
    everything = 0
    items: list[tuple[int, int, WorkCenterUpdated | OperationUpdated]] = []
    for change in batch:
        if change.operation is not None:
            items.append(
                (change.seq, 0, OperationUpdated(seq=Long(change.seq), operation=Operation.from_pb(change.operation)))
            )
        if change.center == _ALL:
            everything = change.seq
        else:
            touched[change.center] = change.seq
    # Fresh loaders: the connection's own would answer from what they loaded for an earlier batch.
    loaders = Loaders(
        context.backend,
        partner=None,
        reference=context.reference,
        stats_window_minutes=context.settings.stats_window_minutes,
    )
    codes = None if everything else list(touched)
    for tile in await floor_centers(context.backend, loaders, now, codes):
        seq = max(touched.get(str(tile.id), 0), everything)
        items.append((seq, 1, WorkCenterUpdated(seq=Long(seq), work_center=tile)))
    items.sort(key=lambda item: (item[0], item[1]))
    return [item for _, _, item in items]


async def floor_events(
    context: RequestContext, since: int | None, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> AsyncIterator[WorkCenterUpdated | OperationUpdated | ResyncRequired]:
    """The ``floorEvents`` subscription (one subscription slot while it runs)."""
    feed = floor_feed(context.hub, context.settings.event_replay_buffer)
    async with context.slots.hold(context.viewer):
        async for batch in feed.changes(since):
            if isinstance(batch, _Resync):
                yield ResyncRequired(seq=Long(batch.seq), reason=batch.reason)
                continue
            try:
                updates = await _updates(context, batch, clock())
            except Exception as exc:
                _log.warning("floor_update_failed", error=type(exc).__name__)
                yield ResyncRequired(seq=Long(batch[-1].seq), reason="UPDATE_FAILED")
                continue
            for update in updates:
                yield update
