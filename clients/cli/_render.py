"""Text rendering: weights, times and enum labels; aligned tables and key/value details are the
kernel's (``mes_kernel.text``, shared with the platform's admin tools)."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp

from clients.cli._args import EnumType, V, enum_prefix
from mes_kernel.text import EMPTY, details, stamp, table

__all__ = ["details", "grams", "label", "table", "weight", "when"]


def grams(mg: int) -> str:
    """Integer milligrams as grams with exactly three decimals: 12345 -> '12.345' (no floats)."""
    sign = "-" if mg < 0 else ""
    whole, frac = divmod(abs(mg), 1000)
    return f"{sign}{whole}.{frac:03d}"


def weight(mg: int) -> str:
    """'12.345 g (12345 mg)'."""
    return f"{grams(mg)} g ({mg} mg)"


def when(value: Timestamp, *, present: bool = True) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM:SSZ' in UTC, or '-' when unset."""
    unset = not present or (value.seconds == 0 and value.nanos == 0)
    return EMPTY if unset else stamp(value.ToDatetime(tzinfo=UTC))


def label(enum: EnumType[V], value: V) -> str:
    """Enum value name without its type prefix: ORDER_STATUS_ON_HOLD -> 'ON_HOLD'."""
    prefix = enum_prefix(enum)
    try:
        name: str = enum.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix)
