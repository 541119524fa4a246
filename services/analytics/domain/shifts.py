"""Work centers' shift calendars as the analytics read them (P10 available and busy minutes).

A calendar is weekly windows in local time of its own IANA zone (the production service's
ShiftCalendar): a window whose end is at or before its start crosses midnight into the next day; a
local time the clocks skip is read as the instant of the change (the shift is shorter that day),
one they repeat as its first occurrence. The analytics apply a work center's latest calendar to the
whole window asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.analytics.domain.timeline import local_instant

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
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def load_zone(name: str) -> ZoneInfo | None:
    """The IANA zone ``name``; None when it is unknown (or not a zone name at all)."""
    if not name or len(name) > 64 or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_clock(text: str) -> time | None:
    """``"HH:MM"`` as a time; None when it is not one."""
    match = _CLOCK.match(text)
    return time(int(match.group(1)), int(match.group(2))) if match else None


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


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """The intervals merged: sorted, disjoint, none empty."""
    merged: list[Interval] = []
    for begin, finish in sorted(i for i in intervals if i[0] < i[1]):
        if merged and begin <= merged[-1][1]:
            if finish > merged[-1][1]:
                merged[-1] = (merged[-1][0], finish)
        else:
            merged.append((begin, finish))
    return merged


def covered(intervals: Iterable[tuple[int, int]], within: Sequence[tuple[int, int]]) -> int:
    """How much of the (sorted, disjoint) ``within`` the union of ``intervals`` covers (intervals of
    integers, e.g. microseconds)."""
    busy: list[tuple[int, int]] = []
    for begin, finish in sorted(i for i in intervals if i[0] < i[1]):
        if busy and begin <= busy[-1][1]:
            if finish > busy[-1][1]:
                busy[-1] = (busy[-1][0], finish)
        else:
            busy.append((begin, finish))
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
