"""The floor's states: why an operation is paused or a work center blocked, and the states a
work center shows (running, idle, blocked)."""

from __future__ import annotations

from enum import StrEnum

from mes_kernel.validation import Violations

__all__ = ["MAX_REASON_LENGTH", "WorkCenterState", "clean_reason"]

#: The longest reason a pause or a block may give (after trimming).
MAX_REASON_LENGTH = 200


class WorkCenterState(StrEnum):
    """RUNNING while any of its operations is IN_PROGRESS, IDLE when none is (a PAUSED one does
    not make it RUNNING), BLOCKED from a block until it is lifted, whatever its operations do."""

    RUNNING = "RUNNING"
    IDLE = "IDLE"
    BLOCKED = "BLOCKED"


def clean_reason(value: str, field: str = "reason") -> str:
    """The reason trimmed; INVALID_ARGUMENT when it is empty, longer than
    :data:`MAX_REASON_LENGTH` or holds control characters."""
    reason = value.strip()
    v = Violations()
    v.text(reason, field, max_len=MAX_REASON_LENGTH, required=True)
    v.raise_if_any(f"the {field} is invalid")
    return reason
