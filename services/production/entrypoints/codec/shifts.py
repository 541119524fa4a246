"""Shift calendars and work-center output: requests -> commands, results -> messages."""

from __future__ import annotations

import re
from datetime import UTC

from mes.production.v1 import production_pb2 as pb
from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.principal import Principal
from mes_kernel.validation import parse_name
from services.production.domain.shifts import ShiftCalendar
from services.production.entrypoints.codec.responses import timestamp
from services.production.service_layer import shifts as s
from services.production.service_layer.commands import BatchGet

__all__ = [
    "batch_get_shift_calendars",
    "calendar_msg",
    "calendar_name",
    "get_shift_calendar",
    "list_work_center_output",
    "output_msg",
    "set_shift_calendar",
]

_CALENDAR_NAME = re.compile(r"^workCenters/([A-Za-z0-9][A-Za-z0-9_-]{0,39})/calendar$")


def calendar_name(code: str) -> str:
    return f"workCenters/{code}/calendar"


def _work_center(name: str, field: str) -> str:
    match = _CALENDAR_NAME.match(name)
    if match is None:
        raise InvalidArgument(
            f"{field} is malformed", violations=[FieldViolation(field, "must look like 'workCenters/{code}/calendar'")]
        )
    return match.group(1)


def set_shift_calendar(request: pb.SetShiftCalendarRequest, principal: Principal) -> s.SetShiftCalendar:
    calendar = request.calendar
    return s.SetShiftCalendar(
        principal,
        _work_center(calendar.name, "calendar.name"),
        calendar.time_zone,
        tuple((w.weekday, w.start, w.end, w.name) for w in calendar.windows),
        calendar.output_target_per_hour,
        request.expected_version,
        request.request_id,
    )


def get_shift_calendar(request: pb.GetShiftCalendarRequest, principal: Principal) -> s.GetShiftCalendar:
    return s.GetShiftCalendar(principal, _work_center(request.name, "name"))


def batch_get_shift_calendars(request: pb.BatchGetShiftCalendarsRequest, principal: Principal) -> BatchGet[str]:
    violations: list[FieldViolation] = []
    codes: list[str] = []
    for i, name in enumerate(request.names):
        try:
            codes.append(_work_center(name, f"names[{i}]"))
        except InvalidArgument as err:
            violations.extend(err.violations)
    if violations:
        raise InvalidArgument("names are malformed", violations=violations)
    return BatchGet(principal, tuple(codes), request.allow_missing)


def list_work_center_output(request: pb.ListWorkCenterOutputRequest, principal: Principal) -> s.ListWorkCenterOutput:
    violations: list[FieldViolation] = []
    codes: list[str] = []
    for i, name in enumerate(request.work_centers):
        try:
            codes.append(parse_name(name, "workCenters", f"work_centers[{i}]"))
        except InvalidArgument as err:
            violations.extend(err.violations)
    if violations:
        raise InvalidArgument("names are malformed", violations=violations)
    at = request.at.ToDatetime(tzinfo=UTC) if request.HasField("at") else None
    return s.ListWorkCenterOutput(principal, tuple(codes), at)


def calendar_msg(calendar: ShiftCalendar) -> pb.ShiftCalendar:
    return pb.ShiftCalendar(
        name=calendar_name(calendar.work_center),
        time_zone=calendar.time_zone,
        windows=[
            pb.ShiftWindow(weekday=w.weekday, start=w.start.strftime("%H:%M"), end=w.end.strftime("%H:%M"), name=w.name)
            for w in calendar.windows
        ],
        output_target_per_hour=calendar.output_target_per_hour,
        version=calendar.version,
        update_time=timestamp(calendar.update_time),
    )


def output_msg(output: s.WorkCenterOutput) -> pb.WorkCenterOutput:
    figures, shift = output.figures, output.figures.shift
    return pb.WorkCenterOutput(
        work_center=f"workCenters/{output.work_center}",
        shift_name=shift.name if shift else "",
        shift_start_time=timestamp(shift.start if shift else None),
        shift_end_time=timestamp(shift.end if shift else None),
        finished_this_hour=figures.finished_this_hour,
        target_this_hour=figures.target_this_hour,
        finished_this_shift=figures.finished_this_shift,
        target_this_shift=figures.target_this_shift,
        busy_minutes=figures.busy_minutes,
        available_minutes=figures.available_minutes,
        utilisation=figures.utilisation,
        output_target_per_hour=output.output_target_per_hour,
    )
