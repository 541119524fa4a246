"""Validation of a new order: every bad field is reported at once (0-based line indexes)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from mes_kernel.errors import InvalidArgument
from mes_kernel.validation import Violations
from services.orders.domain.order import OrderLine, Priority

__all__ = [
    "MAX_ENGRAVING_LEN",
    "MAX_LINES",
    "MAX_QUANTITY",
    "MAX_REFERENCE_LEN",
    "MAX_SIZE_LEN",
    "check_catalogue",
    "validate_order",
]

MAX_LINES = 250
MAX_QUANTITY = 10_000
MAX_REFERENCE_LEN = 64
MAX_SIZE_LEN = 16
MAX_ENGRAVING_LEN = 40
_EARLIEST_DUE = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST_DUE = datetime(2100, 1, 1, tzinfo=UTC)


def validate_order(
    *,
    partner_reference: str,
    priority: int,
    due_time: datetime | None,
    lines: Sequence[OrderLine],
    request_id: str,
) -> tuple[Priority, datetime, list[OrderLine]]:
    """Check the shape of a new order; returns (priority, due time, numbered lines).

    ``priority`` 0 (unspecified) becomes NORMAL; a line numbered 0 is numbered by its position.
    """
    v = Violations()
    v.request_id(request_id, required=True)
    _printable(v, partner_reference, "partner_reference", max_len=MAX_REFERENCE_LEN, required=True)
    if priority != 0 and priority not in Priority._value2member_map_:
        v.add("priority", "is not a known priority")
    if due_time is None:
        v.add("due_time", "is required")
    elif not _EARLIEST_DUE <= due_time < _LATEST_DUE:
        v.add("due_time", "must be between 2000-01-01 and 2100-01-01")
    if not lines:
        v.add("lines", "at least one line is required")
    elif len(lines) > MAX_LINES:
        v.add("lines", f"at most {MAX_LINES} lines are allowed")
    else:
        for index, line in enumerate(lines):
            _check_line(v, index, line)
    v.raise_if_any("the order has invalid fields")
    assert due_time is not None
    numbered = [replace(line, line_number=index + 1) for index, line in enumerate(lines)]
    return Priority(priority or Priority.NORMAL), due_time, numbered


def _check_line(v: Violations, index: int, line: OrderLine) -> None:
    at = f"lines[{index}]"
    if line.line_number not in (0, index + 1):
        v.add(f"{at}.line_number", f"must be {index + 1} (its position) or 0")
    v.code(line.style_code, f"{at}.style_code")
    v.code(line.alloy_code, f"{at}.alloy_code")
    v.positive(line.quantity, f"{at}.quantity", maximum=MAX_QUANTITY)
    _printable(v, line.size, f"{at}.size", max_len=MAX_SIZE_LEN)
    _printable(v, line.engraving, f"{at}.engraving", max_len=MAX_ENGRAVING_LEN)


def _printable(v: Violations, value: str, field: str, *, max_len: int, required: bool = False) -> None:
    if required and not value.strip():
        v.add(field, "is required")
    elif len(value) > max_len:
        v.add(field, f"must be at most {max_len} characters")
    elif not value.isprintable():
        v.add(field, "must contain printable characters only")


def check_catalogue(lines: Sequence[OrderLine], styles: Collection[str], alloys: Collection[str]) -> None:
    """INVALID_ARGUMENT (UNKNOWN_STYLE, else UNKNOWN_ALLOY) when a line names a code that is
    not an active catalogue item; ``styles`` and ``alloys`` are the active codes."""
    v = Violations()
    unknown_style = False
    for index, line in enumerate(lines):
        if line.style_code not in styles:
            unknown_style = True
            v.add(f"lines[{index}].style_code", f"unknown or inactive style {line.style_code!r}")
        if line.alloy_code not in alloys:
            v.add(f"lines[{index}].alloy_code", f"unknown or inactive alloy {line.alloy_code!r}")
    if v.items:
        raise InvalidArgument(
            "the order names styles or alloys that are not in the catalogue",
            reason="UNKNOWN_STYLE" if unknown_style else "UNKNOWN_ALLOY",
            violations=v.items,
        )
