"""``mesctl production work-center calendar show|set`` and ``work-center output`` against the
real production service (in process, SQLite), and the client methods under them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clients import ConflictError, InvalidArgumentError, MesClients
from mes.production.v1 import production_pb2 as prod
from tests.integration.clients.clients_real_services import RealStack, real_stack
from tests.integration.clients.clients_stack import mesctl, mesctl_json


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as services:
        async with MesClients(services.config) as mes:
            await mes.production.upsert_work_center(
                prod.WorkCenter(code="CAST-1", work_center_type="CAST", display_name="Casting", capacity=2, active=True)
            )
        yield services


async def test_set_a_calendar_from_flags_then_from_a_file(
    real: RealStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ("production", "work-center", "calendar", "set", "CAST-1", "--zone", "Europe/Rome")
    shifts = ("--shift", "1-6 06:00-14:00 early", "--shift", "1-6 14:00-22:00 late", "--target", "12")
    assert await mesctl(real, *argv, *shifts, "--request-id", "cal-1") == 0
    text = capsys.readouterr().out
    assert "Europe/Rome" in text and "early" in text and "late" in text
    shown = await mesctl_json(real, capsys, "production", "work-center", "calendar", "show", "workCenters/CAST-1")
    assert (shown["name"], shown["output_target_per_hour"], shown["version"]) == (
        "workCenters/CAST-1/calendar",
        12,
        "1",
    )
    assert len(shown["windows"]) == 12 and shown["windows"][0] == {
        "weekday": 1,
        "start": "06:00",
        "end": "14:00",
        "name": "early",
    }

    night = {"time_zone": "UTC", "windows": [{"weekday": 7, "start": "22:00", "end": "06:00", "name": "night"}]}
    path = tmp_path / "night.json"
    path.write_text(json.dumps({**night, "output_target_per_hour": 4}), encoding="utf-8")
    file_argv = ("production", "work-center", "calendar", "set", "CAST-1", "--file", str(path))
    stale = await mesctl(real, *file_argv, "--expected-version", "7")
    assert stale == 1 and capsys.readouterr().err.startswith("error: ABORTED")
    replaced = await mesctl_json(real, capsys, *file_argv, "--expected-version", "1")
    assert (replaced["time_zone"], replaced["version"], replaced["output_target_per_hour"]) == ("UTC", "2", 4)

    outputs = await mesctl_json(
        real, capsys, "production", "work-center", "output", "CAST-1", "--at", "2026-12-07T03:00"
    )
    assert outputs[0]["work_center"] == "workCenters/CAST-1" and outputs[0]["shift_name"] == "night"
    assert await mesctl(real, "production", "work-center", "output", "CAST-1", "--at", "2026-12-07T12:00") == 0
    [row] = capsys.readouterr().out.splitlines()[2:]
    assert row.split()[:2] == ["CAST-1", "(off"]


async def test_bad_calendars_are_refused(real: RealStack, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ("production", "work-center", "calendar", "set", "CAST-1")
    assert await mesctl(real, *argv, "--zone", "UTC", "--shift", "mondays 6-14 early") == 2
    assert "bad shift" in capsys.readouterr().err
    assert await mesctl(real, *argv, "--zone", "UTC") == 2
    assert "--shift" in capsys.readouterr().err
    overlapping = ("--shift", "1 06:00-14:00 early", "--shift", "1 13:00-15:00 extra")
    assert await mesctl(real, *argv, "--zone", "Nowhere/Land", *overlapping) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: INVALID_ARGUMENT") and "calendar.time_zone" in err and "calendar.windows[1]" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert await mesctl(real, *argv, "--file", str(broken)) == 2
    assert "bad calendar" in capsys.readouterr().err
    assert await mesctl(real, "production", "work-center", "calendar", "show", "CAST-1") == 1
    assert capsys.readouterr().err.startswith("error: NOT_FOUND")

    async with MesClients(real.config) as mes:
        calendar = prod.ShiftCalendar(name="workCenters/CAST-1/calendar", time_zone="UTC", output_target_per_hour=-1)
        with pytest.raises(InvalidArgumentError):
            await mes.production.set_shift_calendar(calendar)
        calendar.output_target_per_hour = 3
        assert (await mes.production.set_shift_calendar(calendar)).version == 1
        with pytest.raises(ConflictError):
            await mes.production.set_shift_calendar(calendar, expected_version=5)
        [output] = await mes.production.list_work_center_output(work_centers=["workCenters/CAST-1"])
        assert (output.shift_name, output.utilisation) == ("", 0)
