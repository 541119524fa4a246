"""Shift calendars and output in the operators' schema (over the fake backend): ``WorkCenter.calendar``
and ``WorkCenter.output`` read with one call each for every work center of a request, the supervisors'
``setShiftCalendar`` and its errors, and the cache tags that keep answers showing them fresh."""

from __future__ import annotations

from datetime import UTC, datetime

from graphql_facade.response_cache.tags import touches
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events
from tests._infra.graphql import data, error
from tests.unit.graphql_facade.cache_tags import reads, touched
from tests.unit.graphql_facade.conftest import FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend

CALENDAR = "calendar { workCenterId timeZone windows { weekday start end name } outputTargetPerHour version }"
OUTPUT = (
    "output { shiftName shiftStart shiftEnd finishedThisHour targetThisHour finishedThisShift targetThisShift "
    "busyMinutes availableMinutes utilisation }"
)
SET = """mutation($id: ID!, $input: ShiftCalendarInput!, $version: Long, $key: String) {
  setShiftCalendar(workCenterId: $id, input: $input, expectedVersion: $version, idempotencyKey: $key) {
    workCenterId timeZone outputTargetPerHour version windows { weekday start end name }
  }
}"""
TWO_SHIFTS = [
    {"weekday": day, "start": start, "end": end, "name": name}
    for day in range(1, 7)
    for start, end, name in (("06:00", "14:00", "early"), ("14:00", "22:00", "late"))
]


async def test_set_a_calendar_then_read_it_with_the_output_of_every_center(
    client: FacadeClient, backend: FakeBackend
) -> None:
    variables = {"id": "CAST-1", "input": {"timeZone": "Europe/Rome", "windows": TWO_SHIFTS, "outputTargetPerHour": 12}}
    created = data(await client.gql(SET, {**variables, "key": "cal-1"}))["setShiftCalendar"]
    assert (created["workCenterId"], created["timeZone"], created["version"]) == ("CAST-1", "Europe/Rome", 1)
    [(_, sent)] = [(m, r) for m, r in backend.requests if m == "SetShiftCalendar"]
    assert (sent.calendar.name, sent.request_id, len(sent.calendar.windows)) == (
        "workCenters/CAST-1/calendar",
        "cal-1",
        12,
    )
    backend.outputs["CAST-1"] = prod.WorkCenterOutput(
        work_center="workCenters/CAST-1",
        shift_name="early",
        finished_this_hour=3,
        target_this_hour=6,
        finished_this_shift=20,
        target_this_shift=24,
        busy_minutes=90,
        available_minutes=120,
        utilisation=0.75,
    )
    backend.outputs["CAST-1"].shift_start_time.FromDatetime(datetime(2026, 12, 7, 5, 0, tzinfo=UTC))
    backend.reset_calls()

    query = f"{{ workCenters(first: 10) {{ nodes {{ code {CALENDAR} {OUTPUT} }} }} }}"
    nodes = {n["code"]: n for n in data(await client.gql(query))["workCenters"]["nodes"]}
    assert nodes["CAST-1"]["calendar"]["windows"][0] == {
        "weekday": 1,
        "start": "06:00",
        "end": "14:00",
        "name": "early",
    }
    assert nodes["CAST-1"]["calendar"]["outputTargetPerHour"] == 12
    assert nodes["CAST-1"]["output"] == {
        "shiftName": "early",
        "shiftStart": "2026-12-07T05:00:00+00:00",
        "shiftEnd": None,
        "finishedThisHour": 3,
        "targetThisHour": 6,
        "finishedThisShift": 20,
        "targetThisShift": 24,
        "busyMinutes": 90.0,
        "availableMinutes": 120.0,
        "utilisation": 0.75,
    }
    assert nodes["POL-1"]["calendar"] is None and nodes["POL-1"]["output"]["shiftName"] is None
    assert backend.count("BatchGetShiftCalendars", "ListWorkCenterOutput") == {
        "BatchGetShiftCalendars": 1,
        "ListWorkCenterOutput": 1,
    }  # one call each for every center of the page
    [(_, asked)] = [(m, r) for m, r in backend.requests if m == "ListWorkCenterOutput"]
    assert sorted(asked.work_centers) == ["workCenters/CAST-1", "workCenters/FILE-1", "workCenters/POL-1"]


async def test_set_calendar_errors_are_mapped(client: FacadeClient, backend: FakeBackend) -> None:
    variables = {"id": "CAST-1", "input": {"timeZone": "UTC", "windows": TWO_SHIFTS}}
    assert data(await client.gql(SET, variables))["setShiftCalendar"]["version"] == 1
    stale = error(await client.gql(SET, {**variables, "version": 5}))
    assert stale["extensions"]["code"] == "VERSION_CONFLICT"
    missing = error(await client.gql(SET, {**variables, "id": "NOWHERE"}))
    assert missing["extensions"]["code"] == "NOT_FOUND"
    bad_id = error(await client.gql(SET, {**variables, "id": "no/such"}))
    assert bad_id["extensions"]["code"] == "INVALID_ARGUMENT"
    bad_key = error(await client.gql(SET, {**variables, "key": " spaced "}))
    assert bad_key["extensions"]["fieldViolations"][0]["field"] == "idempotencyKey"
    assert backend.calls["SetShiftCalendar"] == 3  # the malformed ones never reach the service


def test_calendar_and_operation_events_make_answers_showing_output_stale() -> None:
    calendar_set = touched(
        events.CALENDAR_CHANGED,
        prod_ev.ShiftCalendarChangedEvent(calendar=prod.ShiftCalendar(name="workCenters/CAST-1/calendar")),
    )
    assert {"wc:CAST-1", "wc:*"} <= calendar_set
    finished = touched(
        events.OPERATION_FINISHED,
        prod_ev.OperationChangedEvent(operation=prod.Operation(order_id="o1", work_center="workCenters/CAST-1")),
    )
    output = '{ workCenter(id: "CAST-1") { output { finishedThisHour utilisation } } }'
    answer = {"workCenter": {"output": {"finishedThisHour": 1, "utilisation": 0.5}}}
    assert "wc:CAST-1" in reads(output, answer) & finished & calendar_set
    listed = "{ workCenters(first: 5) { nodes { code calendar { version } output { targetThisShift } } } }"
    answer = {"workCenters": {"nodes": [{"code": "POL-1", "calendar": None, "output": {"targetThisShift": 0}}]}}
    assert "wc:POL-1" in reads(listed, answer)
    other = touched(
        events.CALENDAR_CHANGED,
        prod_ev.ShiftCalendarChangedEvent(calendar=prod.ShiftCalendar(name="workCenters/POL-1/calendar")),
    )
    nested = '{ workCenter(id: "CAST-1") { calendar { version } } }'
    assert "wc:POL-1" not in reads(nested, {"workCenter": {"calendar": {"version": 1}}}) & other
    unreadable = touches(events.CALENDAR_CHANGED.subject, prod_ev.ShiftCalendarChangedEvent().SerializeToString())
    assert unreadable is None  # no work center: it touches every answer
