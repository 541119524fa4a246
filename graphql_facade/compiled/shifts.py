"""Shift calendars and output on the compiled path: ``WorkCenter.calendar`` and ``WorkCenter.output``
through the request's loaders (one ``BatchGetShiftCalendars`` and one ``ListWorkCenterOutput`` for
every work center of the answer), their fields read from the service's messages as
:mod:`graphql_facade.schema.shifts` writes them."""

from __future__ import annotations

from operator import attrgetter

from graphql_facade.compiled.fields import Getter, Spec, TypeSpecs, iso, loaded
from mes.production.v1 import production_pb2 as prod

__all__ = ["SHIFT_OBJECTS", "with_shifts"]


def _attrs(**fields: str) -> dict[str, Spec]:
    return {name: Getter(attrgetter(attr)) for name, attr in fields.items()}


def _rounded(attr: str, digits: int) -> Getter:
    get = attrgetter(attr)
    return Getter(lambda pb: round(get(pb), digits))


def _work_center_id(pb: prod.ShiftCalendar) -> str:
    return pb.name.removeprefix("workCenters/").removesuffix("/calendar")


#: The calendar's and the output's types, and the fields they add to ``WorkCenter``.
SHIFT_OBJECTS: TypeSpecs = {
    "WorkCenter": {
        "calendar": loaded(attrgetter("loaders.shift_calendar"), attrgetter("code")),
        "output": loaded(attrgetter("loaders.work_center_output"), attrgetter("code")),
    },
    "ShiftCalendar": {
        **_attrs(timeZone="time_zone", windows="windows", outputTargetPerHour="output_target_per_hour"),
        "workCenterId": Getter(_work_center_id),
        "version": Getter(attrgetter("version")),
        "updateTime": Getter(lambda pb: iso(pb.update_time)),
    },
    "ShiftWindow": _attrs(weekday="weekday", start="start", end="end", name="name"),
    "WorkCenterOutput": {
        **_attrs(
            finishedThisHour="finished_this_hour",
            targetThisHour="target_this_hour",
            finishedThisShift="finished_this_shift",
            targetThisShift="target_this_shift",
        ),
        "shiftName": Getter(lambda pb: pb.shift_name or None),
        "shiftStart": Getter(lambda pb: iso(pb.shift_start_time)),
        "shiftEnd": Getter(lambda pb: iso(pb.shift_end_time)),
        "busyMinutes": _rounded("busy_minutes", 3),
        "availableMinutes": _rounded("available_minutes", 3),
        "utilisation": _rounded("utilisation", 4),
    },
}


def with_shifts(objects: TypeSpecs) -> TypeSpecs:
    """``objects`` with the calendar's and the output's types and fields added."""
    merged = dict(objects)
    for kind, specs in SHIFT_OBJECTS.items():
        merged[kind] = {**merged.get(kind, {}), **specs}
    return merged
