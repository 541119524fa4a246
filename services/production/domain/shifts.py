"""Shift calendars: when a work center is staffed (weekly windows in local time), how many
pieces it should finish per hour while it is, and what its output and utilisation are at an
instant.

Windows are local wall-clock times in the calendar's IANA zone, so a shift starts at 06:00 all
year round. On the days the clocks change: a local time that does not exist (spring forward)
is read as the instant of the change, so a window that starts or ends in the gap is shortened
(and one wholly inside it is empty); a local time that happens twice (fall back) is read as its
first occurrence. A window whose end is at or before its start crosses midnight into the next
day.

Utilisation = busy minutes / available minutes of the current shift so far: *available* is the
shift's time elapsed, *busy* the part of it with at least one operation in progress (the union
of the operations' intervals, pauses excluded).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from mes_kernel.shifts import load_zone, local_instant, parse_clock, union
from mes_kernel.validation import Violations

__all__ = [
    "MAX_OUTPUT_TARGET",
    "MAX_WINDOWS",
    "Interval",
    "OutputFigures",
    "ShiftCalendar",
    "ShiftCalendarChanged",
    "ShiftOccurrence",
    "ShiftWindow",
    "WorkSpan",
    "busy_minutes",
    "hour_start",
    "load_zone",
    "occurrences",
    "on_shift_minutes",
    "output_at",
    "parse_clock",
    "shift_at",
    "union",
    "validate_calendar",
]

#: The highest hourly target a calendar may set.
MAX_OUTPUT_TARGET = 100_000
#: The most windows a calendar may have (three shifts a day, every day, and some room).
MAX_WINDOWS = 64
_DAY, _WEEK = 1440, 7 * 1440
#: A half-open interval of instants [start, end).
Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """A shift of one weekday: ISO ``weekday`` (1 Monday .. 7 Sunday) the shift starts on, local
    ``start`` and ``end`` (at or before ``start``: it ends on the next day), and its name."""

    weekday: int
    start: time
    end: time
    name: str

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def minutes(self) -> int:
        """Its length on a day without a clock change."""
        length = _minute(self.end) - _minute(self.start)
        return length if length > 0 else length + _DAY

    def week_span(self) -> tuple[int, int]:
        """Minutes since Monday 00:00 of its start and end (the end may pass the week's end)."""
        start = (self.weekday - 1) * _DAY + _minute(self.start)
        return start, start + self.minutes


@dataclass(slots=True)
class ShiftCalendar:
    """A work center's shifts and its hourly output target (0: none)."""

    work_center: str
    time_zone: str
    windows: tuple[ShiftWindow, ...]
    output_target_per_hour: int
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def zone(self) -> tzinfo:
        return load_zone(self.time_zone) or UTC

    def same_as(self, other: ShiftCalendar) -> bool:
        mine = (self.time_zone, sorted(self.windows, key=_order), self.output_target_per_hour)
        return mine == (other.time_zone, sorted(other.windows, key=_order), other.output_target_per_hour)


@dataclass(frozen=True, slots=True)
class ShiftOccurrence:
    """One shift on one day: its name and its instants (UTC), ``start`` < ``end``."""

    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ShiftCalendarChanged:
    """A work center's calendar (its windows, zone or target) was set."""

    calendar: ShiftCalendar


@dataclass(frozen=True, slots=True)
class WorkSpan:
    """An operation's time at a work center as stored: when it started, when it stopped (finished,
    paused now, or cancelled; None: still in progress) and the seconds of its ended pauses. Only
    their total is stored, so they are taken off the start: the operation is counted busy for
    the right length, and busy now while it is in progress."""

    work_center: str
    start: datetime
    end: datetime | None
    paused_seconds: int = 0

    def interval(self, at: datetime) -> Interval:
        """Its busy interval up to ``at`` (empty when it was paused for all of it)."""
        end = min(self.end or at, at)
        return min(self.start + timedelta(seconds=self.paused_seconds), end), end


@dataclass(frozen=True, slots=True)
class OutputFigures:
    """A work center's output against its target and its utilisation at one instant."""

    shift: ShiftOccurrence | None
    finished_this_hour: int
    target_this_hour: int
    finished_this_shift: int
    target_this_shift: int
    busy_minutes: float
    available_minutes: float

    @property
    def utilisation(self) -> float:
        return self.busy_minutes / self.available_minutes if self.available_minutes > 0 else 0.0


def _minute(value: time) -> int:
    return value.hour * 60 + value.minute


def _order(window: ShiftWindow) -> tuple[int, time, time, str]:
    return window.weekday, window.start, window.end, window.name


def validate_calendar(
    time_zone: str, windows: Sequence[tuple[int, str, str, str]], target: int, prefix: str = "calendar"
) -> tuple[ShiftWindow, ...]:
    """The windows of a calendar (``(weekday, "HH:MM", "HH:MM", name)`` each), checked:
    INVALID_ARGUMENT with a violation per bad field when the zone is unknown, a window is
    malformed, two windows overlap (on the same local day, or a window that crosses midnight
    with the next day's), or the target is outside 0..100000."""
    v = Violations()
    v.check(load_zone(time_zone) is not None, f"{prefix}.time_zone", "must be a known IANA time zone")
    v.non_negative(target, f"{prefix}.output_target_per_hour", maximum=MAX_OUTPUT_TARGET)
    v.check(len(windows) <= MAX_WINDOWS, f"{prefix}.windows", f"must have at most {MAX_WINDOWS} windows")
    parsed: list[tuple[int, ShiftWindow]] = []
    for i, (weekday, start_text, end_text, name) in enumerate(windows[:MAX_WINDOWS]):
        field = f"{prefix}.windows[{i}]"
        ok = v.check(1 <= weekday <= 7, f"{field}.weekday", "must be an ISO weekday, 1 (Monday) to 7 (Sunday)")
        start, end = parse_clock(start_text), parse_clock(end_text)
        ok &= v.check(start is not None, f"{field}.start", "must be a local time HH:MM")
        ok &= v.check(end is not None, f"{field}.end", "must be a local time HH:MM")
        before = len(v.items)
        v.text(name, f"{field}.name", max_len=40, required=True)
        if ok and start is not None and end is not None and len(v.items) == before:
            parsed.append((i, ShiftWindow(weekday, start, end, name.strip())))
    _check_overlaps(v, [(w.week_span(), i) for i, w in parsed], prefix)
    v.raise_if_any("the shift calendar is invalid")
    return tuple(sorted((w for _, w in parsed), key=_order))


def _check_overlaps(v: Violations, spans: list[tuple[tuple[int, int], int]], prefix: str) -> None:
    """Each window against the next in the week (the last against the first, a week later)."""
    ordered = sorted(spans)
    for n, ((_, end), index) in enumerate(ordered):
        if len(ordered) < 2:
            return
        (next_start, _), next_index = ordered[(n + 1) % len(ordered)]
        if n + 1 == len(ordered):
            next_start += _WEEK
        if next_start < end:
            first, second = sorted((index, next_index))
            v.add(f"{prefix}.windows[{second}]", f"overlaps windows[{first}]")


def _on_day(window: ShiftWindow, day: date, zone: tzinfo) -> ShiftOccurrence | None:
    """The window's shift starting on local ``day`` (None: another weekday, or the day's
    clock change leaves nothing of it)."""
    if day.isoweekday() != window.weekday:
        return None
    start = local_instant(day, window.start, zone)
    end = local_instant(day + timedelta(days=1) if window.crosses_midnight else day, window.end, zone)
    return ShiftOccurrence(window.name, start, end) if start < end else None


def occurrences(windows: Iterable[ShiftWindow], zone: tzinfo, start: datetime, end: datetime) -> list[ShiftOccurrence]:
    """The shifts that overlap [``start``, ``end``), in time order."""
    found: list[ShiftOccurrence] = []
    listed = list(windows)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        for window in listed:
            shift = _on_day(window, day, zone)
            if shift is not None and shift.start < end and start < shift.end:
                found.append(shift)
        day += timedelta(days=1)
    return sorted(found, key=lambda s: (s.start, s.end))


def shift_at(windows: Iterable[ShiftWindow], zone: tzinfo, at: datetime) -> ShiftOccurrence | None:
    """The shift ``at`` is in (its start included, its end not); None: off shift."""
    found = occurrences(windows, zone, at, at + timedelta(microseconds=1))
    return found[0] if found else None


def _minutes_within(intervals: Iterable[Interval], start: datetime, end: datetime) -> float:
    clipped = ((max(a, start), min(b, end)) for a, b in intervals)
    return sum((b - a).total_seconds() for a, b in union(clipped)) / 60


def on_shift_minutes(windows: Iterable[ShiftWindow], zone: tzinfo, start: datetime, end: datetime) -> float:
    """Minutes of [``start``, ``end``) on shift."""
    if end <= start:
        return 0.0
    return _minutes_within(((s.start, s.end) for s in occurrences(windows, zone, start, end)), start, end)


def busy_minutes(intervals: Iterable[Interval], start: datetime, end: datetime) -> float:
    """Minutes of [``start``, ``end``) covered by at least one of ``intervals`` (their union:
    two operations in progress at once count once)."""
    return _minutes_within(intervals, start, end) if start < end else 0.0


def hour_start(at: datetime, zone: tzinfo) -> datetime:
    """The start (UTC) of the local clock hour ``at`` is in."""
    local = at.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def output_at(
    calendar: ShiftCalendar | None, at: datetime, finish_times: Iterable[datetime], spans: Iterable[WorkSpan]
) -> OutputFigures:
    """A work center's figures at ``at`` from its calendar (None: no shifts, no target; hours in
    UTC), the times its operations finished and their spans at the bench. Targets are pro rata
    of the on-shift time elapsed, rounded down."""
    zone = calendar.zone if calendar else UTC
    windows = calendar.windows if calendar else ()
    target = calendar.output_target_per_hour if calendar else 0
    hour = hour_start(at, zone)
    shift = shift_at(windows, zone, at)
    times = list(finish_times)
    on_shift_hour = on_shift_minutes(windows, zone, hour, at)
    available = on_shift_minutes(windows, zone, shift.start, at) if shift else 0.0
    return OutputFigures(
        shift=shift,
        finished_this_hour=sum(1 for t in times if hour <= t <= at),
        target_this_hour=int(target * on_shift_hour // 60),
        finished_this_shift=sum(1 for t in times if shift.start <= t <= at) if shift else 0,
        target_this_shift=int(target * available // 60),
        busy_minutes=busy_minutes((s.interval(at) for s in spans), shift.start, at) if shift else 0.0,
        available_minutes=available,
    )
