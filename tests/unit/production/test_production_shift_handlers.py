"""Shift calendars and output through the use cases, on the in-memory fakes: who may set a
calendar, versions and idempotency, the event, and output figures from the floor's own
operations (started, paused, resumed and finished as the clock moves)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mes_kernel.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from mes_kernel.principal import Principal
from services.production.domain.shifts import ShiftCalendarChanged
from services.production.service_layer.shifts import (
    GetShiftCalendar,
    ListWorkCenterOutput,
    SetShiftCalendar,
    WindowSpec,
)
from tests.unit.production._factories import NOW
from tests.unit.production._floor import OPERATOR_1, PARTNER, STAFF, Floor

SUPERVISOR = Principal("operator", "SUP-1")
#: NOW is Sunday 1 March 2026, 08:00 UTC: one shift from 06:00 to 14:00 every day.
DAYS: tuple[WindowSpec, ...] = tuple((day, "06:00", "14:00", "day") for day in range(1, 8))


def set_cmd(by: Principal = STAFF, *, target: int = 6, expected: int = 0, request_id: str = "") -> SetShiftCalendar:
    return SetShiftCalendar(by, "CAST-1", "UTC", DAYS, target, expected, request_id)


async def test_supervisors_and_services_set_calendars_operators_and_partners_may_not(floor: Floor) -> None:
    shifts = floor.handlers.shifts
    calendar = await shifts.set_shift_calendar(set_cmd(SUPERVISOR))
    assert (calendar.work_center, calendar.version, calendar.output_target_per_hour) == ("CAST-1", 1, 6)
    for denied in (OPERATOR_1, PARTNER):
        with pytest.raises(PermissionDenied):
            await shifts.set_shift_calendar(set_cmd(denied, target=7))
    assert (await shifts.get_shift_calendar(GetShiftCalendar(STAFF, "CAST-1"))).output_target_per_hour == 6
    assert floor.events(ShiftCalendarChanged) == [ShiftCalendarChanged(calendar)]


async def test_versions_idempotency_and_unchanged_calendars(floor: Floor) -> None:
    shifts = floor.handlers.shifts
    first = await shifts.set_shift_calendar(set_cmd(request_id="r-1"))
    assert await shifts.set_shift_calendar(set_cmd(request_id="r-1")) == first
    assert (await shifts.set_shift_calendar(set_cmd())).version == 1  # the same calendar: no change
    with pytest.raises(Conflict):
        await shifts.set_shift_calendar(set_cmd(target=8, expected=2))
    second = await shifts.set_shift_calendar(set_cmd(target=8, expected=1))
    assert (second.version, second.output_target_per_hour) == (2, 8)
    assert [e.calendar.output_target_per_hour for e in floor.events(ShiftCalendarChanged)] == [6, 8]
    with pytest.raises(Conflict):  # a calendar that does not exist yet is at version 0
        await shifts.set_shift_calendar(SetShiftCalendar(STAFF, "BENCH-1", "UTC", DAYS, 1, expected_version=1))


async def test_bad_requests_and_unknown_centers(floor: Floor) -> None:
    shifts = floor.handlers.shifts
    with pytest.raises(InvalidArgument) as error:
        await shifts.set_shift_calendar(SetShiftCalendar(STAFF, "CAST-1", "UTC", DAYS, 6, -1, " x"))
    assert [v.field for v in error.value.violations] == ["expected_version", "request_id"]
    with pytest.raises(NotFound):
        await shifts.set_shift_calendar(SetShiftCalendar(STAFF, "NOPE", "UTC", DAYS, 6))
    with pytest.raises(NotFound):
        await shifts.get_shift_calendar(GetShiftCalendar(STAFF, "CAST-1"))
    with pytest.raises(InvalidArgument):
        await shifts.list_work_center_output(ListWorkCenterOutput(STAFF, ()))
    with pytest.raises(NotFound):
        await shifts.list_work_center_output(ListWorkCenterOutput(STAFF, ("CAST-1", "NOPE")))
    with pytest.raises(PermissionDenied):
        await shifts.list_work_center_output(ListWorkCenterOutput(PARTNER, ("CAST-1",)))


async def test_output_follows_the_floors_operations(floor: Floor) -> None:
    await floor.handlers.shifts.set_shift_calendar(set_cmd(target=6))
    wo1, wo2 = await floor.create("ORD-1"), await floor.create("ORD-2")
    await floor.start(wo1[0].id, 1, 5_000)  # 08:00
    floor.clock.tick(10)
    await floor.start(wo2[0].id, 1, 5_000)  # 08:10, alongside
    floor.clock.tick(20)
    await floor.finish(wo1[0].id, 1, 4_990)  # 08:30
    await floor.pause(wo2[0].id, 1)  # 08:30
    floor.clock.tick(30)
    await floor.resume(wo2[0].id, 1)  # 09:00, after a 30-minute pause
    floor.clock.tick(15)
    await floor.finish(wo2[0].id, 1, 4_990)  # 09:15
    floor.clock.tick(15)

    (cast, bench) = await floor.handlers.shifts.list_work_center_output(
        ListWorkCenterOutput(STAFF, ("CAST-1", "BENCH-1"))
    )
    figures = cast.figures
    assert figures.shift is not None and figures.shift.start == NOW - timedelta(hours=2)
    assert (cast.output_target_per_hour, figures.finished_this_hour, figures.finished_this_shift) == (6, 1, 2)
    assert (figures.target_this_hour, figures.target_this_shift) == (3, 21)  # 30 min and 3h30 at 6 per hour
    # Busy 08:00-08:30 and, the 30-minute pause taken off its start, 08:40-09:15.
    assert (figures.available_minutes, figures.busy_minutes) == (210, 65)
    assert figures.utilisation == pytest.approx(65 / 210)
    assert (bench.output_target_per_hour, bench.figures.shift, bench.figures.available_minutes) == (0, None, 0)

    later = NOW + timedelta(hours=7)  # 15:00: off shift
    (off,) = await floor.handlers.shifts.list_work_center_output(ListWorkCenterOutput(STAFF, ("CAST-1",), later))
    assert (off.figures.shift, off.figures.finished_this_shift, off.figures.utilisation) == (None, 0, 0)
