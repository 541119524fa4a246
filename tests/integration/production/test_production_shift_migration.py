"""Migration 0004 on a database at 0003 with a work center (SQLite and PostgreSQL): the
calendars table is added empty (existing centers are off shift), holds a calendar, and the
downgrade drops it again without touching the work centers."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import insert, inspect, select

from mes_platform.db import Database
from mes_platform.migrations import alembic_config, upgrade
from services.production.adapters import tables as t
from services.production.adapters.calendar_repository import SqlShiftCalendarRepository
from services.production.bootstrap import SPEC
from services.production.domain.shifts import ShiftCalendar, validate_calendar
from tests.unit.production._factories import NOW


async def _tables(db: Database) -> set[str]:
    async with db.read() as session:
        connection = await session.connection()
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names(schema=None)))


async def test_the_upgrade_from_0003_adds_calendars_and_downgrades(db_url: str) -> None:
    await upgrade(SPEC.migrations, db_url, SPEC.name, "0003")
    db = Database(db_url, schema=SPEC.name)
    try:
        async with db.write() as session:
            await session.execute(
                insert(t.work_centers).values(
                    code="CAST-1",
                    work_center_type="CAST",
                    display_name="Casting",
                    capacity=2,
                    active=True,
                    version=1,
                    created_at=NOW,
                    updated_at=NOW,
                    state="IDLE",
                    state_reason="",
                    state_time=NOW,
                    state_by="",
                )
            )
        assert "work_center_calendars" not in await _tables(db)
        await upgrade(SPEC.migrations, db_url, SPEC.name, "0004")
        windows = validate_calendar("Europe/Rome", [(1, "06:00", "14:00", "early"), (1, "22:00", "06:00", "night")], 9)
        async with db.write() as session:
            repository = SqlShiftCalendarRepository(session)
            assert await repository.get_many(["CAST-1"]) == {}
            await repository.add(ShiftCalendar("CAST-1", "Europe/Rome", windows, 9, NOW, NOW))
        async with db.read() as session:
            stored = await SqlShiftCalendarRepository(session).get("CAST-1")
        assert stored is not None and (stored.windows, stored.output_target_per_hour, stored.version) == (windows, 9, 1)

        config = alembic_config(SPEC.migrations, db_url, SPEC.name)
        await asyncio.to_thread(command.downgrade, config, "0003")
        assert "work_center_calendars" not in await _tables(db)
        async with db.read() as session:
            assert (await session.execute(select(t.work_centers.c.code))).scalars().all() == ["CAST-1"]
        await upgrade(SPEC.migrations, db_url, SPEC.name)
        assert "work_center_calendars" in await _tables(db)
    finally:
        await db.dispose()
