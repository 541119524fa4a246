"""Consumed events -> the facts the projection merges (one :class:`FactBatch` per event).

An event's time is its ``meta.occur_time`` (when the change was committed); ``received`` stands in
for an event without one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mes.analytics.v1 import analytics_pb2
from mes.common.v1 import common_pb2
from mes.facade.v1 import usage_events_pb2 as fac
from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_events_pb2 as ords
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_events_pb2 as prod
from mes.production.v1 import production_pb2
from services.analytics.domain.facts import (
    AlloyGrade,
    CustodyKind,
    CustodyMove,
    FactBatch,
    OperationSnapshot,
    OperationStatus,
    OperationUsage,
    OrderLine,
    OrderRecord,
    StreamMark,
    UsageMinute,
    WorkOrderChange,
    custody_party,
)
from services.analytics.domain.shifts import ShiftWindow, WorkCenterCalendar, parse_clock

__all__ = [
    "alloy_upserted",
    "calendar_changed",
    "custody_recorded",
    "mark",
    "operation_changed",
    "operation_snapshot",
    "operation_status",
    "order_cancelled",
    "order_status_changed",
    "order_submitted",
    "stamp",
    "usage_recorded",
    "work_center_code",
    "work_order_completed",
    "work_orders_cancelled",
    "work_orders_released",
]

_PS = production_pb2.OperationStatus
_STATUSES: dict[int, OperationStatus] = {
    _PS.Value("OPERATION_STATUS_PENDING"): OperationStatus.PENDING,
    _PS.Value("OPERATION_STATUS_QUEUED"): OperationStatus.READY,
    _PS.Value("OPERATION_STATUS_IN_PROGRESS"): OperationStatus.IN_PROGRESS,
    _PS.Value("OPERATION_STATUS_PAUSED"): OperationStatus.PAUSED,
    _PS.Value("OPERATION_STATUS_LOSS_REVIEW"): OperationStatus.LOSS_REVIEW,
    _PS.Value("OPERATION_STATUS_REWORK"): OperationStatus.REWORK,
    _PS.Value("OPERATION_STATUS_DONE"): OperationStatus.FINISHED,
    _PS.Value("OPERATION_STATUS_SKIPPED"): OperationStatus.SKIPPED,
    _PS.Value("OPERATION_STATUS_CANCELLED"): OperationStatus.CANCELLED,
}
#: An order cancelled from these had a work order released.
_RELEASED = frozenset({orders_pb2.ORDER_STATUS_IN_PRODUCTION, orders_pb2.ORDER_STATUS_READY_TO_SHIP})
_KINDS = {
    inventory_pb2.CUSTODY_KIND_ISSUE: CustodyKind.ISSUE,
    inventory_pb2.CUSTODY_KIND_RECEIVE: CustodyKind.RECEIVE,
    inventory_pb2.CUSTODY_KIND_LOSS: CustodyKind.LOSS,
    inventory_pb2.CUSTODY_KIND_RECOVERY: CustodyKind.RECOVERY,
    inventory_pb2.CUSTODY_KIND_RETURN: CustodyKind.RETURN,
}

#: The counters of a usage minute: the event's fields of the same names, copied as they are.
_USAGE_COUNTS = (
    "requests",
    "throttled",
    "rate_limited",
    "cost_used",
    "cost_capacity",
    "errors_4xx",
    "errors_5xx",
    "latency_ms_sum",
    "latency_ms_max",
    "submissions",
    "replays",
    "key_reused",
)


def stamp(value: Timestamp, present: bool) -> datetime | None:
    """A set timestamp as an aware UTC datetime; None when unset."""
    return value.ToDatetime(tzinfo=UTC) if present else None


def _occurred(meta: common_pb2.EventMeta, received: datetime) -> datetime:
    return meta.occur_time.ToDatetime(tzinfo=UTC) if meta.HasField("occur_time") else received


def mark(stream: str, sequence: int, meta: common_pb2.EventMeta) -> StreamMark:
    return StreamMark(stream, sequence, stamp(meta.occur_time, meta.HasField("occur_time")))


def work_center_code(name: str) -> str:
    """``workCenters/CAST-1`` (or ``CAST-1``) -> ``CAST-1``."""
    return name.removeprefix("workCenters/")


def operation_status(value: int) -> OperationStatus | None:
    return _STATUSES.get(int(value))


def operation_snapshot(
    op: production_pb2.Operation | analytics_pb2.OperationFact,
    *,
    work_order_id: str,
    status: OperationStatus,
    version: int,
    stop_at: datetime | None,
    ready_at: datetime | None,
    release_at: datetime | None = None,
    imported: bool = False,
) -> OperationSnapshot:
    """The snapshot of an operation from what an operation event and an imported fact both carry (the
    same fields by name), with the rest given: those two differ in where they take it from."""
    return OperationSnapshot(
        name=op.name,
        work_order_id=work_order_id,
        order_id=op.order_id,
        operation_code=op.operation_code,
        work_center=work_center_code(op.work_center),
        alloy_code=op.alloy_code,
        status=status,
        version=version,
        start_at=stamp(op.start_time, op.HasField("start_time")),
        finish_at=stamp(op.finish_time, op.HasField("finish_time")),
        stop_at=stop_at,
        paused_seconds=op.paused_seconds,
        weigh_in_mg=op.weigh_in_mg,
        weigh_out_mg=op.weigh_out_mg,
        scrap_mg=op.scrap_returned_mg,
        tolerance_per_mille=op.loss_tolerance_per_mille,
        finished_by=op.finished_by,
        ready_at=ready_at,
        release_at=release_at,
        imported=imported,
    )


# -- orders ---------------------------------------------------------------------------


def order_submitted(event: ords.OrderSubmittedEvent, received: datetime) -> FactBatch:
    order = event.order
    submitted = stamp(order.create_time, order.HasField("create_time")) or _occurred(event.meta, received)
    lines = tuple(
        OrderLine(line.line_number or i, line.style_code, line.alloy_code, line.quantity)
        for i, line in enumerate(order.lines, start=1)
    )
    record = OrderRecord(
        order_id=order.order_id,
        partner_id=order.partner.removeprefix("partners/"),
        submit_at=submitted,
        due_at=stamp(order.due_time, order.HasField("due_time")),
        lines=lines,
    )
    return FactBatch(orders=(record,))


def order_status_changed(event: ords.OrderStatusChangedEvent, received: datetime) -> FactBatch:
    at = _occurred(event.meta, received)
    partner = event.partner_id.removeprefix("partners/")
    if event.to_status == orders_pb2.ORDER_STATUS_SHIPPED:
        return FactBatch(orders=(OrderRecord(event.order_id, partner, ship_at=at),))
    if event.to_status == orders_pb2.ORDER_STATUS_CANCELLED:
        return FactBatch(orders=(OrderRecord(event.order_id, partner, cancel_at=at),))
    return FactBatch()


def order_cancelled(event: ords.OrderCancelledEvent, received: datetime) -> FactBatch:
    record = OrderRecord(
        event.order_id,
        event.partner_id.removeprefix("partners/"),
        cancel_at=_occurred(event.meta, received),
        cancelled_after_release=event.previous_status in _RELEASED,
    )
    return FactBatch(orders=(record,))


# -- production -----------------------------------------------------------------------


def work_orders_released(event: prod.WorkOrdersReleasedEvent, received: datetime) -> FactBatch:
    at = _occurred(event.meta, received)
    return FactBatch(
        orders=(OrderRecord(event.order_id, release_at=at),),
        work_orders=tuple(WorkOrderChange(wo.work_order_id, event.order_id, release_at=at) for wo in event.work_orders),
    )


def work_order_completed(event: prod.WorkOrderCompletedEvent, received: datetime) -> FactBatch:
    wo = event.work_order
    change = WorkOrderChange(wo.work_order_id, wo.order_id, complete_at=_occurred(event.meta, received))
    return FactBatch(work_orders=(change,))


def work_orders_cancelled(event: prod.WorkOrdersCancelledEvent, received: datetime) -> FactBatch:
    at = _occurred(event.meta, received)
    return FactBatch(
        work_orders=tuple(WorkOrderChange(wo.work_order_id, event.order_id, cancel_at=at) for wo in event.work_orders)
    )


def operation_changed(event: prod.OperationChangedEvent, received: datetime) -> FactBatch:
    op = event.operation
    status = operation_status(op.status)
    if status is None or not op.name:
        return FactBatch()
    at = _occurred(event.meta, received)
    start = stamp(op.start_time, op.HasField("start_time"))
    stop = stamp(op.finish_time, op.HasField("finish_time"))
    if stop is None and status is OperationStatus.PAUSED:
        stop = stamp(op.pause_time, op.HasField("pause_time")) or at
    elif stop is None and status is OperationStatus.CANCELLED and start is not None:
        stop = at
    entered_ready = status is OperationStatus.READY and operation_status(event.from_status) is not OperationStatus.READY
    snapshot = operation_snapshot(
        op,
        work_order_id=op.work_order_id,
        status=status,
        version=max(1, op.version),
        stop_at=stop,
        ready_at=at if entered_ready else None,
    )
    return FactBatch(operations=(snapshot,))


def calendar_changed(event: prod.ShiftCalendarChangedEvent, received: datetime) -> FactBatch:
    calendar = event.calendar
    code = calendar.name.removeprefix("workCenters/").removesuffix("/calendar")
    windows = []
    for window in calendar.windows:
        start, end = parse_clock(window.start), parse_clock(window.end)
        if start is not None and end is not None and 1 <= window.weekday <= 7:
            windows.append(ShiftWindow(window.weekday, start, end))
    if not code:
        return FactBatch()
    return FactBatch(calendars=(WorkCenterCalendar(code, calendar.time_zone, tuple(windows), calendar.version),))


# -- inventory ------------------------------------------------------------------------


def custody_recorded(event: inv.CustodyRecordedEvent, received: datetime) -> FactBatch:
    entry = event.entry
    kind = _KINDS.get(entry.kind)
    if kind is None or not entry.entry_id:
        return FactBatch()
    move = CustodyMove(
        entry_id=entry.entry_id,
        kind=kind,
        holder=entry.holder,
        party=custody_party(kind, entry.holder, entry.reference),
        material_code=entry.material_code,
        weight_mg=entry.weight_mg,
        operator_code=entry.operator_code,
        at=stamp(entry.create_time, entry.HasField("create_time")) or _occurred(event.meta, received),
    )
    return FactBatch(custody=(move,))


def alloy_upserted(event: inv.AlloyUpsertedEvent, received: datetime) -> FactBatch:
    alloy = event.alloy
    if not alloy.code:
        return FactBatch()
    return FactBatch(alloys=(AlloyGrade(alloy.code, alloy.fineness, alloy.version),))


# -- facade ---------------------------------------------------------------------------


def usage_recorded(event: fac.PartnerUsageRecordedEvent, received: datetime) -> FactBatch:
    minute = UsageMinute(
        event_id=event.meta.event_id,
        partner_id=event.partner_id.removeprefix("partners/"),
        instance=event.instance,
        minute_start=stamp(event.minute_start, event.HasField("minute_start")) or _occurred(event.meta, received),
        latency_counts=tuple(event.latency_bucket_counts),
        latency_bounds_ms=tuple(event.latency_bucket_bounds_ms),
        **{name: getattr(event, name) for name in _USAGE_COUNTS},
        operations=tuple(
            OperationUsage(op.operation or "other", op.requests, op.errors, tuple(op.latency_bucket_counts))
            for op in event.operations
        ),
        error_codes=tuple((e.code, e.count) for e in event.error_codes if e.code),
    )
    return FactBatch(usage=(minute,))
