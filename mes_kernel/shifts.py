"""Pure rules of shift calendars, shared by whoever reads one (the production service sets them, the
analytics service measures against them).

A calendar is weekly windows of local wall-clock times (``"HH:MM"``) in an IANA zone. On the days the
clocks change, a local time that does not exist (spring forward) is read as the instant of the change,
and one that happens twice (fall back) as its first occurrence: :func:`local_instant`. Busy and
on-shift time is measured over intervals merged by :func:`union`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol, Self, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["load_zone", "local_instant", "parse_clock", "union"]

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class _Ordered(Protocol):
    def __lt__(self, other: Self, /) -> bool: ...

    def __le__(self, other: Self, /) -> bool: ...


T = TypeVar("T", bound=_Ordered)


def parse_clock(text: str) -> time | None:
    """``"HH:MM"`` (00:00..23:59) as a time; None when it is not one."""
    match = _CLOCK.match(text)
    return time(int(match.group(1)), int(match.group(2))) if match else None


def load_zone(name: str) -> ZoneInfo | None:
    """The IANA zone ``name``; None when it is unknown (or not a zone name at all: no path tricks)."""
    if not name or len(name) > 64 or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_instant(day: date, clock: time, zone: tzinfo) -> datetime:
    """The instant (UTC) of a local date and time: its first occurrence when it happens twice,
    the instant of the change when the clocks skip it."""
    local = datetime.combine(day, clock, tzinfo=zone)
    early, late = local.astimezone(UTC), local.replace(fold=1).astimezone(UTC)
    if early <= late:  # it exists (once, or twice: the first is ``early``)
        return early
    # Skipped: ``late`` (the offset after the change) is before ``early`` (the offset before);
    # the change is the first instant with the later offset, found by halving (to the second).
    before = local.utcoffset()  # fold=0: the offset before the change
    low, high = late, early
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def union(intervals: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    """Half-open intervals ``[start, end)`` merged: sorted, disjoint, none empty (of instants, or of
    any ordered values such as microseconds)."""
    merged: list[tuple[T, T]] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            if merged[-1][1] < end:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
