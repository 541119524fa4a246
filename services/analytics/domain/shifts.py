"""Work centers' shift calendars as the analytics read them (P10 available and busy minutes).

A calendar is weekly windows in local time of its own IANA zone (the production service's
ShiftCalendar): a window whose end is at or before its start crosses midnight into the next day; a
local time the clocks skip is read as the instant of the change (the shift is shorter that day),
one they repeat as its first occurrence. The analytics apply a work center's latest calendar to the
whole window asked for. Reading clocks and zones and merging intervals are the kernel's
(:mod:`mes_kernel.shifts`, the same rules as the production service's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from mes_kernel.shifts import load_zone, local_instant, parse_clock, union

__all__ = [
    "Interval",
    "ShiftWindow",
    "WorkCenterCalendar",
    "covered",
    "load_zone",
    "parse_clock",
    "shift_intervals",
    "union",
]

#: A half-open interval of instants [start, end).
Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """A shift starting on ISO ``weekday`` (1 Monday .. 7 Sunday) at local ``start``, ending at
    local ``end`` (the next day when ``end <= start``)."""

    weekday: int
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class WorkCenterCalendar:
    """A work center's (code) calendar as last set (``version``)."""

    work_center: str
    time_zone: str
    windows: tuple[ShiftWindow, ...]
    version: int

    @property
    def zone(self) -> tzinfo:
        return load_zone(self.time_zone) or UTC


def shift_intervals(windows: Sequence[ShiftWindow], zone: tzinfo, start: datetime, end: datetime) -> list[Interval]:
    """The shifts overlapping [``start``, ``end``), clipped to it, merged."""
    found: list[Interval] = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        for window in windows:
            if day.isoweekday() != window.weekday:
                continue
            begin = local_instant(day, window.start, zone)
            finish = local_instant(day + timedelta(days=1) if window.crosses_midnight else day, window.end, zone)
            found.append((max(begin, start), min(finish, end)))
        day += timedelta(days=1)
    return union(found)


def covered(intervals: Iterable[tuple[int, int]], within: Sequence[tuple[int, int]]) -> int:
    """How much of the (sorted, disjoint) ``within`` the union of ``intervals`` covers (intervals of
    integers, e.g. microseconds)."""
    busy = union(intervals)
    total = 0
    i = 0
    for begin, finish in within:
        while i < len(busy) and busy[i][1] <= begin:
            i += 1
        j = i
        while j < len(busy) and busy[j][0] < finish:
            total += max(0, min(busy[j][1], finish) - max(busy[j][0], begin))
            j += 1
    return total
