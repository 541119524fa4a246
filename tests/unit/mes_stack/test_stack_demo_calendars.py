"""The demo shift calendars: every demo work center has two shifts, Monday to Saturday, in the
plant's zone, that the production service accepts, and an hourly target."""

from __future__ import annotations

from datetime import time

from mes_stack import demo_data as d
from mes_stack.demo import calendar_message
from services.production.domain.shifts import validate_calendar


def test_every_demo_work_center_has_a_valid_two_shift_calendar() -> None:
    assert [cal.work_center for cal in d.CALENDARS] == [wc.code for wc in d.WORK_CENTERS]
    for cal in d.CALENDARS:
        windows = validate_calendar(
            cal.time_zone, [(w.weekday, w.start, w.end, w.name) for w in cal.windows], cal.output_target_per_hour
        )
        assert cal.time_zone == d.PLANT_TIME_ZONE == "Europe/Rome"
        assert {w.weekday for w in windows} == set(range(1, 7))
        assert {(w.start, w.end, w.name) for w in windows} == {
            (time(6), time(14), "early"),
            (time(14), time(22), "late"),
        }
        assert cal.output_target_per_hour > 0


def test_a_calendar_message_names_its_work_center() -> None:
    message = calendar_message(d.CALENDARS[0])
    assert message.name == f"workCenters/{d.WORK_CENTERS[0].code}/calendar"
    assert (message.windows[0].weekday, message.windows[0].start, message.windows[0].end) == (1, "06:00", "14:00")
    assert message.output_target_per_hour == d.CALENDARS[0].output_target_per_hour
