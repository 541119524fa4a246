"""Made-up histories for the analytics tests: orders, work orders, operations (with pauses, losses,
reviews and reworks), custody entries, alloys, shift calendars and partners' API usage from two
facade replicas, as raw rows, a hypothesis strategy drawing them, and the protobuf events the
services would have published for them (:func:`events_of`).

Every time is a whole second at or before :data:`NOW`; shift windows start and end on whole hours
between 06:00 and 22:00 and days start at midnight, which the clocks of :data:`ZONES` never skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from mes.common.v1 import common_pb2
from mes.facade.v1 import usage_events_pb2 as fac
from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_events_pb2 as prod
from mes.production.v1 import production_pb2
from mes_contracts import events
from mes_contracts.events import EventType

__all__ = [
    "ALLOYS",
    "BOUNDS",
    "NOW",
    "ZONES",
    "Calendar",
    "CustodyEntry",
    "History",
    "OpState",
    "Operation",
    "Order",
    "Published",
    "Usage",
    "WorkOrder",
    "events_of",
    "histories",
]

NOW = datetime(2026, 3, 31, 9, 30, tzinfo=UTC)
ZONES = ("UTC", "Europe/Rome", "America/New_York", "Asia/Kolkata")
PARTNERS = ("aurora", "northwind", "gemco")
STYLES = ("RNG-1", "PND-2", "EAR-3")
ALLOYS = ("AU750Y", "AG925", "PT950")
WORK_CENTERS = {"CAST": ("CAST-1", "CAST-2"), "FILE": ("FILE-1",), "POLISH": ("POLISH-1",)}
OPERATORS = ("OP-01", "OP-02", "OP-03")
BOUNDS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
_DAY = 86400


def _ts(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


# -- the raw rows -----------------------------------------------------------------------


@dataclass
class WorkOrder:
    work_order_id: str
    order_id: str
    release: datetime
    complete: datetime | None = None
    cancel: datetime | None = None


@dataclass
class Order:
    order_id: str
    partner: str
    submit: datetime
    due: datetime
    lines: list[tuple[str, str, int]]
    release: datetime | None = None
    ship: datetime | None = None
    cancel: datetime | None = None
    work_orders: list[WorkOrder] = field(default_factory=list)


@dataclass
class OpState:
    """An operation as one of its events shows it (``status``: the production service's name)."""

    at: datetime
    status: str
    from_status: str
    version: int
    attempt: int = 1
    start: datetime | None = None
    finish: datetime | None = None
    pause_time: datetime | None = None
    paused_seconds: int = 0
    weigh_in: int = 0
    weigh_out: int = 0
    scrap: int = 0
    finished_by: str = ""
    legacy_subject: bool = False


@dataclass
class Operation:
    name: str
    work_order_id: str
    sequence: int
    order_id: str
    code: str
    work_center: str
    alloy: str
    tolerance: int
    states: list[OpState] = field(default_factory=list)

    @property
    def final(self) -> OpState:
        return self.states[-1]


@dataclass
class Calendar:
    work_center: str
    zone: str
    #: (ISO weekday, start hour, end hour; an end at or before the start: the next day).
    windows: list[tuple[int, int, int]]
    version: int
    at: datetime


@dataclass
class CustodyEntry:
    entry_id: str
    kind: str
    holder: str
    reference: str
    material: str
    weight: int
    at: datetime


@dataclass
class Usage:
    event_id: str
    partner: str
    instance: str
    minute: datetime
    requests: int
    throttled: int
    rate_limited: int
    cost_used: int
    cost_capacity: int
    errors_4xx: int
    errors_5xx: int
    counts: list[int]
    latency_max: int
    operations: list[tuple[str, int, int, list[int]]]
    error_codes: list[tuple[str, int]]
    submissions: int
    replays: int
    key_reused: int


@dataclass
class History:
    zone: str
    orders: list[Order]
    operations: list[Operation]
    calendars: list[Calendar]
    alloys: list[tuple[str, int, int]]
    custody: list[CustodyEntry]
    usage: list[Usage]
    window: tuple[datetime, datetime, str]
    partner: str | None


# -- the strategy -------------------------------------------------------------------------


def _seconds(draw: Callable[..., Any], low: int, high: int) -> timedelta:
    """Uniform in ``low..high`` (hypothesis' own integers lean to the bounds)."""
    return timedelta(seconds=draw(st.randoms(use_true_random=True)).randint(low, high))


def _after(draw: Callable[..., Any], at: datetime, low: int, high: int) -> datetime | None:
    """A time ``low..high`` seconds after ``at``; None when it would be after NOW (not yet)."""
    later = at + _seconds(draw, low, high)
    return later if later <= NOW else None


def _count(draw: Callable[..., Any], most: int) -> int:
    return int(draw(st.randoms(use_true_random=True)).randint(0, most))


def _between(draw: Callable[..., Any], low: datetime, high: datetime) -> datetime:
    return low + _seconds(draw, 0, max(0, int((high - low).total_seconds())))


@st.composite
def _order(draw: Callable[..., Any], number: int, low: datetime, high: datetime) -> Order:
    old = draw(st.integers(0, 9)) == 0
    submit = NOW - _seconds(draw, 170 * _DAY, 200 * _DAY) if old else _between(draw, low - timedelta(days=3), high)
    due = submit + _seconds(draw, 3600, 15 * _DAY)
    lines = draw(
        st.lists(st.tuples(st.sampled_from(STYLES), st.sampled_from(ALLOYS), st.integers(1, 5)), min_size=1, max_size=3)
    )
    order = Order(f"o{number}", draw(st.sampled_from(PARTNERS)), submit, due, lines)
    fate = draw(st.sampled_from(("open", "released", "shipped", "shipped", "cancelled_before", "cancelled_after")))
    if fate == "cancelled_before":
        order.cancel = _after(draw, submit, 0, 2 * _DAY)
        return order
    if fate == "open":
        return order
    order.release = _after(draw, submit, 0, _DAY)
    if order.release is None:
        return order
    order.work_orders = [
        WorkOrder(f"wo-{order.order_id}-{i}", order.order_id, order.release) for i in range(1, len(lines) + 1)
    ]
    if fate == "shipped":
        order.ship = _after(draw, order.release, 3600, 3 * _DAY)
        for wo in order.work_orders:
            if order.ship is not None:
                wo.complete = order.release + (order.ship - order.release) * draw(st.floats(0.1, 1.0))
                wo.complete = wo.complete.replace(microsecond=0)
            else:
                wo.complete = _after(draw, order.release, 600, 6 * _DAY) if draw(st.booleans()) else None
    elif fate == "released":
        for wo in order.work_orders:
            wo.complete = _after(draw, order.release, 600, 10 * _DAY) if draw(st.booleans()) else None
    else:
        order.cancel = _after(draw, order.release, 1, 3 * _DAY)
        for wo in order.work_orders:
            if order.cancel is not None:
                wo.cancel = order.cancel
    return order


@st.composite
def _operation(draw: Callable[..., Any], number: int, low: datetime, high: datetime) -> Operation:
    code = draw(st.sampled_from(("CAST", "CAST", "CAST", "FILE", "POLISH")))
    op = Operation(
        name=f"workOrders/opwo-{number}/operations/1",
        work_order_id=f"opwo-{number}",
        sequence=1,
        order_id=f"o{number}",
        code=code,
        work_center=draw(st.sampled_from(WORK_CENTERS[code])),
        alloy=draw(st.sampled_from(ALLOYS)),
        tolerance=draw(st.sampled_from((0, 5, 20, 50))),
    )
    plan = draw(
        st.sampled_from(
            ("ready", "in_progress", "paused", "finished", "finished", "finished", "loss_review", "cancel_ready",
             "cancel_progress", "cancel_paused", "rework_ready", "rework_finished")
        )
    )  # fmt: skip
    legacy = st.integers(0, 7).map(lambda n: n == 0)
    queued = _between(draw, low - timedelta(hours=12), high - timedelta(hours=12))
    state = OpState(queued, "QUEUED", "PENDING", 1, legacy_subject=draw(legacy))

    def step(at: datetime | None, status: str, **changes: Any) -> bool:
        nonlocal state
        if at is None:
            return False
        values = {**state.__dict__, **changes}
        values.update(at=at, status=status, from_status=state.status, version=state.version + 1)
        values["legacy_subject"] = draw(legacy)
        state = OpState(**values)
        op.states.append(state)
        return True

    op.states.append(state)
    if plan == "ready":
        return op
    if plan == "cancel_ready":
        step(_after(draw, state.at, 60, _DAY), "CANCELLED")
        return op
    for attempt in (1, 2):
        weigh_in = draw(st.integers(1000, 50000))
        if not step(_after(draw, state.at, 0, 6 * 3600), "IN_PROGRESS", start=None, weigh_in=weigh_in):
            return op
        state.start = state.at
        for _ in range(draw(st.integers(0, 2)) if attempt == 1 else 0):
            if not step(_after(draw, state.at, 60, 2 * 3600), "PAUSED"):
                return op
            state.pause_time = state.at
            resumed = _after(draw, state.at, 60, 2 * 3600)
            if resumed is None:
                return op
            length = int((resumed - state.at).total_seconds())
            step(resumed, "IN_PROGRESS", pause_time=None, paused_seconds=state.paused_seconds + length)
        if plan == "in_progress":
            return op
        if plan in ("paused", "cancel_paused"):
            if not step(_after(draw, state.at, 60, 6 * 3600), "PAUSED"):
                return op
            state.pause_time = state.at
            if plan == "cancel_paused":
                cancelled = _after(draw, state.at, 60, 6 * 3600)
                if cancelled is not None:
                    length = int((cancelled - state.at).total_seconds())
                    step(cancelled, "CANCELLED", pause_time=None, paused_seconds=state.paused_seconds + length)
            return op
        if plan == "cancel_progress":
            step(_after(draw, state.at, 60, 8 * 3600), "CANCELLED")
            return op
        finished = _after(draw, state.at, 60, 4 * 3600)
        if finished is None:
            return op
        scrap = draw(st.integers(0, weigh_in // 10))
        weigh_out = draw(st.integers(max(0, weigh_in - scrap - weigh_in // 10), weigh_in - scrap))
        loss = weigh_in - weigh_out - scrap
        over = loss * 1000 > weigh_in * op.tolerance
        operator = draw(st.sampled_from(OPERATORS))
        status = "LOSS_REVIEW" if over else "DONE"
        step(finished, status, finish=finished, weigh_out=weigh_out, scrap=scrap, finished_by=operator)
        if not over or plan == "loss_review":
            return op
        if plan not in ("rework_ready", "rework_finished") or attempt == 2:
            step(_after(draw, state.at, 60, _DAY), "DONE")  # approved
            return op
        if not step(_after(draw, state.at, 60, _DAY), "REWORK"):
            return op
        fresh = {"start": None, "finish": None, "weigh_in": 0, "weigh_out": 0, "scrap": 0, "finished_by": ""}
        if not step(_after(draw, state.at, 60, _DAY), "QUEUED", attempt=2, paused_seconds=0, **fresh):
            return op
        if plan == "rework_ready":
            return op
    return op


@st.composite
def _calendar(draw: Callable[..., Any], work_center: str, version: int) -> Calendar:
    windows = []
    for weekday in sorted(draw(st.sets(st.integers(1, 7), min_size=1, max_size=7))):
        start = draw(st.integers(6, 20))
        end = draw(st.sampled_from([h for h in range(7, 23) if h > start] + [6]))
        windows.append((weekday, start, end))
    at = NOW - _seconds(draw, 60 * _DAY, 90 * _DAY) + timedelta(days=version)
    return Calendar(work_center, draw(st.sampled_from(ZONES)), windows, version, at)


@st.composite
def _usage(draw: Callable[..., Any], number: int, minute: datetime, partner: str, instance: str) -> Usage:
    counts = draw(st.lists(st.integers(0, 4), min_size=len(BOUNDS) + 1, max_size=len(BOUNDS) + 1))
    requests = sum(counts)
    throttled = draw(st.integers(0, requests))
    rate_limited = draw(st.integers(0, requests - throttled))
    errors_4xx = draw(st.integers(0, requests - throttled - rate_limited))
    errors_5xx = draw(st.integers(0, requests - throttled - rate_limited - errors_4xx))
    names = draw(st.lists(st.sampled_from(("orders", "submitOrder", "other")), unique=True, max_size=3))
    operations = []
    for name in names:
        op_counts = draw(st.lists(st.integers(0, 3), min_size=len(BOUNDS) + 1, max_size=len(BOUNDS) + 1))
        operations.append((name, sum(op_counts), draw(st.integers(0, sum(op_counts))), op_counts))
    codes = draw(st.lists(st.sampled_from(("THROTTLED", "BAD_USER_INPUT", "FORBIDDEN")), unique=True, max_size=2))
    submissions = draw(st.integers(0, 5))
    replays = draw(st.integers(0, submissions))
    return Usage(
        event_id=f"usage-{number}",
        partner=partner,
        instance=instance,
        minute=minute,
        requests=requests,
        throttled=throttled,
        rate_limited=rate_limited,
        cost_used=draw(st.integers(0, 5000)),
        cost_capacity=draw(st.sampled_from((0, 3000, 6000))),
        errors_4xx=errors_4xx,
        errors_5xx=errors_5xx,
        counts=counts,
        latency_max=draw(st.integers(0, 20000)),
        operations=operations,
        error_codes=[(code, draw(st.integers(1, 5))) for code in codes],
        submissions=submissions,
        replays=replays,
        key_reused=draw(st.integers(0, 2)),
    )


@st.composite
def _window(draw: Callable[..., Any]) -> tuple[datetime, datetime, str]:
    grain = draw(st.sampled_from(("HOUR", "DAY", "WEEK")))
    start = NOW - _seconds(draw, 0, 52 * _DAY)
    longest = {"HOUR": 390 * 3600, "DAY": 40 * _DAY, "WEEK": 12 * 7 * _DAY}[grain]
    return start, start + _seconds(draw, 1800, longest), grain


@st.composite
def histories(draw: Callable[..., Any]) -> History:
    """A history around its window: most of it in the window or a little before it."""
    window = draw(_window())
    low, high = window[0] - (window[1] - window[0]) / 5, min(window[1], NOW)
    orders = [draw(_order(i, low, high)) for i in range(_count(draw, 18))]
    operations = [draw(_operation(i, low, high)) for i in range(_count(draw, 24))]
    calendars = []
    for work_center in sorted({wc for wcs in WORK_CENTERS.values() for wc in wcs}):
        for version in range(1, draw(st.integers(0, 2)) + 1):
            calendars.append(draw(_calendar(work_center, version)))
    alloys = []
    for code, fineness in zip(ALLOYS, (750, 925, 950), strict=True):
        for version in range(1, draw(st.integers(0, 2)) + 1):
            alloys.append((code, fineness + draw(st.integers(-5, 5)) * (version - 1), version))
    holders = [f"orders/{o.order_id}" for o in orders] or ["orders/x1"]
    custody = []
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(("ISSUE", "ISSUE", "LOSS", "RETURN", "RECEIVE")))
        holder = draw(st.sampled_from(holders))
        stores = kind in ("RETURN", "RECEIVE")
        custody.append(
            CustodyEntry(
                entry_id=f"c{i}",
                kind=kind,
                holder="stores" if stores else holder,
                reference=holder if kind == "RETURN" else ("lots/l1" if kind == "RECEIVE" else f"op{i}"),
                material=draw(st.sampled_from(ALLOYS[:2])),
                weight=draw(st.integers(1, 20000)),
                at=NOW - _seconds(draw, 60, 30 * _DAY),
            )
        )
    usage = []
    for _ in range(draw(st.integers(0, 5))):
        minute = _between(draw, low, high).replace(second=0)
        partner = draw(st.sampled_from(PARTNERS))
        for instance in sorted(draw(st.sets(st.sampled_from(("replica-1", "replica-2")), min_size=1))):
            usage.append(draw(_usage(len(usage), minute, partner, instance)))
    return History(
        zone=draw(st.sampled_from(ZONES)),
        orders=orders,
        operations=operations,
        calendars=calendars,
        alloys=alloys,
        custody=custody,
        usage=usage,
        window=window,
        partner=draw(st.sampled_from((None, None, *PARTNERS))),
    )


# -- the events -------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """An event as a service's relay would have published it, and where it went."""

    event_type: EventType[Message]
    message: Message
    stream: str
    sequence: int

    @property
    def event_id(self) -> str:
        return str(self.message.meta.event_id)  # type: ignore[attr-defined]


class _Ids:
    def __init__(self) -> None:
        self.count = 0

    def meta(self, at: datetime, producer: str) -> common_pb2.EventMeta:
        self.count += 1
        return common_pb2.EventMeta(event_id=f"ev-{self.count}", occur_time=_ts(at), producer=producer)


def _order_status(name: str) -> Any:
    return orders_pb2.OrderStatus.Value(f"ORDER_STATUS_{name}")


def _order_events(order: Order, ids: _Ids) -> list[tuple[datetime, EventType[Message], Message]]:
    found: list[tuple[datetime, EventType[Message], Message]] = []

    def add(at: datetime, event_type: EventType[Message], **fields: Any) -> None:
        found.append((at, event_type, event_type.message(meta=ids.meta(at, event_type.service), **fields)))

    def changed(at: datetime, old: str, new: str) -> None:
        add(at, events.ORDER_STATUS_CHANGED, order_id=order.order_id, partner_id=order.partner,
            from_status=_order_status(old), to_status=_order_status(new))  # fmt: skip

    lines = [
        orders_pb2.OrderLine(line_number=i, style_code=s, alloy_code=a, quantity=q)
        for i, (s, a, q) in enumerate(order.lines, start=1)
    ]
    message = orders_pb2.Order(
        name=f"orders/{order.order_id}",
        order_id=order.order_id,
        partner=f"partners/{order.partner}",
        due_time=_ts(order.due),
        status=_order_status("SUBMITTED"),
        lines=lines,
        version=1,
        create_time=_ts(order.submit),
    )
    add(order.submit, events.ORDER_SUBMITTED, order=message)
    changed(order.submit, "SUBMITTED", "ACCEPTED")
    if order.release is not None:
        wos = [
            production_pb2.WorkOrder(work_order_id=wo.work_order_id, order_id=order.order_id)
            for wo in order.work_orders
        ]
        add(order.release, events.WORK_ORDERS_RELEASED, order_id=order.order_id, work_orders=wos)
        changed(order.release, "ACCEPTED", "IN_PRODUCTION")
        for wo in order.work_orders:
            if wo.complete is not None:
                message_wo = production_pb2.WorkOrder(work_order_id=wo.work_order_id, order_id=order.order_id)
                add(wo.complete, events.WORK_ORDER_COMPLETED, work_order=message_wo)
    if order.ship is not None:
        changed(order.ship, "READY_TO_SHIP", "SHIPPED")
    if order.cancel is not None:
        previous = "IN_PRODUCTION" if order.release is not None and order.release <= order.cancel else "ACCEPTED"
        add(order.cancel, events.ORDER_CANCELLED, order_id=order.order_id, partner_id=order.partner,
            previous_status=_order_status(previous))  # fmt: skip
        changed(order.cancel, previous, "CANCELLED")
        cancelled = [
            production_pb2.WorkOrder(work_order_id=wo.work_order_id, order_id=order.order_id)
            for wo in order.work_orders
            if wo.cancel is not None
        ]
        if cancelled:
            add(order.cancel, events.WORK_ORDERS_CANCELLED, order_id=order.order_id, work_orders=cancelled)
    return found


_OP_SUBJECTS = {
    "QUEUED": events.OPERATION_QUEUED,
    "IN_PROGRESS": events.OPERATION_STARTED,
    "PAUSED": events.OPERATION_PAUSED,
    "DONE": events.OPERATION_FINISHED,
    "LOSS_REVIEW": events.OPERATION_IN_LOSS_REVIEW,
    "REWORK": events.OPERATION_REWORKED,
    "CANCELLED": events.OPERATION_CANCELLED,
}


def _operation_events(op: Operation, ids: _Ids) -> list[tuple[datetime, EventType[Message], Message]]:
    found: list[tuple[datetime, EventType[Message], Message]] = []
    for state in op.states:
        snapshot = production_pb2.Operation(
            name=op.name,
            work_order_id=op.work_order_id,
            sequence=op.sequence,
            operation_code=op.code,
            work_center=f"workCenters/{op.work_center}",
            status=production_pb2.OperationStatus.Value(f"OPERATION_STATUS_{state.status}"),
            weigh_in_mg=state.weigh_in,
            weigh_out_mg=state.weigh_out,
            scrap_returned_mg=state.scrap,
            loss_mg=max(0, state.weigh_in - state.weigh_out - state.scrap) if state.finish else 0,
            loss_tolerance_per_mille=op.tolerance,
            finished_by=state.finished_by,
            attempt=state.attempt,
            alloy_code=op.alloy,
            order_id=op.order_id,
            version=state.version,
            paused_seconds=state.paused_seconds,
        )
        for name, value in (
            ("start_time", state.start),
            ("finish_time", state.finish),
            ("pause_time", state.pause_time),
        ):
            if value is not None:
                getattr(snapshot, name).CopyFrom(_ts(value))
        if state.legacy_subject:
            event_type = events.OPERATION_CHANGED
        elif state.status == "IN_PROGRESS" and state.from_status == "PAUSED":
            event_type = events.OPERATION_RESUMED
        else:
            event_type = _OP_SUBJECTS[state.status]
        from_status = production_pb2.OperationStatus.Value(f"OPERATION_STATUS_{state.from_status}")
        message = event_type.message(meta=ids.meta(state.at, "production"), operation=snapshot, from_status=from_status)
        found.append((state.at, event_type, message))
    return found


def _usage_event(u: Usage, ids: _Ids) -> tuple[datetime, EventType[Message], Message]:
    meta = ids.meta(u.minute + timedelta(seconds=61), "facade")
    meta.event_id = u.event_id
    message = fac.PartnerUsageRecordedEvent(
        meta=meta,
        partner_id=u.partner,
        tier="STANDARD",
        minute_start=_ts(u.minute),
        instance=u.instance,
        requests=u.requests,
        throttled=u.throttled,
        rate_limited=u.rate_limited,
        cost_used=u.cost_used,
        cost_capacity=u.cost_capacity,
        errors_4xx=u.errors_4xx,
        errors_5xx=u.errors_5xx,
        latency_ms_sum=0,
        latency_ms_max=u.latency_max,
        latency_bucket_counts=u.counts,
        latency_bucket_bounds_ms=BOUNDS,
        operations=[
            fac.OperationUsage(operation=name, requests=r, errors=e, latency_bucket_counts=c)
            for name, r, e, c in u.operations
        ],
        error_codes=[fac.ErrorCodeCount(code=code, count=n) for code, n in u.error_codes],
        submissions=u.submissions,
        replays=u.replays,
        key_reused=u.key_reused,
    )
    return u.minute, events.PARTNER_USAGE_RECORDED, message


_CUSTODY_KINDS = {
    name: inventory_pb2.CustodyKind.Value(f"CUSTODY_KIND_{name}") for name in ("ISSUE", "LOSS", "RETURN", "RECEIVE")
}


def events_of(history: History) -> list[Published]:
    """Every event of the history with its stream sequence (each stream in time order)."""
    ids = _Ids()
    timed: list[tuple[datetime, EventType[Message], Message]] = []
    for order in history.orders:
        timed.extend(_order_events(order, ids))
    for op in history.operations:
        timed.extend(_operation_events(op, ids))
    for cal in history.calendars:
        calendar = production_pb2.ShiftCalendar(
            name=f"workCenters/{cal.work_center}/calendar",
            time_zone=cal.zone,
            windows=[
                production_pb2.ShiftWindow(weekday=d, start=f"{s:02d}:00", end=f"{e:02d}:00", name=f"s{d}")
                for d, s, e in cal.windows
            ],
            version=cal.version,
        )
        timed.append(
            (
                cal.at,
                events.CALENDAR_CHANGED,
                prod.ShiftCalendarChangedEvent(meta=ids.meta(cal.at, "production"), calendar=calendar),
            )
        )
    for code, fineness, version in history.alloys:
        at = NOW - timedelta(days=200 - version)
        alloy = inventory_pb2.Alloy(name=f"alloys/{code}", code=code, fineness=fineness, version=version)
        timed.append((at, events.ALLOY_UPSERTED, inv.AlloyUpsertedEvent(meta=ids.meta(at, "inventory"), alloy=alloy)))
    for entry in history.custody:
        message = inventory_pb2.CustodyEntry(
            name=f"custodyEntries/{entry.entry_id}",
            entry_id=entry.entry_id,
            kind=_CUSTODY_KINDS[entry.kind],
            holder=entry.holder,
            material_code=entry.material,
            weight_mg=entry.weight,
            reference=entry.reference,
            create_time=_ts(entry.at),
        )
        timed.append(
            (
                entry.at,
                events.CUSTODY_RECORDED,
                inv.CustodyRecordedEvent(meta=ids.meta(entry.at, "inventory"), entry=message),
            )
        )
    timed.extend(_usage_event(u, ids) for u in history.usage)
    timed.sort(key=lambda item: item[0])
    sequences: dict[str, int] = {}
    published = []
    for _at, event_type, message in timed:
        stream = event_type.stream.name
        sequences[stream] = sequences.get(stream, 0) + 1
        published.append(Published(event_type, message, stream, sequences[stream]))
    return published
