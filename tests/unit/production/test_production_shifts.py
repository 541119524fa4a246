"""The shift calendar's rules (``domain/shifts.py``): windows checked (zone, times, overlaps),
the shift an instant is in (midnight-crossing windows, DST days in Europe/Rome and New York),
on-shift and busy minutes (unions of intervals), and the output figures with their targets."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mes_kernel.errors import InvalidArgument
from services.production.domain.shifts import (
    ShiftCalendar,
    ShiftWindow,
    WorkSpan,
    busy_minutes,
    hour_start,
    occurrences,
    on_shift_minutes,
    output_at,
    shift_at,
    union,
    validate_calendar,
)

ROME, NEW_YORK = ZoneInfo("Europe/Rome"), ZoneInfo("America/New_York")
#: Monday 2026-12-07; the clocks change in Rome on Sunday 2026-03-29 (02:00 -> 03:00) and
#: Sunday 2026-10-25 (03:00 -> 02:00), in New York on 2026-03-08 and 2026-11-01.
MONDAY = datetime(2026, 12, 7, tzinfo=UTC)
TWO_SHIFTS = tuple(
    (day, start, end, name)
    for day in range(1, 7)
    for start, end, name in (
        ("06:00", "14:00", "early"),
        ("14:00", "22:00", "late"),
    )
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold).astimezone(UTC)  # type: ignore[misc]


def windows(*specs: tuple[int, str, str, str]) -> tuple[ShiftWindow, ...]:
    return validate_calendar("Europe/Rome", specs, 0)


def fields(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in error.value.violations]


# -- validation ---------------------------------------------------------------------------


def test_a_valid_calendar_is_sorted_and_trimmed() -> None:
    got = validate_calendar("Europe/Rome", [(2, "14:00", "22:00", " late "), (1, "06:00", "14:00", "early")], 10)
    assert got == (ShiftWindow(1, time(6), time(14), "early"), ShiftWindow(2, time(14), time(22), "late"))


@pytest.mark.parametrize(
    ("specs", "zone", "target", "expected"),
    [
        ([(1, "06:00", "14:00", "a")], "Nowhere/City", 0, ["calendar.time_zone"]),
        ([(1, "06:00", "14:00", "a")], "../etc/passwd", 0, ["calendar.time_zone"]),
        ([(1, "06:00", "14:00", "a")], "UTC", 100_001, ["calendar.output_target_per_hour"]),
        ([(1, "06:00", "14:00", "a")], "UTC", -1, ["calendar.output_target_per_hour"]),
        (
            [(8, "6:00", "24:00", "")],
            "UTC",
            0,
            [f"calendar.windows[0].{f}" for f in ("weekday", "start", "end", "name")],
        ),
        ([(1, "06:00", "14:00", "a"), (1, "13:59", "15:00", "b")], "UTC", 0, ["calendar.windows[1]"]),
        # A night shift overlaps the next morning's shift.
        ([(1, "22:00", "06:30", "night"), (2, "06:00", "14:00", "early")], "UTC", 0, ["calendar.windows[1]"]),
        # Sunday's night shift runs into Monday's first shift (the week wraps around).
        ([(1, "00:00", "08:00", "early"), (7, "22:00", "01:00", "night")], "UTC", 0, ["calendar.windows[1]"]),
        ([(3, "08:00", "08:00", "all day"), (4, "07:00", "09:00", "b")], "UTC", 0, ["calendar.windows[1]"]),
    ],
)
def test_bad_calendars_name_their_fields(
    specs: list[tuple[int, str, str, str]], zone: str, target: int, expected: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as error:
        validate_calendar(zone, specs, target)
    assert fields(error) == expected


def test_windows_that_touch_do_not_overlap() -> None:
    assert len(validate_calendar("UTC", [*TWO_SHIFTS, (1, "22:00", "06:00", "night")], 0)) == 13
    assert len(validate_calendar("UTC", [(d, "00:00", "00:00", "day") for d in range(1, 8)], 0)) == 7


# -- which shift -----------------------------------------------------------------------------


def test_the_shift_of_an_instant_in_local_time() -> None:
    shifts = validate_calendar("Europe/Rome", TWO_SHIFTS, 10)
    early = shift_at(shifts, ROME, local(ROME, 2026, 12, 7, 6, 0))  # winter: UTC+1
    assert early is not None and (early.name, early.start, early.end) == (
        "early",
        utc(2026, 12, 7, 5),
        utc(2026, 12, 7, 13),
    )
    late = shift_at(shifts, ROME, local(ROME, 2026, 12, 7, 14, 0))  # the end belongs to the next shift
    assert late is not None and late.name == "late"
    assert shift_at(shifts, ROME, local(ROME, 2026, 12, 7, 22, 0)) is None
    assert shift_at(shifts, ROME, local(ROME, 2026, 12, 13, 10, 0)) is None  # Sunday
    summer = shift_at(shifts, ROME, local(ROME, 2026, 7, 6, 6, 0))  # summer: UTC+2
    assert summer is not None and summer.start == utc(2026, 7, 6, 4)


def test_a_night_shift_crosses_midnight_into_the_next_day() -> None:
    night = windows((7, "22:00", "06:00", "night"))  # Sunday night, into Monday
    found = shift_at(night, ROME, local(ROME, 2026, 12, 7, 3, 0))  # Monday 03:00
    assert found is not None and (found.start, found.end) == (local(ROME, 2026, 12, 6, 22), local(ROME, 2026, 12, 7, 6))
    assert shift_at(night, ROME, local(ROME, 2026, 12, 8, 3, 0)) is None  # Tuesday 03:00: no Monday night shift


def test_spring_forward_shortens_the_windows_that_touch_the_gap() -> None:
    shifts = windows((6, "22:00", "02:30", "night"), (7, "02:30", "06:00", "dawn"))
    day = occurrences(shifts, ROME, utc(2026, 3, 28), utc(2026, 3, 30))
    # 02:00 CET is 03:00 CEST: 02:30 does not exist and is read as the change (01:00 UTC).
    assert [(s.name, s.start, s.end) for s in day] == [
        ("night", utc(2026, 3, 28, 21), utc(2026, 3, 29, 1)),
        ("dawn", utc(2026, 3, 29, 1), utc(2026, 3, 29, 4)),
    ]
    assert on_shift_minutes(shifts[:1], ROME, utc(2026, 3, 28), utc(2026, 3, 30)) == 4 * 60  # 4h30 on other days
    assert on_shift_minutes(shifts[:1], ROME, utc(2026, 3, 21), utc(2026, 3, 23)) == 4.5 * 60
    ghost = windows((7, "02:10", "02:20", "ghost"))  # wholly in the gap: gone that day
    assert occurrences(ghost, ROME, utc(2026, 3, 28), utc(2026, 3, 30)) == []
    assert shift_at(ghost, ROME, utc(2026, 3, 29, 1, 15)) is None
    assert len(occurrences(ghost, ROME, utc(2026, 3, 21), utc(2026, 3, 23))) == 1


def test_fall_back_makes_a_night_longer_and_a_repeated_time_is_its_first_occurrence() -> None:
    night = windows((6, "22:00", "06:00", "night"))  # Saturday 24 October 2026 into Sunday
    assert on_shift_minutes(night, ROME, utc(2026, 10, 24), utc(2026, 10, 26)) == 9 * 60
    repeated = windows((7, "02:30", "05:00", "dawn"))  # 02:30 happens twice on 25 October
    (dawn,) = occurrences(repeated, ROME, utc(2026, 10, 25), utc(2026, 10, 26))
    assert dawn.start == local(ROME, 2026, 10, 25, 2, 30, fold=0) == utc(2026, 10, 25, 0, 30)
    assert dawn.end - dawn.start == timedelta(hours=3, minutes=30)


def test_new_york_changes_its_clocks_on_other_days() -> None:
    early = validate_calendar("America/New_York", [(7, "01:00", "05:00", "early")], 0)
    assert on_shift_minutes(early, NEW_YORK, utc(2026, 3, 8), utc(2026, 3, 9)) == 3 * 60
    assert on_shift_minutes(early, NEW_YORK, utc(2026, 11, 1), utc(2026, 11, 2)) == 5 * 60
    assert on_shift_minutes(early, NEW_YORK, utc(2026, 3, 29), utc(2026, 3, 30)) == 4 * 60


def test_the_local_hour_follows_the_zone() -> None:
    assert hour_start(utc(2026, 12, 7, 10, 40), ZoneInfo("Asia/Kolkata")) == utc(2026, 12, 7, 10, 30)  # UTC+5:30
    assert hour_start(utc(2026, 10, 25, 1, 20), ROME) == utc(2026, 10, 25, 1)  # the second 02:xx


# -- unions and minutes ---------------------------------------------------------------------


def test_busy_minutes_count_overlapping_operations_once() -> None:
    t0 = MONDAY
    spans = [(t0, t0 + timedelta(minutes=30)), (t0 + timedelta(minutes=10), t0 + timedelta(minutes=40))]
    assert union(spans) == [(t0, t0 + timedelta(minutes=40))]
    assert busy_minutes(spans, t0, t0 + timedelta(hours=1)) == 40
    assert busy_minutes(spans, t0 + timedelta(minutes=35), t0 + timedelta(hours=1)) == 5  # clipped to the window
    assert busy_minutes(spans, t0, t0) == 0


def test_a_span_leaves_out_its_pauses_and_runs_until_now_while_in_progress() -> None:
    t0, at = MONDAY, MONDAY + timedelta(hours=1)
    assert WorkSpan("C", t0, None).interval(at) == (t0, at)
    assert WorkSpan("C", t0, None, paused_seconds=600).interval(at) == (t0 + timedelta(minutes=10), at)
    assert WorkSpan("C", t0, t0 + timedelta(minutes=5), paused_seconds=900).interval(at)[1] == t0 + timedelta(minutes=5)
    assert busy_minutes([WorkSpan("C", t0, t0 + timedelta(minutes=5), 900).interval(at)], t0, at) == 0


_minutes = st.integers(min_value=0, max_value=7 * 1440)
_intervals = st.lists(st.tuples(_minutes, _minutes).map(lambda p: (min(p), max(p))), max_size=12)


@given(_intervals, _minutes, _minutes)
def test_a_union_never_exceeds_its_window_nor_the_sum_of_its_parts(
    parts: list[tuple[int, int]], a: int, b: int
) -> None:
    start, end = MONDAY + timedelta(minutes=min(a, b)), MONDAY + timedelta(minutes=max(a, b))
    intervals = [(MONDAY + timedelta(minutes=s), MONDAY + timedelta(minutes=e)) for s, e in parts]
    busy = busy_minutes(intervals, start, end)
    assert 0 <= busy <= (end - start).total_seconds() / 60
    assert busy <= sum(e - s for s, e in parts)
    merged = union(intervals)
    assert all(s < e for s, e in merged) and all(merged[i][1] < merged[i + 1][0] for i in range(len(merged) - 1))


_shift_week = validate_calendar("Europe/Rome", TWO_SHIFTS, 0)


@given(st.lists(st.tuples(_minutes, st.integers(min_value=0, max_value=600)), max_size=10), _minutes)
def test_busy_time_within_shifts_never_exceeds_the_available_time(parts: list[tuple[int, int]], offset: int) -> None:
    """Operations clipped to the shifts: their busy minutes are at most the on-shift minutes."""
    start = local(ROME, 2026, 3, 23, 0, 0)  # the week of the spring change
    end = start + timedelta(days=7)
    shifts = [(s.start, s.end) for s in occurrences(_shift_week, ROME, start, end)]
    intervals = []
    for at, length in parts:
        a, b = start + timedelta(minutes=at), start + timedelta(minutes=at + length)
        intervals += [(max(a, s), min(b, e)) for s, e in shifts if max(a, s) < min(b, e)]
    since = start + timedelta(minutes=offset)
    assert busy_minutes(intervals, since, end) <= on_shift_minutes(_shift_week, ROME, since, end) + 1e-9


# -- output figures --------------------------------------------------------------------------


def _calendar(target: int) -> ShiftCalendar:
    return ShiftCalendar("CAST-1", "Europe/Rome", windows(*TWO_SHIFTS), target, MONDAY, MONDAY)


def test_output_against_target_pro_rata_and_utilisation() -> None:
    at = local(ROME, 2026, 12, 7, 9, 30)  # 3h30 into the early shift
    shift_start = local(ROME, 2026, 12, 7, 6, 0)
    finished = [shift_start + timedelta(minutes=m) for m in (10, 100, 185, 200)] + [at + timedelta(minutes=1)]
    spans = [
        WorkSpan("CAST-1", shift_start - timedelta(minutes=30), shift_start + timedelta(minutes=60)),  # began before
        WorkSpan("CAST-1", shift_start + timedelta(minutes=30), shift_start + timedelta(minutes=90)),
        WorkSpan("CAST-1", at - timedelta(minutes=15), None),  # in progress
    ]
    figures = output_at(_calendar(10), at, finished, spans)
    assert figures.shift is not None and (figures.shift.name, figures.shift.start) == ("early", shift_start)
    assert (figures.finished_this_hour, figures.finished_this_shift) == (2, 4)  # not the one after ``at``
    assert (figures.target_this_hour, figures.target_this_shift) == (5, 35)
    assert (figures.available_minutes, figures.busy_minutes) == (210, 105)
    assert figures.utilisation == 0.5


def test_output_off_shift_and_without_a_calendar() -> None:
    evening = local(ROME, 2026, 12, 7, 22, 20)
    figures = output_at(_calendar(10), evening, [evening - timedelta(minutes=10)], [])
    assert figures.shift is None
    assert (figures.finished_this_hour, figures.target_this_hour, figures.finished_this_shift) == (1, 0, 0)
    assert (figures.available_minutes, figures.utilisation) == (0, 0)
    ending = output_at(_calendar(12), local(ROME, 2026, 12, 7, 22, 30), [], [])
    assert ending.target_this_hour == 0  # the late shift ended at 22:00
    nothing = output_at(None, MONDAY, [MONDAY], [WorkSpan("X", MONDAY - timedelta(hours=1), None)])
    assert (nothing.shift, nothing.finished_this_hour, nothing.target_this_hour, nothing.busy_minutes) == (
        None,
        1,
        0,
        0,
    )


def test_the_target_of_an_hour_that_starts_a_shift() -> None:
    at = local(ROME, 2026, 12, 7, 14, 45)  # 45 minutes into the late shift, hour 14:00-15:00
    figures = output_at(_calendar(12), at, [], [])
    assert (figures.target_this_hour, figures.target_this_shift) == (9, 9)
    half_past = output_at(_calendar(12), local(ROME, 2026, 12, 7, 13, 30), [], [])
    assert (half_past.target_this_hour, half_past.target_this_shift) == (6, 12 * 7 + 6)
