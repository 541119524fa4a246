"""Shift calendars and output of ``mesctl production work-center``: ``calendar show``, ``calendar
set`` (from a JSON file or from flags) and ``output`` (against the hourly target, and utilisation).

A calendar's JSON is a ``mes.production.v1.ShiftCalendar`` without its name::

    {"time_zone": "Europe/Rome", "output_target_per_hour": 12,
     "windows": [{"weekday": 1, "start": "06:00", "end": "14:00", "name": "early"}, ...]}

With flags, ``--shift "1-6 06:00-14:00 early"`` adds that window on Monday to Saturday (days
``1-6``, ``1,3,5`` or ``7``; ISO weekdays, 1 is Monday); an end at or before the start crosses
midnight.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import json_format

from clients.cli._app import CliUsageError, Context, Subcommands, add_command, add_group
from clients.cli._args import parse_since, resource_name
from clients.cli._render import details, table, when
from mes.production.v1 import production_pb2 as pb

__all__ = ["add_commands", "calendar_details", "output_table", "parse_shift"]

_SHIFT = re.compile(r"^\s*([1-7](?:-[1-7])?(?:,[1-7](?:-[1-7])?)*)\s+(\d\d:\d\d)-(\d\d:\d\d)\s+(\S.*?)\s*$")


def add_commands(work_center: Subcommands) -> None:
    """``calendar show|set`` and ``output`` under ``mesctl production work-center``."""
    calendar = add_group(work_center, "calendar", "a work center's shift calendar and hourly target: show, set")
    p = add_command(calendar, "show", _calendar_show, "show a work center's shift calendar")
    p.add_argument("work_center", help="code or workCenters/<code>")
    p = add_command(calendar, "set", _calendar_set, "set a work center's shift calendar (supervisors)")
    p.add_argument("work_center", help="code or workCenters/<code>")
    p.add_argument("--file", type=Path, help="the calendar as JSON (time_zone, windows, output_target_per_hour)")
    p.add_argument("--zone", help="IANA time zone of the shifts, e.g. Europe/Rome")
    p.add_argument(
        "--shift",
        action="append",
        default=[],
        help="'DAYS HH:MM-HH:MM NAME', e.g. '1-6 06:00-14:00 early' (repeatable)",
    )
    p.add_argument("--target", type=int, help="pieces per hour while on shift (0: no target)")
    p.add_argument("--expected-version", type=int, default=0, help="refuse unless the calendar is at this version")
    p.add_argument("--request-id", help="idempotency key (default: generated)")
    p = add_command(work_center, "output", _output, "output against target and utilisation, this hour and shift")
    p.add_argument("work_centers", nargs="+", help="codes or workCenters/<code>")
    p.add_argument("--at", help="ISO date-time to compute at (default: now; naive = UTC)")


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        low, high = int(first), int(last or first)
        if high < low:
            raise CliUsageError(f"bad days {part!r}: the first day comes first (1 Monday .. 7 Sunday)")
        days.extend(range(low, high + 1))
    return days


def parse_shift(spec: str) -> list[pb.ShiftWindow]:
    """``'1-6 06:00-14:00 early'``: one window per day named."""
    match = _SHIFT.match(spec)
    if match is None:
        raise CliUsageError(f"bad shift {spec!r}: want 'DAYS HH:MM-HH:MM NAME', e.g. '1-6 06:00-14:00 early'")
    days, start, end, name = match.groups()
    return [pb.ShiftWindow(weekday=day, start=start, end=end, name=name) for day in _days(days)]


def _from_file(path: Path) -> pb.ShiftCalendar:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return json_format.ParseDict(data, pb.ShiftCalendar())
    except OSError as exc:
        raise CliUsageError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, json_format.ParseError) as exc:
        raise CliUsageError(f"bad calendar in {path}: {exc}") from None


def _calendar(args: argparse.Namespace) -> pb.ShiftCalendar:
    if args.file is not None:
        if args.zone or args.shift:
            raise CliUsageError("give the calendar either with --file or with --zone and --shift, not both")
        calendar = _from_file(args.file)
    else:
        if not args.zone or not args.shift:
            raise CliUsageError("give --file, or --zone and at least one --shift")
        windows = [window for spec in args.shift for window in parse_shift(spec)]
        calendar = pb.ShiftCalendar(time_zone=args.zone, windows=windows)
    if args.target is not None:
        calendar.output_target_per_hour = args.target
    calendar.name = f"{resource_name(args.work_center, 'workCenters')}/calendar"
    return calendar


def calendar_details(c: pb.ShiftCalendar) -> str:
    head = details(
        [
            ("name", c.name),
            ("time zone", c.time_zone),
            ("target per hour", c.output_target_per_hour or "-"),
            ("version", c.version),
            ("updated", when(c.update_time)),
        ]
    )
    rows = [(w.weekday, w.start, w.end, w.name) for w in c.windows]
    return f"{head}\n\nshifts:\n{table(['WEEKDAY', 'START', 'END', 'NAME'], rows, empty='(no shifts)')}"


def output_table(outputs: Sequence[pb.WorkCenterOutput]) -> str:
    rows = [
        (
            o.work_center.removeprefix("workCenters/"),
            o.shift_name or "(off shift)",
            f"{o.finished_this_hour}/{o.target_this_hour}",
            f"{o.finished_this_shift}/{o.target_this_shift}",
            f"{o.busy_minutes:.0f}/{o.available_minutes:.0f}",
            f"{o.utilisation:.0%}",
        )
        for o in outputs
    ]
    headers = ["WORK CENTER", "SHIFT", "HOUR (done/target)", "SHIFT (done/target)", "BUSY/AVAILABLE (min)", "UTIL"]
    return table(headers, rows)


async def _calendar_show(args: argparse.Namespace, ctx: Context) -> None:
    name = f"{resource_name(args.work_center, 'workCenters')}/calendar"
    c = await ctx.clients.production.get_shift_calendar(name)
    ctx.output.emit(c, lambda: calendar_details(c))


async def _calendar_set(args: argparse.Namespace, ctx: Context) -> None:
    c = await ctx.clients.production.set_shift_calendar(
        _calendar(args), expected_version=args.expected_version, request_id=args.request_id
    )
    ctx.output.emit(c, lambda: calendar_details(c))


async def _output(args: argparse.Namespace, ctx: Context) -> None:
    names = [resource_name(code, "workCenters") for code in args.work_centers]
    at = parse_since(args.at) if args.at else None
    outputs = await ctx.clients.production.list_work_center_output(work_centers=names, at=at)
    ctx.output.emit(outputs, lambda: output_table(outputs))
