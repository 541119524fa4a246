"""Plain-text forms for the operator command lines (``mesctl``, ``mes events``): aligned
tables, key/value details and UTC times. Pure string formatting, so the clients and the
platform's admin tools, which may not import each other, print alike."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

__all__ = ["EMPTY", "details", "stamp", "table"]

#: What an empty or missing cell shows.
EMPTY = "-"
_NUMERIC = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?( ?(g|mg|%|ppm|pt|pcs))?$")


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


def stamp(value: datetime | None) -> str:
    """'YYYY-MM-DD HH:MM:SSZ' in UTC, or '-'."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else EMPTY
