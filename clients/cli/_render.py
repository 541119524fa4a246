"""Text rendering: aligned tables, key/value details, weights, times and enum labels."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp

from clients.cli._args import EnumType, V, enum_prefix

__all__ = ["details", "grams", "label", "table", "weight", "when"]

_NUMERIC = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?( ?(g|mg|%|ppm|pt|pcs))?$")
EMPTY = "-"


def grams(mg: int) -> str:
    """Integer milligrams as grams with exactly three decimals: 12345 -> '12.345' (no floats)."""
    sign = "-" if mg < 0 else ""
    whole, frac = divmod(abs(mg), 1000)
    return f"{sign}{whole}.{frac:03d}"


def weight(mg: int) -> str:
    """'12.345 g (12345 mg)'."""
    return f"{grams(mg)} g ({mg} mg)"


def when(stamp: Timestamp, *, present: bool = True) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM:SSZ' in UTC, or '-' when unset."""
    if not present or (stamp.seconds == 0 and stamp.nanos == 0):
        return EMPTY
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def label(enum: EnumType[V], value: V) -> str:
    """Enum value name without its type prefix: ORDER_STATUS_ON_HOLD -> 'ON_HOLD'."""
    prefix = enum_prefix(enum)
    try:
        name: str = enum.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix)


def _cell(value: object) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str = "(no results)") -> str:
    """Columns padded to their widest cell; columns whose cells are all numbers are right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    if not cells:
        return empty
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    right = [all(_NUMERIC.match(row[i]) or row[i] == EMPTY for row in cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(widths[i]) if right[i] else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def details(pairs: Sequence[tuple[str, object]]) -> str:
    """'key: value' lines with the values aligned."""
    width = max((len(key) for key, _ in pairs), default=0)
    return "\n".join(f"{(key + ':').ljust(width + 1)} {_cell(value)}".rstrip() for key, value in pairs)
