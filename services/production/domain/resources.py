"""Work centers, operators, and the choice of a work center for an operation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.validation import Violations

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
    code: str
    work_center_type: str
    display_name: str
    capacity: int
    active: bool
    create_time: datetime
    update_time: datetime
    version: int = 1

    def same_as(self, other: WorkCenter) -> bool:
        mine = (self.work_center_type, self.display_name, self.capacity, self.active)
        return mine == (other.work_center_type, other.display_name, other.capacity, other.active)


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
