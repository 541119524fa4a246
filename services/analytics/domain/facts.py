"""The facts the read model holds, as the projection merges them.

Each fact comes from an event (or from ImportFacts) and is merged so that the result does not
depend on the order the events arrive in, nor on how often: an order's times are kept at their
earliest (an order is submitted, released, shipped and cancelled once), a work order's too; an
operation is a snapshot, the one with the highest ``version`` wins, and its ready time is derived
from every transition into READY seen; custody entries, usage minutes and their parts are kept once
by their ids; alloys and calendars by their version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.analytics.domain.shifts import WorkCenterCalendar

__all__ = [
    "OPEN_AT_BENCH",
    "WIP_STATUSES",
    "AlloyGrade",
    "CustodyKind",
    "CustodyMove",
    "FactBatch",
    "OperationSnapshot",
    "OperationStatus",
    "OperationUsage",
    "OrderLine",
    "OrderRecord",
    "StreamMark",
    "UsageMinute",
    "WorkCenterCalendar",
    "WorkOrderChange",
    "custody_party",
    "imported_work_orders",
    "operation_loss",
]


class OperationStatus(StrEnum):
    """An operation's status in the analytics' words (READY: queued at its work center)."""

    PENDING = "PENDING"
    READY = "READY"
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    LOSS_REVIEW = "LOSS_REVIEW"
    REWORK = "REWORK"
    FINISHED = "FINISHED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


#: P1: the operations that are work in progress at their work center.
WIP_STATUSES = (
    OperationStatus.READY,
    OperationStatus.IN_PROGRESS,
    OperationStatus.PAUSED,
    OperationStatus.LOSS_REVIEW,
)
#: The operations that hold metal at the bench (P1 WIP metal).
OPEN_AT_BENCH = (OperationStatus.IN_PROGRESS, OperationStatus.PAUSED)


@dataclass(frozen=True)
class OrderLine:
    line_number: int
    style_code: str
    alloy_code: str
    quantity: int


@dataclass(frozen=True)
class OrderRecord:
    """What one event (or an imported fact) says about an order; None: it says nothing of that."""

    order_id: str
    partner_id: str = ""
    submit_at: datetime | None = None
    due_at: datetime | None = None
    ship_at: datetime | None = None
    cancel_at: datetime | None = None
    release_at: datetime | None = None
    #: Cancelled after a work order was released (from the cancelled event's previous status).
    cancelled_after_release: bool | None = None
    lines: tuple[OrderLine, ...] = ()
    imported: bool = False

    @property
    def pieces(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class WorkOrderChange:
    work_order_id: str
    order_id: str = ""
    release_at: datetime | None = None
    complete_at: datetime | None = None
    cancel_at: datetime | None = None
    imported: bool = False


def operation_loss(weigh_in_mg: int, weigh_out_mg: int, scrap_mg: int) -> int:
    """J1: weigh-in - weigh-out - scrap returned, never below 0 (stone setting adds weight)."""
    return max(0, weigh_in_mg - weigh_out_mg - scrap_mg)


@dataclass(frozen=True)
class OperationSnapshot:
    """An operation as one event (or an imported fact) shows it."""

    name: str
    work_order_id: str
    order_id: str
    operation_code: str
    #: The work center's code ("" while none is assigned).
    work_center: str
    alloy_code: str
    status: OperationStatus
    #: The production service's version (0: an imported fact).
    version: int
    start_at: datetime | None = None
    finish_at: datetime | None = None
    #: Where its time in progress ends: finished, paused now, cancelled (None: still in progress
    #: or never started).
    stop_at: datetime | None = None
    paused_seconds: int = 0
    weigh_in_mg: int = 0
    weigh_out_mg: int = 0
    scrap_mg: int = 0
    tolerance_per_mille: int = 0
    finished_by: str = ""
    #: Set when this change moved it into READY (at that instant), or the imported ready time.
    ready_at: datetime | None = None
    #: Its work order's release (imported facts only: events bring it with the work order).
    release_at: datetime | None = None
    imported: bool = False

    @property
    def loss_mg(self) -> int:
        return operation_loss(self.weigh_in_mg, self.weigh_out_mg, self.scrap_mg)

    @property
    def allowed_mg(self) -> int:
        """J2: the tolerance (per mille) of the weigh-in, rounded down."""
        return self.weigh_in_mg * self.tolerance_per_mille // 1000

    @property
    def excess_mg(self) -> int:
        return max(0, self.loss_mg - self.allowed_mg)

    @property
    def over_tolerance(self) -> bool:
        """The loss exceeded the tolerance (an exception; exactly at it is within)."""
        return self.loss_mg * 1000 > self.weigh_in_mg * self.tolerance_per_mille


class CustodyKind(StrEnum):
    ISSUE = "ISSUE"
    RECEIVE = "RECEIVE"
    LOSS = "LOSS"
    RECOVERY = "RECOVERY"
    RETURN = "RETURN"


#: The holder of everything in stores.
STORES = "stores"


def custody_party(kind: CustodyKind, holder: str, reference: str) -> str:
    """J4: the holder a movement counts for. A return names stores as its holder (who holds the
    material after it) and the holder it came from as its reference."""
    if kind is CustodyKind.RETURN and holder == STORES and reference:
        return reference
    return holder


@dataclass(frozen=True)
class CustodyMove:
    entry_id: str
    kind: CustodyKind
    holder: str
    party: str
    material_code: str
    weight_mg: int
    operator_code: str
    at: datetime


@dataclass(frozen=True)
class AlloyGrade:
    alloy_code: str
    fineness: int
    version: int


@dataclass(frozen=True)
class OperationUsage:
    operation: str
    requests: int
    errors: int
    latency_counts: tuple[int, ...]


@dataclass(frozen=True)
class UsageMinute:
    """One partner's API usage during one minute on one facade replica."""

    event_id: str
    partner_id: str
    instance: str
    minute_start: datetime
    requests: int
    throttled: int
    rate_limited: int
    cost_used: int
    cost_capacity: int
    errors_4xx: int
    errors_5xx: int
    latency_ms_sum: int
    latency_ms_max: int
    latency_counts: tuple[int, ...]
    latency_bounds_ms: tuple[float, ...]
    submissions: int = 0
    replays: int = 0
    key_reused: int = 0
    operations: tuple[OperationUsage, ...] = ()
    error_codes: tuple[tuple[str, int], ...] = field(default=())


@dataclass(frozen=True)
class StreamMark:
    """The stream position an event was applied from, and when it occurred."""

    stream: str
    sequence: int
    occurred_at: datetime | None


@dataclass(frozen=True)
class FactBatch:
    """The facts one event (or one ImportFacts call) brings."""

    orders: tuple[OrderRecord, ...] = ()
    work_orders: tuple[WorkOrderChange, ...] = ()
    operations: tuple[OperationSnapshot, ...] = ()
    custody: tuple[CustodyMove, ...] = ()
    alloys: tuple[AlloyGrade, ...] = ()
    calendars: tuple[WorkCenterCalendar, ...] = ()
    usage: tuple[UsageMinute, ...] = ()


_TERMINAL = (OperationStatus.FINISHED, OperationStatus.SKIPPED, OperationStatus.CANCELLED)


def imported_work_orders(
    operations: Sequence[OperationSnapshot], order_cancels: Mapping[str, datetime]
) -> tuple[WorkOrderChange, ...]:
    """The work orders imported operations tell of: released at the earliest release given; when
    every operation given is finished, skipped or cancelled, completed at the last finish (or
    cancelled with its order, else at the last time known, when one of them was cancelled)."""
    by_work_order: dict[str, list[OperationSnapshot]] = {}
    for op in operations:
        if op.work_order_id:
            by_work_order.setdefault(op.work_order_id, []).append(op)
    changes: list[WorkOrderChange] = []
    for work_order_id, ops in sorted(by_work_order.items()):
        releases = [op.release_at for op in ops if op.release_at is not None]
        if not releases:
            continue
        release = min(releases)
        order_id = ops[0].order_id
        complete = cancel = None
        if all(op.status in _TERMINAL for op in ops):
            times = [t for op in ops for t in (op.finish_at, op.start_at, op.ready_at) if t is not None]
            last = max([release, *times])
            if any(op.status is OperationStatus.CANCELLED for op in ops):
                cancel = order_cancels.get(order_id, last)
            else:
                complete = max((op.finish_at for op in ops if op.finish_at is not None), default=last)
        changes.append(WorkOrderChange(work_order_id, order_id, release, complete, cancel, imported=True))
    return tuple(changes)
