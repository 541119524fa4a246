"""Shift calendars and work-center output through gRPC, on SQLite and PostgreSQL:
SetShiftCalendar (validation with field violations, supervisors only, versions, idempotency,
its event in the outbox), GetShiftCalendar, and ListWorkCenterOutput from real operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mes.production.v1 import production_pb2 as pb
from mes_contracts.events import CALENDAR_CHANGED
from services.production.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.production._support import (
    OPERATOR_1,
    SERVICE,
    T,
    create_order,
    finish_op,
    line,
    op_name,
    outbox,
    ready,
    row_counts,
    setup_floor,
    start_op,
)

CALENDAR = "workCenters/CAST-1/calendar"
TWO_SHIFTS = [
    pb.ShiftWindow(weekday=day, start=start, end=end, name=name)
    for day in range(1, 7)
    for start, end, name in (("06:00", "14:00", "early"), ("14:00", "22:00", "late"))
]
#: Every day on shift: seven windows of 24 hours (an end equal to the start crosses midnight).
ALWAYS = [pb.ShiftWindow(weekday=day, start="00:00", end="00:00", name="day") for day in range(1, 8)]


def calendar(windows: list[pb.ShiftWindow], target: int = 12, zone: str = "Europe/Rome") -> pb.ShiftCalendar:
    return pb.ShiftCalendar(name=CALENDAR, time_zone=zone, windows=windows, output_target_per_hour=target)


async def set_calendar(
    stub: Any, cal: pb.ShiftCalendar, expected: int = 0, request_id: str = "", metadata: Any = SERVICE
) -> pb.ShiftCalendar:
    request = pb.SetShiftCalendarRequest(calendar=cal, expected_version=expected, request_id=request_id)
    return (await stub.SetShiftCalendar(request, metadata=metadata, timeout=T)).calendar


async def output(stub: Any, *codes: str, at: datetime | None = None) -> list[pb.WorkCenterOutput]:
    request = pb.ListWorkCenterOutputRequest(work_centers=[f"workCenters/{c}" for c in codes])
    if at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(at)
        request.at.CopyFrom(stamp)
    return list((await stub.ListWorkCenterOutput(request, metadata=SERVICE, timeout=T)).outputs)


async def test_set_get_and_change_a_calendar_with_versions_and_events(app: App, stub: Any) -> None:
    await setup_floor(stub)
    first = await set_calendar(stub, calendar(TWO_SHIFTS), request_id="cal-1")
    assert (first.name, first.time_zone, first.output_target_per_hour, first.version) == (
        CALENDAR,
        "Europe/Rome",
        12,
        1,
    )
    assert [(w.weekday, w.start, w.end, w.name) for w in first.windows[:2]] == [
        (1, "06:00", "14:00", "early"),
        (1, "14:00", "22:00", "late"),
    ]
    assert await set_calendar(stub, calendar(TWO_SHIFTS), request_id="cal-1") == first  # replayed
    assert (await set_calendar(stub, calendar(TWO_SHIFTS))).version == 1  # the same calendar changes nothing

    changed = await set_calendar(stub, calendar(TWO_SHIFTS, target=20), expected=1)
    assert (changed.version, changed.output_target_per_hour) == (2, 20)
    got = await stub.GetShiftCalendar(pb.GetShiftCalendarRequest(name=CALENDAR), metadata=SERVICE, timeout=T)
    assert got.calendar == changed

    stale = await fails(set_calendar(stub, calendar(TWO_SHIFTS, target=30), expected=1))
    assert (stale.code, stale.reason, stale.metadata["version"]) == (grpc.StatusCode.ABORTED, "VERSION_CONFLICT", "2")
    names = [CALENDAR, "workCenters/BENCH-1/calendar"]
    request = pb.BatchGetShiftCalendarsRequest(names=names, allow_missing=True)
    batch = await stub.BatchGetShiftCalendars(request, metadata=SERVICE, timeout=T)
    assert (list(batch.calendars), list(batch.missing_names)) == ([changed], ["workCenters/BENCH-1/calendar"])
    strict = await fails(
        stub.BatchGetShiftCalendars(pb.BatchGetShiftCalendarsRequest(names=names), metadata=SERVICE, timeout=T)
    )
    assert strict.code == grpc.StatusCode.NOT_FOUND
    malformed = pb.BatchGetShiftCalendarsRequest(names=["workCenters/CAST-1", CALENDAR])
    assert (await fails(stub.BatchGetShiftCalendars(malformed, metadata=SERVICE, timeout=T))).fields == ["names[0]"]

    events = await outbox(app, CALENDAR_CHANGED.subject)
    assert [e.calendar.output_target_per_hour for _, e in events] == [12, 20]


async def test_bad_calendars_are_refused_with_their_fields_and_write_nothing(app: App, stub: Any) -> None:
    await setup_floor(stub)
    before = await row_counts(app)
    overlapping = [*TWO_SHIFTS, pb.ShiftWindow(weekday=1, start="13:00", end="15:00", name="extra")]
    bad = await fails(set_calendar(stub, calendar(overlapping, target=100_001, zone="Mars/Olympus")))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.fields == [
        "calendar.time_zone",
        "calendar.output_target_per_hour",
        "calendar.windows[12]",  # overlaps the early shift
        "calendar.windows[12]",  # and the late one
    ]
    malformed = [pb.ShiftWindow(weekday=0, start="6:00", end="24:00", name="")]
    bad = await fails(set_calendar(stub, calendar(malformed)))
    assert bad.fields == [
        "calendar.windows[0].weekday",
        "calendar.windows[0].start",
        "calendar.windows[0].end",
        "calendar.windows[0].name",
    ]
    wrong_name = pb.ShiftCalendar(name="workCenters/CAST-1", time_zone="UTC", windows=TWO_SHIFTS)
    assert (await fails(set_calendar(stub, wrong_name))).fields == ["calendar.name"]
    unknown = pb.ShiftCalendar(name="workCenters/NOPE/calendar", time_zone="UTC", windows=TWO_SHIFTS)
    assert (await fails(set_calendar(stub, unknown))).code == grpc.StatusCode.NOT_FOUND
    denied = await fails(set_calendar(stub, calendar(TWO_SHIFTS), metadata=OPERATOR_1))  # OP-1 is no supervisor
    assert denied.code == grpc.StatusCode.PERMISSION_DENIED
    missing = await fails(stub.GetShiftCalendar(pb.GetShiftCalendarRequest(name=CALENDAR), metadata=SERVICE, timeout=T))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    assert await row_counts(app) == before


async def test_output_counts_finished_operations_busy_time_and_targets(app: App, stub: Any) -> None:
    await ready(stub)
    await set_calendar(stub, calendar(ALWAYS, target=60, zone="UTC"))
    (wo,) = await create_order(stub, "ORD-1", [line(1)])
    await start_op(stub, op_name(wo, 1), 5_000)
    await finish_op(stub, op_name(wo, 1), 4_950)
    at = datetime.now(UTC) + timedelta(seconds=1)

    cast, bench = await output(stub, "CAST-1", "BENCH-1", at=at)
    assert (cast.work_center, cast.shift_name, cast.output_target_per_hour) == ("workCenters/CAST-1", "day", 60)
    assert cast.shift_start_time.ToDatetime(tzinfo=UTC) == at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert (cast.finished_this_hour, cast.finished_this_shift) == (1, 1)
    assert cast.available_minutes > 0 and 0 < cast.busy_minutes <= cast.available_minutes
    assert cast.utilisation == cast.busy_minutes / cast.available_minutes
    assert cast.target_this_shift == int(cast.available_minutes)  # 60 per hour: one a minute
    # BENCH-1 has no calendar: off shift, no target, nothing finished there.
    assert (bench.shift_name, bench.HasField("shift_start_time"), bench.target_this_shift) == ("", False, 0)
    assert (bench.finished_this_hour, bench.busy_minutes, bench.utilisation) == (0, 0, 0)

    earlier = await output(stub, "CAST-1", at=at - timedelta(days=2))
    assert (earlier[0].finished_this_shift, earlier[0].busy_minutes) == (0, 0)


async def test_output_requests_are_checked(stub: Any) -> None:
    await setup_floor(stub)
    assert (await fails(output(stub))).fields == ["work_centers"]
    bad = await fails(
        stub.ListWorkCenterOutput(pb.ListWorkCenterOutputRequest(work_centers=["CAST-1"]), metadata=SERVICE, timeout=T)
    )
    assert bad.fields == ["work_centers[0]"]
    assert (await fails(output(stub, "CAST-1", "NOPE"))).code == grpc.StatusCode.NOT_FOUND
