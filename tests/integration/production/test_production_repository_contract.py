"""One contract for the production ports, run against the in-memory fakes and the SQL
adapters on SQLite and PostgreSQL: what the unit tests assume of the fakes holds of the
real repositories and units of work."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from mes_contracts.events import OPERATION_QUEUED, STYLE_UPSERTED
from mes_kernel.clock import as_utc
from mes_kernel.errors import AlreadyExists, Conflict
from mes_kernel.uow import WriteConflict
from services.production.adapters.unit_of_work import ProductionUnitOfWork
from services.production.bootstrap import SPEC
from services.production.domain.events import OperationChanged, StyleUpserted
from services.production.domain.operations import AttemptRecord, OperationStatus
from services.production.domain.order_specs import OrderSpec, OrderSpecStatus
from services.production.domain.resources import Operator, OperatorRole
from services.production.domain.views import LossGrouping, LossSummary
from services.production.domain.work_orders import MetalBalance, WorkOrderStatus
from services.production.entrypoints.codec.events import encode_event
from services.production.service_layer.records import OperationView
from tests._infra.contract import RepositoryContract, transaction
from tests.unit.production._factories import NOW, center, line, operation, ring, work_order
from tests.unit.production.fakes import FakeUnitOfWorkFactory

S = OperationStatus


CONTRACT = RepositoryContract(SPEC, ProductionUnitOfWork, encode_event, FakeUnitOfWorkFactory)
uows = CONTRACT.uows_fixture()
emitted = CONTRACT.emitted


def op(wo_id: str, seq: int, *, priority: int = 2, minutes: int = 0, **changes: Any) -> Any:
    at = NOW + timedelta(minutes=minutes)
    return replace(operation(), work_order_id=wo_id, sequence=seq, priority=priority, create_time=at, **changes)


async def test_styles_round_trip_list_by_sku_and_update_on_version(uows: Any) -> None:
    async with uows.write() as uow:
        for sku in ("RNG-3", "RNG-1", "RNG-2"):
            await uow.styles.add(ring(sku))
    async with uows.read() as uow:
        assert await uow.styles.get("RNG-1") == ring("RNG-1")
        assert await uow.styles.get("NOPE") is None
        assert sorted(await uow.styles.get_many({"RNG-2", "NOPE"})) == ["RNG-2"]
        assert [s.sku for s in await uow.styles.list_page(None, 2)] == ["RNG-1", "RNG-2"]
        assert [s.sku for s in await uow.styles.list_page("RNG-2", 5)] == ["RNG-3"]
        stale = await uow.styles.get("RNG-1")
    async with uows.write() as uow:
        style = await uow.styles.get("RNG-1")
        style.display_name, style.routing_version, style.routing = "Renamed", 2, style.routing[:2]
        await uow.styles.update(style, new_routing_version=True)
        assert style.version == 2
    async with uows.read() as uow:
        stored = await uow.styles.get("RNG-1")
        assert (stored.display_name, stored.routing_version, stored.routing, stored.version) == (
            "Renamed",
            2,
            style.routing,
            2,
        )
    with pytest.raises(Conflict):
        async with uows.write() as uow:
            await uow.styles.update(stale, new_routing_version=False)


async def test_a_transaction_reading_the_catalogue_again_sees_its_own_writes(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.styles.add(ring("RNG-1"))
        await uow.work_centers.add(center("CAST-1", "CAST"))
    async with uows.write() as uow:
        assert [s.display_name for s in (await uow.styles.get_many({"RNG-1", "RNG-2"})).values()] == ["Solitaire"]
        assert [c.code for c in await uow.work_centers.of_types({"CAST"})] == ["CAST-1"]
        style = await uow.styles.get("RNG-1")
        style.display_name = "Renamed"
        await uow.styles.update(style, new_routing_version=False)
        await uow.styles.add(ring("RNG-2"))
        await uow.work_centers.add(center("CAST-2", "CAST"))
        again = await uow.styles.get_many({"RNG-1", "RNG-2"})
        assert {sku: s.display_name for sku, s in again.items()} == {"RNG-1": "Renamed", "RNG-2": "Solitaire"}
        assert [c.code for c in await uow.work_centers.of_types({"CAST"})] == ["CAST-1", "CAST-2"]


async def test_a_key_inserted_twice_is_a_write_conflict(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.styles.add(ring())
    with pytest.raises(WriteConflict):
        async with uows.write() as uow:
            await uow.styles.add(ring())
    async with uows.write() as uow:
        await uow.work_orders.add(work_order("wo-1"))
    with pytest.raises(WriteConflict):  # one work order per order line
        async with uows.write() as uow:
            await uow.work_orders.add(work_order("wo-2"))


async def test_work_centers_and_operators(uows: Any) -> None:
    async with uows.write() as uow:
        for code, wc_type in (("CAST-2", "CAST"), ("CAST-1", "CAST"), ("BENCH-1", "BENCH")):
            await uow.work_centers.add(center(code, wc_type, capacity=3))
        await uow.operators.add(Operator("OP-2", "Two", OperatorRole.OPERATOR, True, NOW, NOW))
        await uow.operators.add(Operator("OP-1", "One", OperatorRole.SUPERVISOR, True, NOW, NOW))
    async with uows.write() as uow:
        cast = await uow.work_centers.get("CAST-1", for_update=True)
        assert cast == center("CAST-1", "CAST", capacity=3)
        cast.capacity, cast.active = 5, False
        await uow.work_centers.update(cast)
        operator = await uow.operators.get("OP-2")
        operator.active = False
        await uow.operators.update(operator)
    async with uows.read() as uow:
        assert [c.code for c in await uow.work_centers.of_types({"CAST"})] == ["CAST-1", "CAST-2"]
        assert [c.code for c in await uow.work_centers.list_page("BENCH-1", 10)] == ["CAST-1", "CAST-2"]
        assert sorted(await uow.work_centers.get_many({"CAST-1", "X"})) == ["CAST-1"]
        stored = await uow.work_centers.get("CAST-1")
        assert (stored.capacity, stored.active, stored.version) == (5, False, 2)
        assert [(o.code, o.active, o.version) for o in await uow.operators.list_page(None, 5)] == [
            ("OP-1", True, 1),
            ("OP-2", False, 2),
        ]
        assert await uow.operators.get("NOPE") is None


async def test_work_orders_list_oldest_first_and_change_only_status_and_metal(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.work_orders.add_all(
            [work_order("wo-b2", "ORD-B", 2, minutes=1), work_order("wo-b1", "ORD-B", 1, minutes=1)]
        )
        await uow.work_orders.add(work_order("wo-a1", "ORD-A", 1, minutes=1))
        await uow.work_orders.add(work_order("wo-c1", "ORD-C", 1, minutes=0))
        await uow.work_orders.add_all([])
    async with uows.read() as uow:
        everything = await uow.work_orders.list_page(None, 10, order_ids=(), statuses=())
        assert [w.id for w in everything] == ["wo-c1", "wo-a1", "wo-b1", "wo-b2"]
        after = (everything[1].create_time, everything[1].order_id, everything[1].line_number)
        assert [w.id for w in await uow.work_orders.list_page(after, 2, order_ids=(), statuses=())] == [
            "wo-b1",
            "wo-b2",
        ]
        filtered = await uow.work_orders.list_page(None, 10, order_ids=["ORD-B"], statuses=[WorkOrderStatus.PLANNED])
        assert [w.id for w in filtered] == ["wo-b1", "wo-b2"]
        assert [w.id for w in await uow.work_orders.for_order("ORD-B")] == ["wo-b1", "wo-b2"]
        assert await uow.work_orders.get("wo-a1") == work_order("wo-a1", "ORD-A", 1, minutes=1)
        assert sorted(await uow.work_orders.get_many({"wo-a1", "wo-x"})) == ["wo-a1"]
    async with uows.write() as uow:
        wo = await uow.work_orders.get("wo-a1", for_update=True)
        wo.release(NOW)
        wo.size, wo.metal = "99", MetalBalance(1, 2, 3, 4)  # the size is not stored: immutable
        await uow.work_orders.update(wo)
    async with uows.read() as uow:
        stored = await uow.work_orders.get("wo-a1")
        assert (stored.status, stored.metal, stored.size, stored.version) == (
            WorkOrderStatus.RELEASED,
            MetalBalance(1, 2, 3, 4),
            "54",
            2,
        )
        assert [w.id for w in await uow.work_orders.list_page(None, 9, order_ids=(), statuses=[wo.status])] == ["wo-a1"]


def _key(op: Any) -> tuple[str, int]:
    return (op.work_order_id, op.sequence)


def _record(op: Any) -> tuple[Any, ...]:
    """What a read returns of an operation (times in UTC): a domain object and a record alike."""
    values = (getattr(op, name) for name in OperationView._fields)
    return tuple(as_utc(v) if isinstance(v, datetime) else v for v in values)


async def test_operations_in_queue_order_with_loads_and_adoption(uows: Any) -> None:
    async with uows.write() as uow:
        for wo_id in ("wo-1", "wo-2"):
            await uow.work_orders.add(work_order(wo_id, line_number=int(wo_id[-1])))
        await uow.operations.add_all(
            [
                op("wo-1", 1, priority=2, minutes=0, status=S.QUEUED, work_center="BENCH-1"),
                op("wo-1", 2, priority=2, minutes=0, status=S.PENDING, work_center=""),
                op("wo-2", 1, priority=4, minutes=5, status=S.IN_PROGRESS, work_center="BENCH-1"),
                op("wo-2", 2, priority=2, minutes=1, status=S.DONE, work_center="BENCH-2", finish_time=NOW),
            ]
        )
    async with uows.read() as uow:
        queue = await uow.operations.list_page(None, 10, work_center=None, work_order_ids=(), statuses=())
        assert [_key(o) for o in queue] == [("wo-2", 1), ("wo-1", 1), ("wo-1", 2), ("wo-2", 2)]
        last = queue[1]
        after = (last.priority, last.create_time, last.work_order_id, last.sequence)
        rest = await uow.operations.list_page(after, 10, work_center=None, work_order_ids=(), statuses=())
        assert [_key(o) for o in rest] == [("wo-1", 2), ("wo-2", 2)]
        bench = await uow.operations.list_page(None, 10, work_center="BENCH-1", work_order_ids=["wo-1"], statuses=())
        assert [_key(o) for o in bench] == [("wo-1", 1)]
        assert _record(await uow.operations.get("wo-2", 2)) == _record(queue[3])
        assert sorted(await uow.operations.get_many({("wo-1", 1), ("wo-9", 1)})) == [("wo-1", 1)]
        assert [o.key for o in await uow.operations.for_work_orders(["wo-2"])] == [("wo-2", 1), ("wo-2", 2)]
        assert await uow.operations.open_load(["BENCH-1", "BENCH-2"]) == {"BENCH-1": 2}
        assert await uow.operations.count_in_progress("BENCH-1") == 1
        counts = await uow.operations.center_counts(["BENCH-1", "BENCH-2"], NOW)
        assert counts == {"BENCH-1": {"QUEUED": 1, "IN_PROGRESS": 1}, "BENCH-2": {"DONE_IN_WINDOW": 1}}
    async with uows.write() as uow:
        assert await uow.operations.adopt_unassigned("BENCH", "BENCH-3", NOW) == 1
    async with uows.write() as uow:
        adopted = await uow.operations.get("wo-1", 2)
        assert (adopted.work_center, adopted.version) == ("BENCH-3", 2)
        adopted.queue(NOW)
        await uow.operations.update(adopted)
    with pytest.raises(Conflict):
        async with uows.write() as uow:
            await uow.operations.update(replace(adopted, version=1))
    async with uows.read() as uow:
        assert ((await uow.operations.get("wo-1", 2)).status, (await uow.operations.get("wo-1", 2)).version) == (
            S.QUEUED,
            3,
        )


async def test_open_load_within_one_transaction_follows_its_own_writes(uows: Any) -> None:
    """A consumer's batch releases many orders in one transaction: the loads it reads after its own
    inserts, status changes and adoptions are what a fresh count would give."""
    async with uows.write() as uow:
        for wo_id in ("wo-1", "wo-2", "wo-3"):
            await uow.work_orders.add(work_order(wo_id, line_number=int(wo_id[-1])))
        await uow.operations.add_all([op("wo-1", 1, status=S.QUEUED, work_center="BENCH-1")])
        assert await uow.operations.open_load(["BENCH-1", "BENCH-2"]) == {"BENCH-1": 1}
        await uow.operations.add_all(
            [
                op("wo-2", 1, status=S.QUEUED, work_center="BENCH-1"),
                op("wo-2", 2, status=S.PENDING, work_center="BENCH-2"),
                op("wo-2", 3, status=S.DONE, work_center="BENCH-2", finish_time=NOW),
                op("wo-2", 4, status=S.PENDING, work_center=""),
            ]
        )
        assert await uow.operations.open_load(["BENCH-1", "BENCH-2", "BENCH-3"]) == {"BENCH-1": 2, "BENCH-2": 1}
        queued = await uow.operations.get("wo-1", 1)
        queued.start("op-1", 1000, NOW)
        queued.finish("op-1", 1000, 0, NOW)
        await uow.operations.update(queued)
        assert await uow.operations.open_load(["BENCH-1", "BENCH-2", "BENCH-3"]) == {"BENCH-1": 1, "BENCH-2": 1}
        assert await uow.operations.adopt_unassigned("BENCH", "BENCH-3", NOW) == 1
        assert await uow.operations.open_load(["BENCH-1", "BENCH-2", "BENCH-3"]) == {
            "BENCH-1": 1,
            "BENCH-2": 1,
            "BENCH-3": 1,
        }
    async with uows.read() as uow:
        assert await uow.operations.open_load(["BENCH-1", "BENCH-2", "BENCH-3"]) == {
            "BENCH-1": 1,
            "BENCH-2": 1,
            "BENCH-3": 1,
        }


def attempt(seq: int, number: int, *, outcome: S, loss: int, by: str, minutes: int) -> AttemptRecord:
    at = NOW + timedelta(minutes=minutes)
    return AttemptRecord(
        "wo-1", seq, number, "FILING", "BENCH-1", "AU750Y", 1_000, 1_000 - loss, 0, loss, by, by, at, at, outcome
    )


async def test_attempts_are_kept_replaced_and_summarised(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.operations.save_attempt(attempt(1, 1, outcome=S.LOSS_REVIEW, loss=50, by="OP-1", minutes=0))
        await uow.operations.save_attempt(attempt(1, 1, outcome=S.REWORK, loss=50, by="OP-1", minutes=0))
        await uow.operations.save_attempt(attempt(1, 2, outcome=S.DONE, loss=5, by="OP-2", minutes=10))
    async with uows.read() as uow:
        stored = await uow.operations.attempts(["wo-1"])
        assert [(a.attempt, a.outcome) for a in stored] == [(1, S.REWORK), (2, S.DONE)]
        assert await uow.operations.loss_summary(LossGrouping.OPERATOR, None) == [
            LossSummary("OP-1", 1, 1_000, 50, 1),
            LossSummary("OP-2", 1, 1_000, 5, 0),
        ]
        since = NOW + timedelta(minutes=5)
        assert await uow.operations.loss_summary(LossGrouping.OPERATION_CODE, since) == [
            LossSummary("FILING", 1, 1_000, 5, 0)
        ]


async def test_order_specs_keep_their_lines_and_move_their_status(uows: Any) -> None:
    spec = OrderSpec("ORD-1", 3, (line(1), line(2, quantity=4)), NOW, OrderSpecStatus.PENDING, NOW, NOW)
    async with uows.write() as uow:
        await uow.order_specs.add(spec)
    async with uows.write() as uow:
        stored = await uow.order_specs.get("ORD-1", for_update=True)
        assert stored == spec
        stored.mark(OrderSpecStatus.RELEASED, NOW + timedelta(minutes=1))
        await uow.order_specs.update(stored)
    async with uows.read() as uow:
        assert (await uow.order_specs.get("ORD-1")).status is OrderSpecStatus.RELEASED
        assert await uow.order_specs.get("ORD-2") is None


async def test_a_failed_write_leaves_nothing_behind_not_even_its_events(uows: Any) -> None:
    with pytest.raises(RuntimeError):
        async with uows.write() as uow:
            await uow.styles.add(ring())
            await uow.emit(StyleUpserted(ring()))
            raise RuntimeError("boom")
    async with uows.read() as uow:
        assert await uow.styles.get(ring().sku) is None
    assert await emitted(uows) == []


async def test_borrowed_units_of_work_are_savepoints_whose_events_carry_the_cause(uows: Any) -> None:
    async with uows.write() as outer:
        borrowed = uows.borrow(transaction(outer), causation_id="evt-7")
        with pytest.raises(RuntimeError):
            async with borrowed.write() as uow:
                await uow.styles.add(ring("RNG-GONE"))
                raise RuntimeError("rolled back alone")
        async with borrowed.write() as uow:
            await uow.styles.add(ring("RNG-KEPT"))
            await uow.emit(StyleUpserted(ring("RNG-KEPT")))
        async with borrowed.read() as uow:  # the same transaction: sees its own write
            assert await uow.styles.get("RNG-KEPT") is not None
    async with uows.read() as uow:
        assert sorted(await uow.styles.get_many({"RNG-GONE", "RNG-KEPT"})) == ["RNG-KEPT"]
    assert await emitted(uows) == [(STYLE_UPSERTED.subject, "evt-7")]


async def test_transact_runs_again_after_a_version_conflict(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.work_orders.add(work_order("wo-1"))
        await uow.operations.add_all([op("wo-1", 1)])
    runs = 0

    async def queue_it(uow: Any) -> int:
        nonlocal runs
        runs += 1
        current = await uow.operations.get("wo-1", 1)
        if runs == 1:  # someone else changed it after we read it
            current = replace(current, version=current.version - 1)
        previous = current.queue(NOW)
        await uow.operations.update(current)
        await uow.emit(OperationChanged(current, previous))
        return int(current.version)

    assert await uows.transact(queue_it) == 2
    assert runs == 2
    assert await emitted(uows) == [(OPERATION_QUEUED.subject, "")]


async def test_idempotent_runs_once_per_request_id(uows: Any) -> None:
    async def create(uow: Any) -> tuple[str, str]:
        await uow.styles.add(ring())
        return "styles/RNG-001", "created"

    async def load(uow: Any, name: str) -> str:
        return f"loaded {name}"

    run = {"scope": "operator:OP-1:UpsertStyle", "request_id": "req-1", "create": create, "load": load}
    assert await uows.idempotent(fingerprint="a" * 64, **run) == ("created", False)
    assert await uows.idempotent(fingerprint="a" * 64, **run) == ("loaded styles/RNG-001", True)
    with pytest.raises(AlreadyExists) as err:
        await uows.idempotent(fingerprint="b" * 64, **run)
    assert err.value.reason == "IDEMPOTENCY_KEY_REUSED"
