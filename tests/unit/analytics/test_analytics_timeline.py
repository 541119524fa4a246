"""Buckets in the plant's time zone: weeks and days across clock changes, hours that repeat, zones
with half-hour offsets, midnights the clocks skip, and the 400-bucket bound."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.analytics.domain.timeline import (
    MAX_BUCKETS,
    Grain,
    TooManyBuckets,
    Window,
    day_end,
    from_us,
    local_instant,
    to_us,
)

ROME = ZoneInfo("Europe/Rome")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_analytics_week_buckets_start_on_local_mondays_and_last_167_or_169_hours_across_clock_changes() -> None:
    spring = Window(utc(2026, 3, 20), utc(2026, 4, 7), Grain.WEEK).buckets(ROME)
    assert spring.starts == (utc(2026, 3, 15, 23), utc(2026, 3, 22, 23), utc(2026, 3, 29, 22), utc(2026, 4, 5, 22))
    assert spring.starts[2] - spring.starts[1] == timedelta(hours=167)  # the week of the change to summer time
    autumn = Window(utc(2026, 10, 20), utc(2026, 11, 3), Grain.WEEK).buckets(ROME)
    assert autumn.starts == (utc(2026, 10, 18, 22), utc(2026, 10, 25, 23), utc(2026, 11, 1, 23))
    assert autumn.starts[1] - autumn.starts[0] == timedelta(hours=169)  # the week of the change to winter time
    assert all(s.astimezone(ROME).weekday() == 0 and s.astimezone(ROME).time() == time(0) for s in autumn.starts)


def test_analytics_day_buckets_are_local_days_of_23_and_25_hours() -> None:
    days = Window(utc(2026, 3, 28, 12), utc(2026, 3, 30, 12), Grain.DAY).buckets(ROME)
    assert days.starts == (utc(2026, 3, 27, 23), utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert days.starts[2] - days.starts[1] == timedelta(hours=23)
    assert days.end(2) == utc(2026, 3, 30, 12)  # the last bucket is cut at the window's end


def test_analytics_an_hour_the_clocks_repeat_is_two_buckets() -> None:
    hours = Window(utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 2), Grain.HOUR).buckets(ROME)
    assert hours.starts == (utc(2026, 10, 24, 23), utc(2026, 10, 25, 0), utc(2026, 10, 25, 1))
    assert [s.astimezone(ROME).hour for s in hours.starts] == [1, 2, 2]


def test_analytics_hour_buckets_follow_half_hour_offsets() -> None:
    hours = Window(utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 2), Grain.HOUR).buckets(ZoneInfo("Asia/Kolkata"))
    assert hours.starts == (utc(2025, 12, 31, 23, 30), utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 1, 30))


def test_analytics_a_midnight_the_clocks_skip_starts_its_day_at_the_change() -> None:
    havana = ZoneInfo("America/Havana")  # 2026-03-08: 00:00 -> 01:00
    assert local_instant(date(2026, 3, 8), time(0), havana) == utc(2026, 3, 8, 5)
    days = Window(utc(2026, 3, 7, 12), utc(2026, 3, 9, 12), Grain.DAY).buckets(havana)
    assert days.starts == (utc(2026, 3, 7, 5), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))


def test_analytics_an_instant_falls_in_the_bucket_whose_start_it_reached() -> None:
    days = Window(utc(2026, 5, 1), utc(2026, 5, 4), Grain.DAY).buckets(UTC)
    assert [
        days.index(to_us(t)) for t in (utc(2026, 5, 1), utc(2026, 5, 1, 23, 59), utc(2026, 5, 2), utc(2026, 5, 3, 12))
    ] == [0, 0, 1, 2]


def test_analytics_at_most_400_buckets() -> None:
    start = utc(2026, 1, 1)
    assert len(Window(start, start + timedelta(days=MAX_BUCKETS), Grain.DAY).buckets(UTC)) == MAX_BUCKETS
    with pytest.raises(TooManyBuckets):
        Window(start, start + timedelta(days=MAX_BUCKETS, seconds=1), Grain.DAY).buckets(UTC)
    with pytest.raises(TooManyBuckets):
        Window(start, start + timedelta(days=5 * 365), Grain.HOUR).buckets(UTC)


def test_analytics_the_promised_day_ends_at_the_next_local_midnight() -> None:
    assert day_end(utc(2026, 3, 28, 23, 30), ROME) == utc(2026, 3, 29, 22)  # Sunday 00:30 CET -> Monday 00:00 CEST
    assert day_end(utc(2026, 6, 1, 12), UTC) == utc(2026, 6, 2)


def test_analytics_microseconds_round_trip() -> None:
    at = datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    assert to_us(at) == 1_770_091_506_789_012
    assert from_us(to_us(at)) == at
