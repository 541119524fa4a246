"""The floor states in the production ports, on the fakes and on the SQL adapters (SQLite and
PostgreSQL): a work center's state and an operation's pauses round-trip, paused operations count
where they keep their place, and a work center's change is written to the outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from mes_contracts.events import OPERATION_PAUSED, OPERATION_RESUMED, WORK_CENTER_CHANGED
from mes_kernel.clock import as_utc
from services.production.adapters.unit_of_work import ProductionUnitOfWork
from services.production.bootstrap import SPEC
from services.production.domain.events import OperationChanged, WorkCenterChanged
from services.production.domain.floor import WorkCenterState
from services.production.domain.operations import OperationStatus
from services.production.entrypoints.codec.events import encode_event
from tests._infra.contract import RepositoryContract
from tests.unit.production._factories import NOW, center, operation, work_order
from tests.unit.production.fakes import FakeUnitOfWorkFactory

S = OperationStatus
C = WorkCenterState
CONTRACT = RepositoryContract(SPEC, ProductionUnitOfWork, encode_event, FakeUnitOfWorkFactory)
uows = CONTRACT.uows_fixture()
emitted = CONTRACT.emitted


async def test_a_work_center_keeps_its_state_reason_time_and_who_set_it(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.work_centers.add(center("CAST-1", "CAST"))
    async with uows.read() as uow:
        made = await uow.work_centers.get("CAST-1")
        assert (made.state, made.state_reason, made.state_time, made.state_by) == (C.IDLE, "", NOW, "")
    blocked_at = NOW + timedelta(minutes=3)
    async with uows.write() as uow:
        cast = await uow.work_centers.get("CAST-1", for_update=True)
        previous = cast.block("kiln down", blocked_at, "SUP-1")
        await uow.work_centers.update(cast)
        await uow.emit(WorkCenterChanged(cast, previous))
    async with uows.read() as uow:
        for found in (
            await uow.work_centers.get("CAST-1"),
            (await uow.work_centers.get_many(["CAST-1"]))["CAST-1"],
            (await uow.work_centers.list_page(None, 5))[0],
            (await uow.work_centers.of_types(["CAST"]))[0],
        ):
            assert (found.state, found.state_reason, as_utc(found.state_time), found.state_by, found.version) == (
                C.BLOCKED,
                "kiln down",
                blocked_at,
                "SUP-1",
                2,
            )
    assert await emitted(uows) == [(WORK_CENTER_CHANGED.subject, "")]


async def test_pauses_round_trip_and_paused_operations_keep_their_place(uows: Any) -> None:
    paused_at = NOW + timedelta(minutes=5)
    base = replace(operation(), work_order_id="wo-1", work_center="CAST-1")
    async with uows.write() as uow:
        await uow.work_orders.add(work_order("wo-1"))
        await uow.operations.add_all(
            [
                replace(base, sequence=1, status=S.IN_PROGRESS),
                replace(base, sequence=2, status=S.IN_PROGRESS),
                replace(base, sequence=3, status=S.QUEUED),
            ]
        )
    async with uows.write() as uow:
        op = await uow.operations.get("wo-1", 2)
        previous = op.pause("OP-1", "waiting for stones", paused_at)
        await uow.operations.update(op)
        await uow.emit(OperationChanged(op, previous))
    async with uows.read() as uow:
        stored = await uow.operations.get("wo-1", 2)
        assert (stored.status, stored.pause_reason, as_utc(stored.pause_time), stored.paused_by) == (
            S.PAUSED,
            "waiting for stones",
            paused_at,
            "OP-1",
        )
        [view] = (await uow.operations.get_many([("wo-1", 2)])).values()
        assert (view.status, view.pause_reason, as_utc(view.pause_time), view.paused_seconds) == (
            "PAUSED",
            "waiting for stones",
            paused_at,
            0,
        )
        listed = await uow.operations.list_page(None, 10, work_center="CAST-1", work_order_ids=(), statuses=[S.PAUSED])
        assert [(o.work_order_id, o.sequence) for o in listed] == [("wo-1", 2)]
        assert await uow.operations.count_in_progress("CAST-1") == 1
        assert await uow.operations.count_in_progress("CAST-1", with_paused=True) == 2
        assert await uow.operations.open_load(["CAST-1"]) == {"CAST-1": 3}
        counts = await uow.operations.center_counts(["CAST-1"], NOW)
        assert counts == {"CAST-1": {"IN_PROGRESS": 1, "PAUSED": 1, "QUEUED": 1}}
    async with uows.write() as uow:
        op = await uow.operations.get("wo-1", 2)
        previous = op.resume("OP-2", paused_at + timedelta(seconds=75))
        await uow.operations.update(op)
        await uow.emit(OperationChanged(op, previous))
    async with uows.read() as uow:
        resumed = await uow.operations.get("wo-1", 2)
        assert (resumed.status, resumed.pause_reason, resumed.pause_time, resumed.paused_seconds) == (
            S.IN_PROGRESS,
            "",
            None,
            75,
        )
        assert (resumed.resumed_by, resumed.version) == ("OP-2", 3)
    assert await emitted(uows) == [(OPERATION_PAUSED.subject, ""), (OPERATION_RESUMED.subject, "")]
