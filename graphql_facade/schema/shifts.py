"""Shift calendars and output: a work center's shifts and hourly target (``WorkCenter.calendar``),
its output against the target and its utilisation now (``WorkCenter.output``, every work center of
a request read with one ``ListWorkCenterOutput``), and the supervisors' ``setShiftCalendar``."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_facade.schema.common import Long, to_datetime
from graphql_facade.schema.info import Info, check_id, check_key
from mes.production.v1 import production_pb2 as prod

__all__ = [
    "ShiftCalendar",
    "ShiftCalendarInput",
    "ShiftWindow",
    "ShiftWindowInput",
    "WorkCenterOutput",
    "calendar_of",
    "output_of",
    "set_shift_calendar",
]


@strawberry.type(description="One shift of a weekday, in the calendar's local time.")
class ShiftWindow:
    weekday: int = strawberry.field(description="ISO weekday the shift starts on: 1 (Monday) to 7 (Sunday).")
    start: str = strawberry.field(description='Local start time "HH:MM".')
    end: str = strawberry.field(description='Local end time "HH:MM"; at or before the start: the next day.')
    name: str


@strawberry.type(description="A work center's shifts (local times in its zone) and hourly output target.")
class ShiftCalendar:
    work_center_id: strawberry.ID
    time_zone: str = strawberry.field(description='IANA time zone, e.g. "Europe/Rome".')
    windows: list[ShiftWindow]
    output_target_per_hour: int = strawberry.field(description="Pieces per hour while on shift (0: no target).")
    version: Long
    update_time: datetime | None

    @classmethod
    def from_pb(cls, pb: prod.ShiftCalendar) -> ShiftCalendar:
        return cls(
            work_center_id=strawberry.ID(pb.name.removeprefix("workCenters/").removesuffix("/calendar")),
            time_zone=pb.time_zone,
            windows=[ShiftWindow(weekday=w.weekday, start=w.start, end=w.end, name=w.name) for w in pb.windows],
            output_target_per_hour=pb.output_target_per_hour,
            version=Long(pb.version),
            update_time=to_datetime(pb.update_time),
        )


@strawberry.type(
    description="Output against target and utilisation now. Targets are the hourly target times the on-shift "
    "time elapsed (pro rata); utilisation = busyMinutes / availableMinutes (0 off shift)."
)
class WorkCenterOutput:
    shift_name: str | None = strawberry.field(description="The shift on now (null: off shift).")
    shift_start: datetime | None
    shift_end: datetime | None
    finished_this_hour: int = strawberry.field(description="Operations finished since the local hour began.")
    target_this_hour: int
    finished_this_shift: int
    target_this_shift: int
    busy_minutes: float = strawberry.field(description="Shift minutes with an operation in progress.")
    available_minutes: float = strawberry.field(description="Shift minutes elapsed.")
    utilisation: float

    @classmethod
    def from_pb(cls, pb: prod.WorkCenterOutput) -> WorkCenterOutput:
        return cls(
            shift_name=pb.shift_name or None,
            shift_start=to_datetime(pb.shift_start_time),
            shift_end=to_datetime(pb.shift_end_time),
            finished_this_hour=pb.finished_this_hour,
            target_this_hour=pb.target_this_hour,
            finished_this_shift=pb.finished_this_shift,
            target_this_shift=pb.target_this_shift,
            busy_minutes=round(pb.busy_minutes, 3),
            available_minutes=round(pb.available_minutes, 3),
            utilisation=round(pb.utilisation, 4),
        )


@strawberry.input(description="One shift: ISO weekday (1 Monday .. 7 Sunday), local start and end HH:MM, name.")
class ShiftWindowInput:
    weekday: int
    start: str
    end: str
    name: str


@strawberry.input(description="A work center's shift calendar.")
class ShiftCalendarInput:
    time_zone: str
    windows: list[ShiftWindowInput]
    output_target_per_hour: int = 0


async def calendar_of(info: Info, code: str) -> ShiftCalendar | None:
    found = await info.context.loaders.shift_calendar.load(code)
    return ShiftCalendar.from_pb(found) if found is not None else None


async def output_of(info: Info, code: str) -> WorkCenterOutput | None:
    found = await info.context.loaders.work_center_output.load(code)
    return WorkCenterOutput.from_pb(found) if found is not None else None


async def set_shift_calendar(
    info: Info,
    work_center_id: str,
    calendar: ShiftCalendarInput,
    expected_version: int | None,
    idempotency_key: str | None,
) -> ShiftCalendar:
    code = check_id(work_center_id, "workCenterId")
    request = prod.SetShiftCalendarRequest(
        calendar=prod.ShiftCalendar(
            name=f"workCenters/{code}/calendar",
            time_zone=calendar.time_zone,
            windows=[
                prod.ShiftWindow(weekday=w.weekday, start=w.start, end=w.end, name=w.name) for w in calendar.windows
            ],
            output_target_per_hour=calendar.output_target_per_hour,
        ),
        expected_version=expected_version or 0,
        request_id=check_key(idempotency_key),
    )
    return ShiftCalendar.from_pb(await info.context.backend.production.set_shift_calendar(request))
