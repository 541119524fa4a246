"""Shift calendars and output through the facade against the real services (SQLite, in process): a
supervisor sets a work center's calendar, its pages show it and its output from the operations the
production service stored; a stale version and a bad zone are refused with their codes."""

from __future__ import annotations

from tests._infra.graphql import data, error_code
from tests.integration.graphql_facade.conftest import facade_app, first_operation, start_operation
from tests.integration.graphql_facade.facade_stack import Stack, create_partner, seed_orders

SET = """mutation($id: ID!, $input: ShiftCalendarInput!, $version: Long) {
  setShiftCalendar(workCenterId: $id, input: $input, expectedVersion: $version) { workCenterId version }
}"""
#: Every day on shift: seven windows of 24 hours (an end equal to the start crosses midnight).
ALWAYS = [{"weekday": day, "start": "00:00", "end": "00:00", "name": "day"} for day in range(1, 8)]


async def test_set_a_calendar_and_read_the_output_through_the_facade(stack: Stack) -> None:
    await create_partner(stack, "acme")
    [order_id] = await seed_orders(stack, "acme", 1)
    async with facade_app(stack.facade_settings()) as facade:
        first = await first_operation(facade, order_id, "id workCenterId")
        center = first["workCenterId"]
        calendar = {"timeZone": "UTC", "windows": ALWAYS, "outputTargetPerHour": 60}
        created = data(await facade.gql(SET, {"id": center, "input": calendar}))["setShiftCalendar"]
        assert created == {"workCenterId": center, "version": 1}
        stale = await facade.gql(SET, {"id": center, "input": {**calendar, "outputTargetPerHour": 5}, "version": 9})
        assert error_code(stale) == "VERSION_CONFLICT"
        bad_zone = await facade.gql(SET, {"id": center, "input": {**calendar, "timeZone": "Atlantis/Capital"}})
        assert error_code(bad_zone) == "INVALID_ARGUMENT"

        assert await start_operation(facade, first["id"]) == "IN_PROGRESS"
        query = """query($id: ID!) { workCenter(id: $id) {
          calendar { timeZone outputTargetPerHour version windows { weekday start end name } }
          output { shiftName finishedThisShift targetThisShift busyMinutes availableMinutes utilisation }
        } }"""
        shown = data(await facade.gql(query, {"id": center}))["workCenter"]
        assert shown["calendar"]["timeZone"] == "UTC" and shown["calendar"]["version"] == 1
        assert shown["calendar"]["windows"][0] == {"weekday": 1, "start": "00:00", "end": "00:00", "name": "day"}
        output = shown["output"]
        assert (output["shiftName"], output["finishedThisShift"]) == ("day", 0)
        assert output["availableMinutes"] > 0 and 0 <= output["busyMinutes"] <= output["availableMinutes"]
        listed = data(
            await facade.gql("{ workCenters(first: 10) { nodes { id calendar { version } output { shiftName } } } }")
        )
        by_id = {n["id"]: n for n in listed["workCenters"]["nodes"]}
        assert by_id[center]["calendar"] == {"version": 1} and by_id[center]["output"] == {"shiftName": "day"}
        assert all(n["calendar"] is None for code, n in by_id.items() if code != center)
