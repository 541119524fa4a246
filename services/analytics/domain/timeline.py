"""Time in the analytics: instants as integer microseconds since the epoch (how the facts are stored),
windows, and buckets that start at the boundaries of the plant's time zone.

A bucket (hour, day, week) starts at a local boundary of the plant's zone (a week on Monday) and is
given as its UTC start; a window [start, end) is cut into the buckets that overlap it, the first
one starting at or before ``start``. A local time the clocks skip is read as the instant of the
change, one they repeat as its first occurrence (:func:`mes_kernel.shifts.local_instant`, the rule of the
production service's shift calendars), so days and weeks around a clock change are an hour shorter or longer.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from mes_kernel.shifts import local_instant

__all__ = [
    "EPOCH",
    "MAX_BUCKETS",
    "Buckets",
    "Grain",
    "TooManyBuckets",
    "Window",
    "day_end",
    "from_us",
    "local_day_end",
    "local_instant",
    "to_us",
    "to_us_or_none",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The most buckets one answer may hold.
MAX_BUCKETS = 400
_ONE_US = timedelta(microseconds=1)
_STEP = timedelta(minutes=15)  # every zone's offset is a multiple of it


def to_us(at: datetime) -> int:
    """Microseconds since the epoch (exact)."""
    return (at - EPOCH) // _ONE_US


def to_us_or_none(at: datetime | None) -> int | None:
    return None if at is None else to_us(at)


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class Grain(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"

    @property
    def nominal(self) -> timedelta:
        return {Grain.HOUR: timedelta(hours=1), Grain.DAY: timedelta(days=1), Grain.WEEK: timedelta(days=7)}[self]


class TooManyBuckets(ValueError):
    """The window holds more than :data:`MAX_BUCKETS` buckets of its grain."""


@dataclass(frozen=True)
class Window:
    """[start, end) in buckets of ``grain``."""

    start: datetime
    end: datetime
    grain: Grain = Grain.DAY

    @property
    def start_us(self) -> int:
        return to_us(self.start)

    @property
    def end_us(self) -> int:
        return to_us(self.end)

    def buckets(self, zone: tzinfo) -> Buckets:
        return Buckets(self, tuple(_bucket_starts(self, zone)))


@dataclass(frozen=True)
class Buckets:
    """The buckets of a window: their UTC starts, the first at or before the window's start."""

    window: Window
    starts: tuple[datetime, ...]

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def bounds_us(self) -> tuple[int, ...]:
        """The starts of the second and later buckets: bucket ``i`` holds the instants with ``i``
        of them at or before it."""
        return tuple(to_us(s) for s in self.starts[1:])

    def index(self, at_us: int) -> int:
        return bisect_right(self.bounds_us, at_us)

    def start(self, index: int) -> datetime:
        return self.starts[index]

    def end(self, index: int) -> datetime:
        """Where bucket ``index`` ends inside the window (the next start, or the window's end)."""
        return self.starts[index + 1] if index + 1 < len(self.starts) else self.window.end


def day_end(at: datetime, zone: tzinfo) -> datetime:
    """The end of the local day ``at`` falls on: the next local midnight (UTC)."""
    return local_day_end(at.astimezone(zone).date(), zone)


def local_day_end(day: date, zone: tzinfo) -> datetime:
    """The end of the local date ``day``: the next local midnight (UTC)."""
    return local_instant(day + timedelta(days=1), time(0), zone)


def _hour_floor(at: datetime, zone: tzinfo) -> datetime:
    return at.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _next_hour(start: datetime, zone: tzinfo) -> datetime:
    at = start + _STEP
    while at.astimezone(zone).minute != 0:
        at += _STEP
    return at


def _bucket_starts(window: Window, zone: tzinfo) -> list[datetime]:
    span = window.end - window.start
    if span > window.grain.nominal * (MAX_BUCKETS + 1):
        raise TooManyBuckets(f"more than {MAX_BUCKETS} buckets")
    starts: list[datetime] = []
    if window.grain is Grain.HOUR:
        at = _hour_floor(window.start, zone)
        while at < window.end:
            starts.append(at)
            at = _next_hour(at, zone)
            _check(starts)
        return starts
    step = 1 if window.grain is Grain.DAY else 7
    day = window.start.astimezone(zone).date()
    if window.grain is Grain.WEEK:
        day -= timedelta(days=day.weekday())
    while (at := local_instant(day, time(0), zone)) > window.start:  # a skipped midnight
        day -= timedelta(days=step)
    while at < window.end:
        starts.append(at)
        _check(starts)
        day += timedelta(days=step)
        at = local_instant(day, time(0), zone)
    return starts


def _check(starts: list[datetime]) -> None:
    if len(starts) > MAX_BUCKETS:
        raise TooManyBuckets(f"more than {MAX_BUCKETS} buckets")
