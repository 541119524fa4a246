"""In-memory repositories of shift calendars and of the work centers' output facts (on
``FakeState``), with the SQL adapters' semantics (``adapters/calendar_repository.py``)."""

from __future__ import annotations

import copy
from collections.abc import Collection
from datetime import datetime

from mes_kernel.errors import Conflict
from mes_kernel.uow import WriteConflict
from services.production.domain.operations import OperationStatus
from services.production.domain.shifts import ShiftCalendar, WorkSpan
from tests.unit.production._fake_repositories import FakeRepository

__all__ = ["FakeFloorOutputRepository", "FakeShiftCalendarRepository"]

_S = OperationStatus


class FakeShiftCalendarRepository(FakeRepository):
    async def get(self, work_center: str, *, for_update: bool = False) -> ShiftCalendar | None:
        return copy.deepcopy(self._state.calendars.get(work_center))

    async def get_many(self, work_centers: Collection[str]) -> dict[str, ShiftCalendar]:
        return {c: copy.deepcopy(self._state.calendars[c]) for c in work_centers if c in self._state.calendars}

    async def add(self, calendar: ShiftCalendar) -> None:
        if calendar.work_center in self._state.calendars or calendar.work_center not in self._state.work_centers:
            raise WriteConflict(f"cannot insert the calendar of {calendar.work_center!r}")
        self._state.calendars[calendar.work_center] = copy.deepcopy(calendar)

    async def update(self, calendar: ShiftCalendar) -> None:
        stored = self._state.calendars.get(calendar.work_center)
        if stored is None or stored.version != calendar.version:
            raise Conflict("work_center_calendars row changed concurrently; retry")
        calendar.version += 1
        self._state.calendars[calendar.work_center] = copy.deepcopy(calendar)


class FakeFloorOutputRepository(FakeRepository):
    async def finish_times(
        self, work_centers: Collection[str], since: datetime, until: datetime
    ) -> list[tuple[str, datetime]]:
        return [
            (a.work_center, a.finish_time)
            for a in self._state.attempts.values()
            if a.work_center in work_centers and a.finish_time is not None and since <= a.finish_time <= until
        ]

    async def work_spans(self, work_centers: Collection[str], since: datetime, until: datetime) -> list[WorkSpan]:
        spans = []
        for op in self._state.operations.values():
            if op.work_center not in work_centers or op.start_time is None or op.start_time >= until:
                continue
            if op.status is _S.IN_PROGRESS:
                end = None
            elif op.status is _S.PAUSED:
                end = op.pause_time
            else:
                end = op.finish_time or op.update_time
            if end is None or end >= since or op.status in (_S.IN_PROGRESS, _S.PAUSED):
                spans.append(WorkSpan(op.work_center, op.start_time, end, op.paused_seconds))
        return spans
