"""Shift calendars and the work centers' output: set and read a work center's calendar (its
shifts and hourly target), and its output against the target and its utilisation at an instant.

Setting a calendar is for supervisors and services (an operator's token must belong to an
active supervisor); it is idempotent by request_id and writes ``ShiftCalendarChanged`` to the
outbox. The output of many work centers is read with one query per kind (calendars, finished
attempts, operations at the bench), whatever the number of centers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mes_kernel.batch import BatchResult, check_batch_size
from mes_kernel.errors import Conflict, NotFound, PermissionDenied
from mes_kernel.principal import Principal, require_staff
from mes_kernel.validation import Violations
from services.production.domain.resources import OperatorRole
from services.production.domain.shifts import (
    OutputFigures,
    ShiftCalendar,
    ShiftCalendarChanged,
    WorkSpan,
    hour_start,
    output_at,
    shift_at,
    validate_calendar,
)
from services.production.service_layer.commands import BatchGet
from services.production.service_layer.common import UseCases, found
from services.production.service_layer.ports import UnitOfWork

__all__ = [
    "GetShiftCalendar",
    "ListWorkCenterOutput",
    "SetShiftCalendar",
    "ShiftHandlers",
    "WindowSpec",
    "WorkCenterOutput",
]

#: A window as a request gives it: ISO weekday, local start and end "HH:MM", name.
WindowSpec = tuple[int, str, str, str]


@dataclass(frozen=True, slots=True)
class SetShiftCalendar:
    principal: Principal
    work_center: str
    time_zone: str
    windows: tuple[WindowSpec, ...]
    output_target_per_hour: int
    #: The version the caller read (0: no check).
    expected_version: int = 0
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class GetShiftCalendar:
    principal: Principal
    work_center: str


@dataclass(frozen=True, slots=True)
class ListWorkCenterOutput:
    principal: Principal
    work_centers: tuple[str, ...]
    #: The instant to compute at (None: now).
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WorkCenterOutput:
    """One work center's figures, with its hourly target (0: none or no calendar)."""

    work_center: str
    output_target_per_hour: int
    figures: OutputFigures


async def _require_supervisor(uow: UnitOfWork, principal: Principal) -> None:
    """Services, and operators whose code is an active supervisor's."""
    require_staff(principal)
    if principal.kind == "service":
        return
    operator = await uow.operators.get(principal.subject)
    if operator is None or not operator.active or operator.role is not OperatorRole.SUPERVISOR:
        raise PermissionDenied("only a supervisor may set a shift calendar", reason="SUPERVISOR_REQUIRED")


class ShiftHandlers(UseCases):
    async def set_shift_calendar(self, cmd: SetShiftCalendar) -> ShiftCalendar:
        """Create or replace the work center's calendar: INVALID_ARGUMENT for a malformed one,
        ABORTED when ``expected_version`` is set and the stored version differs (0 when there is
        none yet). The same calendar again changes nothing (same version, no event)."""
        require_staff(cmd.principal)
        v = Violations()
        v.code(cmd.work_center, "calendar.name")
        v.non_negative(cmd.expected_version, "expected_version")
        v.request_id(cmd.request_id)
        v.raise_if_any("the request has invalid fields")
        windows = validate_calendar(cmd.time_zone, cmd.windows, cmd.output_target_per_hour)
        now = self._deps.clock()

        async def create(uow: UnitOfWork) -> tuple[str, ShiftCalendar]:
            await _require_supervisor(uow, cmd.principal)
            found(await uow.work_centers.get(cmd.work_center), f"work center {cmd.work_center}")
            calendar = await uow.calendars.get(cmd.work_center, for_update=True)
            current = calendar.version if calendar else 0
            if cmd.expected_version and cmd.expected_version != current:
                raise Conflict(
                    f"the calendar of {cmd.work_center} is at version {current}, not {cmd.expected_version}",
                    metadata={"work_center": cmd.work_center, "version": str(current)},
                )
            wanted = ShiftCalendar(cmd.work_center, cmd.time_zone, windows, cmd.output_target_per_hour, now, now)
            if calendar is None:
                calendar = wanted
                await uow.calendars.add(calendar)
            elif calendar.same_as(wanted):
                return cmd.work_center, calendar
            else:
                calendar.time_zone, calendar.windows = wanted.time_zone, wanted.windows
                calendar.output_target_per_hour, calendar.update_time = wanted.output_target_per_hour, now
                await uow.calendars.update(calendar)
            await uow.emit(ShiftCalendarChanged(calendar))
            return cmd.work_center, calendar

        async def load(uow: UnitOfWork, code: str) -> ShiftCalendar:
            return found(await uow.calendars.get(code), f"calendar of work center {code}")

        return await self._once(cmd, "SetShiftCalendar", create, load)

    async def get_shift_calendar(self, query: GetShiftCalendar) -> ShiftCalendar:
        """NOT_FOUND when the work center does not exist or has no calendar."""
        require_staff(query.principal)
        async with self._uows.read() as uow:
            return found(await uow.calendars.get(query.work_center), f"calendar of work center {query.work_center}")

    async def batch_get_shift_calendars(self, query: BatchGet[str]) -> BatchResult[str, ShiftCalendar]:
        """Calendars of work centers in key order; one without a calendar is NOT_FOUND unless
        ``allow_missing``."""
        require_staff(query.principal)
        return await self._batch(
            query, lambda uow, codes: uow.calendars.get_many(codes), "workCenters/{}/calendar".format
        )

    async def list_work_center_output(self, query: ListWorkCenterOutput) -> list[WorkCenterOutput]:
        """Each work center's output, target and utilisation at ``query.at`` (now when unset), in
        request order (a code named twice answers twice); NOT_FOUND for an unknown work center."""
        require_staff(query.principal)
        v = Violations()
        v.check(bool(query.work_centers), "work_centers", "is required")
        v.raise_if_any()
        check_batch_size(len(query.work_centers), "work_centers")
        at = (query.at or self._deps.clock()).astimezone(UTC)
        codes = set(query.work_centers)
        async with self._uows.read() as uow:
            centers = await uow.work_centers.get_many(codes)
            missing = [code for code in query.work_centers if code not in centers]
            if missing:
                raise NotFound(f"work center {missing[0]} not found", metadata={"missing": missing[0]})
            calendars = await uow.calendars.get_many(codes)
            since = min(_window_start(calendars.get(code), at) for code in codes)
            finishes = await uow.floor_output.finish_times(codes, since, at)
            spans = await uow.floor_output.work_spans(codes, since, at)
        times: dict[str, list[datetime]] = {}
        for code, finish_time in finishes:
            times.setdefault(code, []).append(finish_time)
        at_bench: dict[str, list[WorkSpan]] = {}
        for span in spans:
            at_bench.setdefault(span.work_center, []).append(span)
        return [
            WorkCenterOutput(
                code,
                calendars[code].output_target_per_hour if code in calendars else 0,
                output_at(calendars.get(code), at, times.get(code, ()), at_bench.get(code, ())),
            )
            for code in query.work_centers
        ]


def _window_start(calendar: ShiftCalendar | None, at: datetime) -> datetime:
    """The earliest instant a center's figures at ``at`` look at: its shift's start or its hour's."""
    zone = calendar.zone if calendar else UTC
    shift = shift_at(calendar.windows, zone, at) if calendar else None
    hour = hour_start(at, zone)
    return min(hour, shift.start) if shift else hour
