"""Parsing of argument values: short resource names, enums, order lines, dates, grams."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Protocol, TypeVar

from clients.cli._app import CliUsageError
from mes.orders.v1 import orders_pb2

__all__ = [
    "EnumType",
    "enum_choices",
    "enum_prefix",
    "enum_value",
    "grams_to_mg",
    "limit",
    "operation_name",
    "order_line",
    "parse_due",
    "parse_since",
    "resource_id",
    "resource_name",
]

V = TypeVar("V", bound=int)


class EnumType(Protocol[V]):
    """A generated protobuf enum (``orders_pb2.OrderStatus``)."""

    def Name(self, number: V, /) -> str: ...
    def Value(self, name: str, /) -> V: ...
    def keys(self) -> list[str]: ...


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def resource_name(value: str, collection: str) -> str:
    """Accept ``123`` or ``orders/123`` for ``collection="orders"``; the full name is returned."""
    value = value.strip()
    ident = value.removeprefix(f"{collection}/")
    if not ident or not _ID.match(ident):
        raise CliUsageError(f"expected an id or '{collection}/<id>', got {value!r}")
    return f"{collection}/{ident}"


def resource_id(value: str, collection: str) -> str:
    """The id part: ``orders/123`` or ``123`` -> ``123``."""
    return resource_name(value, collection).split("/", 1)[1]


def operation_name(value: str) -> str:
    """``workOrders/WO/operations/3`` or the short ``WO/3``."""
    value = value.strip()
    parts = value.removeprefix("workOrders/").split("/")
    if len(parts) == 3 and parts[1] == "operations":
        parts = [parts[0], parts[2]]
    if len(parts) != 2 or not _ID.match(parts[0]) or not parts[1].isdigit():
        raise CliUsageError(f"expected 'workOrders/<id>/operations/<n>' or '<work order id>/<n>', got {value!r}")
    return f"workOrders/{parts[0]}/operations/{int(parts[1])}"


def limit(value: int) -> int | None:
    """``--limit N``: at most N items, 0 for all (None)."""
    if value < 0:
        raise CliUsageError("--limit must not be negative")
    return value or None


def enum_prefix(enum: EnumType[V]) -> str:
    """'ORDER_STATUS_' for OrderStatus: the zero value (listed first in proto3) names the prefix."""
    return enum.keys()[0].removesuffix("UNSPECIFIED")


def enum_value(enum: EnumType[V], text: str, what: str) -> V:
    """An enum value from its short or full name, case-insensitive: 'on-hold' -> ORDER_STATUS_ON_HOLD."""
    prefix = enum_prefix(enum)
    names = [name for name in enum.keys() if not name.endswith("_UNSPECIFIED")]  # noqa: SIM118 - not a dict
    key = text.strip().upper().replace("-", "_")
    for candidate in (key, prefix + key):
        if candidate in names:
            return enum.Value(candidate)
    raise CliUsageError(f"unknown {what} {text!r}; choose one of: {', '.join(enum_choices(enum))}")


def enum_choices(enum: EnumType[V]) -> list[str]:
    """Short names of the values, without the _UNSPECIFIED one."""
    prefix = enum_prefix(enum)
    names = enum.keys()
    return [name.removeprefix(prefix) for name in names if not name.endswith("_UNSPECIFIED")]


def order_line(spec: str, line_number: int = 0) -> orders_pb2.OrderLine:
    """``STYLE:ALLOY:QTY[:SIZE[:ENGRAVING]]`` (the engraving may itself contain ':')."""
    parts = spec.split(":", 4)
    if len(parts) < 3 or not parts[0].strip() or not parts[1].strip():
        raise CliUsageError(f"bad line {spec!r}: want STYLE:ALLOY:QTY[:SIZE[:ENGRAVING]]")
    try:
        quantity = int(parts[2])
    except ValueError:
        raise CliUsageError(f"bad line {spec!r}: quantity {parts[2]!r} is not a whole number") from None
    return orders_pb2.OrderLine(
        line_number=line_number,
        style_code=parts[0].strip(),
        alloy_code=parts[1].strip(),
        quantity=quantity,
        size=parts[3].strip() if len(parts) > 3 else "",
        engraving=parts[4] if len(parts) > 4 else "",
    )


def parse_due(text: str) -> datetime:
    """ISO date (due by the end of that day, UTC) or ISO datetime (naive = UTC)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliUsageError(f"bad date {text!r}: want YYYY-MM-DD or an ISO date-time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_since(text: str) -> datetime:
    """ISO date (from the start of that day, UTC) or ISO date-time (naive = UTC)."""
    moment = parse_due(text)
    return moment.replace(hour=0, minute=0, second=0) if len(text.strip()) == 10 else moment


def grams_to_mg(text: str) -> int:
    """Exact conversion of a decimal gram amount to integer milligrams ('12.5' -> 12500)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise CliUsageError(f"bad weight {text!r}: want grams like 12.345") from None
    mg = value * 1000
    if not value.is_finite() or mg != mg.to_integral_value():
        raise CliUsageError(f"bad weight {text!r}: at most 3 decimals (milligrams)")
    return int(mg)
