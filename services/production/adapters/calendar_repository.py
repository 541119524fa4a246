"""Work centers' shift calendars, and the facts their output is computed from (finished
attempts, operations at the bench), on SQLAlchemy."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from mes_platform.sql import first_row, one_of
from services.production.adapters import tables as t
from services.production.adapters.rows import from_row, update_versioned
from services.production.domain.operations import OperationStatus
from services.production.domain.shifts import ShiftCalendar, ShiftWindow, WorkSpan, parse_clock

__all__ = ["SqlFloorOutputRepository", "SqlShiftCalendarRepository", "windows_from_json", "windows_to_json"]

_C, _O, _A = t.work_center_calendars, t.operations, t.operation_attempts
_AT_BENCH = (OperationStatus.IN_PROGRESS.value, OperationStatus.PAUSED.value)


def windows_to_json(windows: Sequence[ShiftWindow]) -> list[dict[str, Any]]:
    return [
        {"weekday": w.weekday, "start": w.start.strftime("%H:%M"), "end": w.end.strftime("%H:%M"), "name": w.name}
        for w in windows
    ]


def windows_from_json(data: Sequence[dict[str, Any]]) -> tuple[ShiftWindow, ...]:
    windows = []
    for d in data:
        start, end = parse_clock(str(d["start"])), parse_clock(str(d["end"]))
        if start is None or end is None:
            raise ValueError(f"stored shift window {d!r} is malformed")
        windows.append(ShiftWindow(int(d["weekday"]), start, end, str(d["name"])))
    return tuple(windows)


def _calendar(row: Any) -> ShiftCalendar:
    return from_row(ShiftCalendar, row, windows=windows_from_json(row.windows))


class SqlShiftCalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, work_center: str, *, for_update: bool = False) -> ShiftCalendar | None:
        row = await first_row(self._s, _C, _C.c.work_center == work_center, for_update=for_update)
        return _calendar(row) if row else None

    async def get_many(self, work_centers: Collection[str]) -> dict[str, ShiftCalendar]:
        if not work_centers:
            return {}
        rows = await self._s.execute(select(_C).where(one_of(self._s, _C.c.work_center, work_centers)))
        return {row.work_center: _calendar(row) for row in rows}

    async def add(self, calendar: ShiftCalendar) -> None:
        await self._s.execute(
            insert(_C).values(
                work_center=calendar.work_center,
                time_zone=calendar.time_zone,
                windows=windows_to_json(calendar.windows),
                output_target_per_hour=calendar.output_target_per_hour,
                version=calendar.version,
                created_at=calendar.create_time,
                updated_at=calendar.update_time,
            )
        )

    async def update(self, calendar: ShiftCalendar) -> None:
        calendar.version = await update_versioned(
            self._s,
            _C,
            [_C.c.work_center == calendar.work_center],
            calendar.version,
            {
                "time_zone": calendar.time_zone,
                "windows": windows_to_json(calendar.windows),
                "output_target_per_hour": calendar.output_target_per_hour,
                "updated_at": calendar.update_time,
            },
        )


class SqlFloorOutputRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def finish_times(
        self, work_centers: Collection[str], since: datetime, until: datetime
    ) -> list[tuple[str, datetime]]:
        query = select(_A.c.work_center, _A.c.finish_time).where(
            one_of(self._s, _A.c.work_center, work_centers), _A.c.finish_time >= since, _A.c.finish_time <= until
        )
        return [(row.work_center, as_utc(row.finish_time)) for row in await self._s.execute(query)]

    async def work_spans(self, work_centers: Collection[str], since: datetime, until: datetime) -> list[WorkSpan]:
        """An operation stopped when it finished (DONE, LOSS_REVIEW, REWORK), when it was paused
        (PAUSED) or cancelled (its last change); IN_PROGRESS ones have not stopped."""
        query = select(
            _O.c.work_center,
            _O.c.status,
            _O.c.start_time,
            _O.c.finish_time,
            _O.c.pause_time,
            _O.c.paused_seconds,
            _O.c.updated_at,
        ).where(
            one_of(self._s, _O.c.work_center, work_centers),
            _O.c.start_time.is_not(None),
            _O.c.start_time < until,
            or_(
                _O.c.status.in_(_AT_BENCH),
                _O.c.finish_time >= since,
                and_(_O.c.status == OperationStatus.CANCELLED.value, _O.c.updated_at >= since),
            ),
        )
        return [_span(row) for row in await self._s.execute(query)]


def _span(row: Any) -> WorkSpan:
    status = OperationStatus(row.status)
    end: datetime | None
    if status is OperationStatus.IN_PROGRESS:
        end = None
    elif status is OperationStatus.PAUSED:
        end = row.pause_time
    else:  # finished, or cancelled (its last change)
        end = row.finish_time or row.updated_at
    return WorkSpan(row.work_center, as_utc(row.start_time), as_utc(end) if end else None, int(row.paused_seconds or 0))
