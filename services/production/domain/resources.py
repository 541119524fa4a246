"""Work centers (with their state on the floor), operators, and the choice of a work center for
an operation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from mes_kernel.errors import FailedPrecondition, FieldViolation, InvalidArgument
from mes_kernel.validation import Violations
from services.production.domain.floor import WorkCenterState, clean_reason

__all__ = [
    "MAX_CAPACITY",
    "Operator",
    "OperatorRole",
    "WorkCenter",
    "WorkCenterPicker",
    "check_operator",
    "check_supervisor",
    "validate_operator",
    "validate_work_center",
]

MAX_CAPACITY = 1000


class OperatorRole(StrEnum):
    OPERATOR = "OPERATOR"
    SUPERVISOR = "SUPERVISOR"


@dataclass(slots=True)
class WorkCenter:
    """A bench, machine or team. Its ``state`` follows its operations (RUNNING while any is in
    progress, else IDLE) unless it is BLOCKED; ``state_time`` moves only when the state does."""

    code: str
    work_center_type: str
    display_name: str
    capacity: int
    active: bool
    create_time: datetime
    update_time: datetime
    version: int = 1
    state: WorkCenterState = WorkCenterState.IDLE
    state_reason: str = ""  # BLOCKED only
    state_time: datetime | None = None  # None: since it was created
    state_by: str = ""  # the operator who blocked or unblocked it last ("" when its operations moved it)

    def __post_init__(self) -> None:
        if self.state_time is None:
            self.state_time = self.create_time

    def same_as(self, other: WorkCenter) -> bool:
        mine = (self.work_center_type, self.display_name, self.capacity, self.active)
        return mine == (other.work_center_type, other.display_name, other.capacity, other.active)

    def _enter(self, state: WorkCenterState, reason: str, by: str, now: datetime) -> WorkCenterState | None:
        """Move to ``state``/``reason``: the previous state, or None when nothing changed."""
        if (state, reason) == (self.state, self.state_reason):
            return None
        previous = self.state
        if state is not previous:
            self.state_time = now
        self.state, self.state_reason, self.state_by = state, reason, by
        return previous

    def follow(self, running: bool, now: datetime) -> WorkCenterState | None:
        """RUNNING or IDLE as its operations say (a blocked center stays blocked): the previous
        state, or None when nothing changed."""
        if self.state is WorkCenterState.BLOCKED:
            return None
        return self._enter(WorkCenterState.RUNNING if running else WorkCenterState.IDLE, "", "", now)

    def block(self, reason: str, now: datetime, by: str = "") -> WorkCenterState | None:
        """BLOCKED with a reason (trimmed; required, at most 200 characters). Blocking a blocked
        center again changes only its reason (not ``state_time``); the same reason changes nothing
        (None)."""
        return self._enter(WorkCenterState.BLOCKED, clean_reason(reason), by, now)

    def unblock(self, running: bool, now: datetime, by: str = "") -> WorkCenterState:
        """BLOCKED -> RUNNING or IDLE as its operations say."""
        if self.state is not WorkCenterState.BLOCKED:
            raise FailedPrecondition(
                f"work center {self.code} is {self.state}, not blocked", metadata={"state": str(self.state)}
            )
        previous = self._enter(WorkCenterState.RUNNING if running else WorkCenterState.IDLE, "", by, now)
        assert previous is not None  # it was blocked
        return previous

    def require_open(self) -> None:
        """No operation starts at a blocked work center."""
        if self.state is WorkCenterState.BLOCKED:
            raise FailedPrecondition(
                f"work center {self.code} is blocked: {self.state_reason}",
                reason="WORK_CENTER_BLOCKED",
                metadata={"work_center": self.code, "state": str(self.state)},
            )


@dataclass(slots=True)
class Operator:
    code: str
    display_name: str
    role: OperatorRole
    active: bool
    create_time: datetime
    update_time: datetime
    version: int = 1

    def same_as(self, other: Operator) -> bool:
        return (self.display_name, self.role, self.active) == (other.display_name, other.role, other.active)


def validate_work_center(
    code: str, work_center_type: str, display_name: str, capacity: int, prefix: str = "work_center"
) -> None:
    v = Violations()
    v.code(code, f"{prefix}.code")
    v.code(work_center_type, f"{prefix}.work_center_type")
    v.text(display_name, f"{prefix}.display_name", max_len=120)
    v.positive(capacity, f"{prefix}.capacity", maximum=MAX_CAPACITY)
    v.raise_if_any("the work center is invalid")


def validate_operator(code: str, display_name: str, role: OperatorRole | None, prefix: str = "operator") -> None:
    v = Violations()
    v.code(code, f"{prefix}.code")
    v.text(display_name, f"{prefix}.display_name", max_len=120, required=True)
    v.check(role is not None, f"{prefix}.role", "must be OPERATOR or SUPERVISOR")
    v.raise_if_any("the operator is invalid")


def check_operator(operator: Operator | None, field: str) -> Operator:
    """The operator who weighs must exist and be active."""
    if operator is None or not operator.active:
        raise InvalidArgument(
            "unknown or inactive operator", violations=[FieldViolation(field, "must be an active operator")]
        )
    return operator


def check_supervisor(operator: Operator | None, field: str) -> Operator:
    if operator is None or not operator.active or operator.role is not OperatorRole.SUPERVISOR:
        raise InvalidArgument(
            "a loss review needs an active supervisor",
            violations=[FieldViolation(field, "must be an active supervisor")],
        )
    return operator


class WorkCenterPicker:
    """Assigns operations to the least-loaded active work center of their type.

    Load is relative to capacity (open operations / capacity); ties go to the lower code.
    Every pick adds one to the chosen center's load, so a batch spreads out.
    """

    def __init__(self, centers: Iterable[WorkCenter], loads: Mapping[str, int]) -> None:
        self._by_type: dict[str, list[WorkCenter]] = {}
        for center in centers:
            if center.active:
                self._by_type.setdefault(center.work_center_type, []).append(center)
        self._loads = dict(loads)

    def pick(self, work_center_type: str) -> str:
        """The chosen center's code, or "" when no active center of the type exists."""
        candidates = self._by_type.get(work_center_type)
        if not candidates:
            return ""
        best = min(candidates, key=lambda c: (Fraction(self._loads.get(c.code, 0), c.capacity), c.code))
        self._loads[best.code] = self._loads.get(best.code, 0) + 1
        return best.code
