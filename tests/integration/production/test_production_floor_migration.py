"""Migration 0002 on a database at 0001 with rows (SQLite and PostgreSQL): work centers become
RUNNING where an operation is in progress and IDLE elsewhere, since the upgrade; operations get
no pause; the downgrade turns paused operations back into in-progress ones."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import insert, select

from mes_kernel.clock import as_utc
from mes_platform.db import Database
from mes_platform.migrations import alembic_config, upgrade
from services.production.adapters import tables as t
from services.production.adapters.catalog_repository import SqlWorkCenterRepository
from services.production.adapters.operation_repository import SqlOperationRepository
from services.production.adapters.rows import to_values
from services.production.adapters.work_order_repository import SqlWorkOrderRepository
from services.production.bootstrap import SPEC
from services.production.domain.floor import WorkCenterState
from services.production.domain.operations import OPERATION_FIXED, OPERATION_PROGRESS, OperationStatus
from tests.unit.production._factories import NOW, operation, work_order

S = OperationStatus
C = WorkCenterState
#: The columns of ``operations`` before 0002.
_PAUSE_FIELDS = {"pause_reason", "pause_time", "paused_seconds", "paused_by", "resumed_by"}
_OPERATION_0001 = (
    *OPERATION_FIXED,
    *(name for name in OPERATION_PROGRESS if name not in _PAUSE_FIELDS),
)


async def _seed_0001(db: Database) -> None:
    """Two work centers, one with an operation in progress, as a 0001 database holds them."""
    async with db.write() as session:
        for code in ("CAST-1", "CAST-2"):
            await session.execute(
                insert(t.work_centers).values(
                    code=code,
                    work_center_type="CAST",
                    display_name=code,
                    capacity=2,
                    active=True,
                    version=1,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        await SqlWorkOrderRepository(session).add(work_order("wo-1"))
        base = replace(operation(), work_order_id="wo-1", work_center_type="CAST")
        for op in (
            replace(base, sequence=1, status=S.IN_PROGRESS, work_center="CAST-1", weigh_in_mg=5_000),
            replace(base, sequence=2, status=S.QUEUED, work_center="CAST-2"),
        ):
            await session.execute(insert(t.operations).values(**to_values(op, _OPERATION_0001)))


async def test_the_upgrade_sets_each_centers_state_from_its_operations_and_downgrades(db_url: str) -> None:
    await upgrade(SPEC.migrations, db_url, SPEC.name, "0001")
    db = Database(db_url, schema=SPEC.name)
    try:
        await _seed_0001(db)
        before = datetime.now(UTC)
        await upgrade(SPEC.migrations, db_url, SPEC.name, "0002")
        async with db.read() as session:
            centers = await SqlWorkCenterRepository(session).get_many(["CAST-1", "CAST-2"])
            ops = await SqlOperationRepository(session).for_work_orders(["wo-1"])
        assert {code: (c.state, c.state_reason, c.state_by) for code, c in centers.items()} == {
            "CAST-1": (C.RUNNING, "", ""),
            "CAST-2": (C.IDLE, "", ""),
        }
        assert all(c.state_time is not None and as_utc(c.state_time) >= before for c in centers.values())
        assert [(o.status, o.pause_reason, o.pause_time, o.paused_seconds) for o in ops] == [
            (S.IN_PROGRESS, "", None, 0),
            (S.QUEUED, "", None, 0),
        ]

        async with db.write() as session:  # pause the operation in progress, then go back to 0001
            repository = SqlOperationRepository(session)
            [running] = [o for o in await repository.for_work_orders(["wo-1"]) if o.status is S.IN_PROGRESS]
            running.pause("OP-1", "break", NOW)
            await repository.update(running)
        config = alembic_config(SPEC.migrations, db_url, SPEC.name)
        await asyncio.to_thread(command.downgrade, config, "0001")
        async with db.read() as session:
            statuses = (await session.execute(select(t.operations.c.status).order_by(t.operations.c.sequence))).all()
            center_columns = (await session.execute(select(t.work_centers.c.code))).all()
        assert [row.status for row in statuses] == ["IN_PROGRESS", "QUEUED"]
        assert len(center_columns) == 2  # the work centers survive without their state
        await upgrade(SPEC.migrations, db_url, SPEC.name)
    finally:
        await db.dispose()
