"""Work orders ("job bags"): one per order line, with an immutable routing snapshot.

PLANNED -> RELEASED -> IN_PROGRESS <-> HELD -> COMPLETED -> CLOSED (metal reconciled);
PLANNED/RELEASED/IN_PROGRESS/HELD -> CANCELLED, and COMPLETED -> CANCELLED when the order is
cancelled before the work order was closed (its metal goes back to stores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from mes_kernel.errors import FailedPrecondition
from services.production.domain.bom import LineSpec
from services.production.domain.operations import AttemptRecord, Operation, OperationStatus
from services.production.domain.resources import WorkCenterPicker
from services.production.domain.styles import RoutingStep, Style, step_runs

__all__ = [
    "MetalBalance",
    "WorkOrder",
    "WorkOrderStatus",
    "next_operation",
    "plan_work_order",
    "reconcile",
]


class WorkOrderStatus(StrEnum):
    PLANNED = "PLANNED"
    RELEASED = "RELEASED"
    IN_PROGRESS = "IN_PROGRESS"
    HELD = "HELD"
    COMPLETED = "COMPLETED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


_W = WorkOrderStatus
TRANSITIONS: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    _W.PLANNED: frozenset({_W.RELEASED, _W.CANCELLED}),
    _W.RELEASED: frozenset({_W.IN_PROGRESS, _W.CANCELLED}),
    _W.IN_PROGRESS: frozenset({_W.HELD, _W.COMPLETED, _W.CANCELLED}),
    _W.HELD: frozenset({_W.IN_PROGRESS, _W.CANCELLED}),
    _W.COMPLETED: frozenset({_W.CLOSED, _W.CANCELLED}),
    _W.CLOSED: frozenset(),
    _W.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class MetalBalance:
    issued_mg: int = 0
    finished_mg: int = 0
    loss_mg: int = 0
    scrap_returned_mg: int = 0


def reconcile(attempts: Sequence[AttemptRecord]) -> MetalBalance:
    """Issued = first weigh-in, finished = last weigh-out, loss and scrap summed over every attempt."""
    if not attempts:
        return MetalBalance()
    ordered = sorted(attempts, key=lambda a: a.order_key)
    return MetalBalance(
        issued_mg=ordered[0].weigh_in_mg,
        finished_mg=ordered[-1].weigh_out_mg,
        loss_mg=sum(a.loss_mg for a in ordered),
        scrap_returned_mg=sum(a.scrap_returned_mg for a in ordered),
    )


@dataclass(slots=True)
class WorkOrder:
    id: str
    order_id: str
    line_number: int
    style_sku: str
    alloy_code: str
    size: str
    engraving: str
    quantity: int
    priority: int
    routing_version: int
    routing_snapshot: tuple[RoutingStep, ...]
    create_time: datetime
    update_time: datetime
    status: WorkOrderStatus = WorkOrderStatus.PLANNED
    metal: MetalBalance = MetalBalance()
    version: int = 1

    def copy(self) -> WorkOrder:
        return replace(self)

    @property
    def open(self) -> bool:
        return self.status not in (WorkOrderStatus.CLOSED, WorkOrderStatus.CANCELLED)

    def _move(self, to: WorkOrderStatus, now: datetime) -> WorkOrderStatus:
        if to not in TRANSITIONS[self.status]:
            raise FailedPrecondition(
                f"work order {self.id} is {self.status}, cannot become {to}",
                metadata={"status": str(self.status), "target": str(to)},
            )
        previous, self.status, self.update_time = self.status, to, now
        return previous

    def release(self, now: datetime) -> None:
        self._move(WorkOrderStatus.RELEASED, now)

    def require_workable(self) -> None:
        """Operations move only while the work order is released or in progress."""
        if self.status not in (WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS):
            what = "on hold" if self.status is WorkOrderStatus.HELD else str(self.status)
            raise FailedPrecondition(f"work order {self.id} is {what}", metadata={"status": str(self.status)})

    def start(self, now: datetime) -> bool:
        """The first operation started: RELEASED -> IN_PROGRESS (True when it changed)."""
        self.require_workable()
        if self.status is WorkOrderStatus.RELEASED:
            self._move(WorkOrderStatus.IN_PROGRESS, now)
            return True
        return False

    def hold(self, now: datetime) -> None:
        self._move(WorkOrderStatus.HELD, now)

    def resume(self, now: datetime) -> None:
        if self.status is not WorkOrderStatus.HELD:
            raise FailedPrecondition(
                f"work order {self.id} is {self.status}, not held", metadata={"status": self.status}
            )
        self._move(WorkOrderStatus.IN_PROGRESS, now)

    def complete(self, metal: MetalBalance, now: datetime) -> None:
        self._move(WorkOrderStatus.COMPLETED, now)
        self.metal = metal

    def close(self, metal: MetalBalance, now: datetime) -> None:
        self._move(WorkOrderStatus.CLOSED, now)
        self.metal = metal

    def cancel(self, now: datetime) -> None:
        self._move(WorkOrderStatus.CANCELLED, now)


def plan_work_order(
    *,
    work_order_id: str,
    order_id: str,
    priority: int,
    line: LineSpec,
    style: Style,
    picker: WorkCenterPicker,
    now: datetime,
) -> tuple[WorkOrder, list[Operation]]:
    """A released work order with the style's current routing and its operations.

    Steps that do not run for this line are SKIPPED; the first step that runs is QUEUED and the
    others PENDING; each running step is assigned to a work center of its type.
    """
    work_order = WorkOrder(
        id=work_order_id,
        order_id=order_id,
        line_number=line.line_number,
        style_sku=style.sku,
        alloy_code=line.alloy_code,
        size=line.size,
        engraving=line.engraving,
        quantity=line.quantity,
        priority=priority,
        routing_version=style.routing_version,
        routing_snapshot=style.routing,
        create_time=now,
        update_time=now,
    )
    operations: list[Operation] = []
    for step in style.routing:
        runs = step_runs(step, line.engraving)
        operations.append(
            Operation(
                work_order_id=work_order_id,
                sequence=step.sequence,
                operation_code=step.operation_code,
                work_center_type=step.work_center_type,
                loss_tolerance_per_mille=step.loss_tolerance_per_mille,
                order_id=order_id,
                alloy_code=line.alloy_code,
                priority=priority,
                create_time=now,
                update_time=now,
                status=OperationStatus.PENDING if runs else OperationStatus.SKIPPED,
                work_center=picker.pick(step.work_center_type) if runs else "",
            )
        )
    work_order.release(now)
    first = next_operation(operations, after=0)
    if first is None:  # validate_style guarantees a step that always runs
        raise FailedPrecondition(f"style {style.sku} has no step to run")
    first.queue(now)
    return work_order, operations


def next_operation(operations: Sequence[Operation], *, after: int) -> Operation | None:
    """The first PENDING operation after sequence ``after`` (None: the routing is finished)."""
    pending = [op for op in operations if op.sequence > after and op.status is OperationStatus.PENDING]
    return min(pending, key=lambda op: op.sequence) if pending else None
