"""Operations: one routing step of a work order on the shop floor, weighed in and out.

PENDING -> QUEUED -> IN_PROGRESS -> DONE, or LOSS_REVIEW (loss above tolerance) -> DONE | REWORK;
REWORK -> QUEUED again as a new attempt. Skipped steps are SKIPPED from the start; every open
operation may be CANCELLED.

IN_PROGRESS <-> PAUSED: an operator pauses work with a reason (a break, waiting for stones, a
broken tool) and resumes it. A paused operation keeps its place at the work center: the metal
weighed in and the bench are still taken, so it counts against the center's capacity and its
metal is returned as an in-progress one's when the order is cancelled; but it does not make the
work center RUNNING. It cannot be finished before it is resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum

from mes_kernel.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.production.domain.floor import clean_reason

__all__ = [
    "AT_BENCH",
    "OPERATION_FIXED",
    "OPERATION_PROGRESS",
    "STONE_SETTING",
    "AttemptRecord",
    "LossDecision",
    "Operation",
    "OperationStatus",
    "compute_loss",
    "last_known_weight",
    "within_tolerance",
]

STONE_SETTING = "STONE_SETTING"
MAX_WEIGHT_MG = 100_000_000
#: The fields of an :class:`Operation` that change after it is planned (the rest never does).
OPERATION_PROGRESS = (
    "status",
    "work_center",
    "weigh_in_mg",
    "weigh_out_mg",
    "scrap_returned_mg",
    "loss_mg",
    "started_by",
    "finished_by",
    "reviewed_by",
    "review_note",
    "start_time",
    "finish_time",
    "attempt",
    "pause_reason",
    "pause_time",
    "paused_seconds",
    "paused_by",
    "resumed_by",
    "update_time",
)


class OperationStatus(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    LOSS_REVIEW = "LOSS_REVIEW"
    REWORK = "REWORK"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"
    PAUSED = "PAUSED"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({OperationStatus.DONE, OperationStatus.SKIPPED, OperationStatus.CANCELLED})
_S = OperationStatus
TRANSITIONS: dict[OperationStatus, frozenset[OperationStatus]] = {
    _S.PENDING: frozenset({_S.QUEUED, _S.CANCELLED}),
    _S.QUEUED: frozenset({_S.IN_PROGRESS, _S.CANCELLED}),
    _S.IN_PROGRESS: frozenset({_S.DONE, _S.LOSS_REVIEW, _S.PAUSED, _S.CANCELLED}),
    _S.PAUSED: frozenset({_S.IN_PROGRESS, _S.CANCELLED}),
    _S.LOSS_REVIEW: frozenset({_S.DONE, _S.REWORK, _S.CANCELLED}),
    _S.REWORK: frozenset({_S.QUEUED, _S.CANCELLED}),
    _S.DONE: frozenset(),
    _S.SKIPPED: frozenset(),
    _S.CANCELLED: frozenset(),
}
#: The operations that hold a place at their work center (its metal and its bench).
AT_BENCH = frozenset({_S.IN_PROGRESS, _S.PAUSED})


class LossDecision(StrEnum):
    APPROVE = "APPROVE"
    REWORK = "REWORK"


def compute_loss(operation_code: str, weigh_in_mg: int, weigh_out_mg: int, scrap_returned_mg: int) -> int:
    """``weigh_in - weigh_out - scrap``; stone setting adds weight, so there a gain counts as no loss."""
    loss = weigh_in_mg - weigh_out_mg - scrap_returned_mg
    if loss >= 0:
        return loss
    if operation_code == STONE_SETTING:
        return 0
    raise InvalidArgument(
        "weigh-out plus returned scrap exceeds the weigh-in",
        violations=[FieldViolation("weigh_out_mg", "weigh_out_mg + scrap_returned_mg must not exceed the weigh-in")],
    )


def within_tolerance(loss_mg: int, weigh_in_mg: int, tolerance_per_mille: int) -> bool:
    """Exactly at the tolerance is still within it (integer arithmetic, no rounding)."""
    return loss_mg * 1000 <= weigh_in_mg * tolerance_per_mille


@dataclass(slots=True)
class Operation:
    work_order_id: str
    sequence: int
    operation_code: str
    work_center_type: str
    loss_tolerance_per_mille: int
    order_id: str
    alloy_code: str
    priority: int
    create_time: datetime
    update_time: datetime
    status: OperationStatus = OperationStatus.PENDING
    work_center: str = ""  # code; "" while no work center of the type exists
    weigh_in_mg: int = 0
    weigh_out_mg: int = 0
    scrap_returned_mg: int = 0
    loss_mg: int = 0
    started_by: str = ""
    finished_by: str = ""
    reviewed_by: str = ""
    review_note: str = ""
    start_time: datetime | None = None
    finish_time: datetime | None = None
    attempt: int = 1
    pause_reason: str = ""  # PAUSED only
    pause_time: datetime | None = None  # when the current pause began (PAUSED only)
    paused_seconds: int = 0  # the pauses of this attempt that have ended
    paused_by: str = ""  # who paused it last
    resumed_by: str = ""  # who resumed it last
    version: int = 1

    @property
    def key(self) -> tuple[str, int]:
        return (self.work_order_id, self.sequence)

    def copy(self) -> Operation:
        return replace(self)

    def _move(self, to: OperationStatus, now: datetime) -> OperationStatus:
        if to not in TRANSITIONS[self.status]:
            raise FailedPrecondition(
                f"operation {self.work_order_id}/{self.sequence} is {self.status}, cannot become {to}",
                metadata={"status": str(self.status), "target": str(to)},
            )
        previous, self.status, self.update_time = self.status, to, now
        return previous

    def queue(self, now: datetime) -> OperationStatus:
        """PENDING -> QUEUED, or REWORK -> QUEUED as a new attempt (weights start afresh)."""
        previous = self._move(OperationStatus.QUEUED, now)
        if previous is OperationStatus.REWORK:
            self.attempt += 1
            self.weigh_in_mg = self.weigh_out_mg = self.scrap_returned_mg = self.loss_mg = 0
            self.started_by = self.finished_by = self.reviewed_by = self.review_note = ""
            self.start_time = self.finish_time = None
            self.paused_seconds, self.paused_by, self.resumed_by = 0, "", ""
        return previous

    def start(self, operator_code: str, weigh_in_mg: int, now: datetime) -> OperationStatus:
        previous = self._move(OperationStatus.IN_PROGRESS, now)
        self.weigh_in_mg, self.started_by, self.start_time = weigh_in_mg, operator_code, now
        return previous

    def pause(self, operator_code: str, reason: str, now: datetime) -> OperationStatus:
        """IN_PROGRESS -> PAUSED with a reason (trimmed; required, at most 200 characters)."""
        reason = clean_reason(reason)
        if self.status is not OperationStatus.IN_PROGRESS:
            raise FailedPrecondition(
                f"operation {self.work_order_id}/{self.sequence} is {self.status}, not in progress",
                metadata={"status": str(self.status)},
            )
        previous = self._move(OperationStatus.PAUSED, now)
        self.pause_reason, self.pause_time, self.paused_by = reason, now, operator_code
        return previous

    def resume(self, operator_code: str, now: datetime) -> OperationStatus:
        """PAUSED -> IN_PROGRESS; the pause's length is added to ``paused_seconds``."""
        if self.status is not OperationStatus.PAUSED:
            raise FailedPrecondition(
                f"operation {self.work_order_id}/{self.sequence} is {self.status}, not paused",
                metadata={"status": str(self.status)},
            )
        previous = self._move(OperationStatus.IN_PROGRESS, now)
        self._end_pause(now)
        self.resumed_by = operator_code
        return previous

    def _end_pause(self, now: datetime) -> None:
        if self.pause_time is not None:
            self.paused_seconds += max(0, int((now - self.pause_time).total_seconds()))
        self.pause_reason, self.pause_time = "", None

    def finish(self, operator_code: str, weigh_out_mg: int, scrap_returned_mg: int, now: datetime) -> OperationStatus:
        """Weigh-out: DONE within tolerance, LOSS_REVIEW above it."""
        if self.status is OperationStatus.PAUSED:
            raise FailedPrecondition(
                f"operation {self.work_order_id}/{self.sequence} is paused: resume it first",
                metadata={"status": str(self.status)},
            )
        if self.status is not OperationStatus.IN_PROGRESS:
            raise FailedPrecondition(
                f"operation {self.work_order_id}/{self.sequence} is {self.status}, not in progress",
                metadata={"status": str(self.status)},
            )
        loss = compute_loss(self.operation_code, self.weigh_in_mg, weigh_out_mg, scrap_returned_mg)
        ok = within_tolerance(loss, self.weigh_in_mg, self.loss_tolerance_per_mille)
        previous = self._move(OperationStatus.DONE if ok else OperationStatus.LOSS_REVIEW, now)
        self.weigh_out_mg, self.scrap_returned_mg, self.loss_mg = weigh_out_mg, scrap_returned_mg, loss
        self.finished_by, self.finish_time = operator_code, now
        return previous

    def resolve(self, decision: LossDecision, supervisor_code: str, note: str, now: datetime) -> OperationStatus:
        """LOSS_REVIEW -> DONE (approve) or REWORK."""
        if self.status is not OperationStatus.LOSS_REVIEW:
            raise FailedPrecondition(
                f"operation {self.work_order_id}/{self.sequence} is {self.status}, not in loss review",
                metadata={"status": str(self.status)},
            )
        target = OperationStatus.DONE if decision is LossDecision.APPROVE else OperationStatus.REWORK
        previous = self._move(target, now)
        self.reviewed_by, self.review_note = supervisor_code, note
        return previous

    def cancel(self, now: datetime) -> OperationStatus:
        """Any open operation; a paused one's pause ends with it."""
        previous = self._move(OperationStatus.CANCELLED, now)
        if previous is OperationStatus.PAUSED:
            self._end_pause(now)
        return previous


#: The fields of an :class:`Operation` fixed when it is planned: all but OPERATION_PROGRESS
#: (``version`` among them: only the repository moves it).
OPERATION_FIXED = tuple(f.name for f in fields(Operation) if f.name not in OPERATION_PROGRESS)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One finished attempt of an operation (kept when the operation is reworked)."""

    work_order_id: str
    sequence: int
    attempt: int
    operation_code: str
    work_center: str
    alloy_code: str
    weigh_in_mg: int
    weigh_out_mg: int
    scrap_returned_mg: int
    loss_mg: int
    started_by: str
    finished_by: str
    start_time: datetime | None
    finish_time: datetime | None
    outcome: OperationStatus  # DONE, LOSS_REVIEW or REWORK
    reviewed_by: str = ""
    review_note: str = ""

    @classmethod
    def of(cls, op: Operation) -> AttemptRecord:
        return cls(
            work_order_id=op.work_order_id,
            sequence=op.sequence,
            attempt=op.attempt,
            operation_code=op.operation_code,
            work_center=op.work_center,
            alloy_code=op.alloy_code,
            weigh_in_mg=op.weigh_in_mg,
            weigh_out_mg=op.weigh_out_mg,
            scrap_returned_mg=op.scrap_returned_mg,
            loss_mg=op.loss_mg,
            started_by=op.started_by,
            finished_by=op.finished_by,
            start_time=op.start_time,
            finish_time=op.finish_time,
            outcome=op.status,
            reviewed_by=op.reviewed_by,
            review_note=op.review_note,
        )

    @property
    def reviewed(self) -> bool:
        """The loss of this attempt was above tolerance and went to review."""
        return self.outcome in (OperationStatus.LOSS_REVIEW, OperationStatus.REWORK) or bool(self.reviewed_by)

    @property
    def order_key(self) -> tuple[int, int]:
        return (self.sequence, self.attempt)


def last_known_weight(operations: Sequence[Operation], attempts: Sequence[AttemptRecord]) -> int:
    """The metal a work order holds now: the weigh-in of an operation in progress (or paused),
    else the last weigh-out, else 0 (never started)."""
    running = [op for op in operations if op.status in AT_BENCH]
    if running:
        return running[0].weigh_in_mg
    if attempts:
        return max(attempts, key=lambda a: a.order_key).weigh_out_mg
    return 0
