"""One contract for the inventory ports, run against the in-memory fakes and the SQL
adapters on SQLite and PostgreSQL: what the unit tests assume of the fakes holds of the
real repositories and units of work."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mes_contracts.events import ALLOY_UPSERTED, LOT_RECEIVED
from mes_kernel.errors import AlreadyExists, Conflict
from mes_kernel.uow import WriteConflict
from services.inventory.adapters.unit_of_work import InventoryUnitOfWork
from services.inventory.bootstrap import SPEC
from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.events import AlloyUpserted, LotReceived
from services.inventory.domain.materials import MaterialKind, Priority
from services.inventory.domain.reservations import ReservationState
from services.inventory.entrypoints.codec import encode_event
from services.inventory.service_layer.ports import CustodyFilter, OrderStanding
from tests._infra.contract import RepositoryContract, transaction
from tests.unit.inventory._factories import NOW, alloy, at, entry, held, lot, waiting
from tests.unit.inventory.fakes import FakeUnitOfWorkFactory

METAL, STONE = MaterialKind.METAL, MaterialKind.STONE
ISSUE, RETURN, LOSS = CustodyKind.ISSUE, CustodyKind.RETURN, CustodyKind.LOSS


CONTRACT = RepositoryContract(SPEC, InventoryUnitOfWork, encode_event, FakeUnitOfWorkFactory)
uows = CONTRACT.uows_fixture()
emitted = CONTRACT.emitted


async def test_alloys_round_trip_page_by_code_and_update_on_version(uows: Any) -> None:
    async with uows.write() as uow:
        for code in ("PT950", "AG925", "AU750Y"):
            await uow.alloys.add(alloy(code))
    async with uows.read() as uow:
        assert await uow.alloys.get("AU750Y") == alloy("AU750Y")
        assert await uow.alloys.get("NOPE") is None
        assert sorted(await uow.alloys.get_many({"PT950", "NOPE"})) == ["PT950"]
        assert [a.code for a in await uow.alloys.find(None, 2)] == ["AG925", "AU750Y"]
        assert [a.code for a in await uow.alloys.find("AU750Y", 5)] == ["PT950"]
    async with uows.write() as uow:
        changed = replace(alloy("PT950", version=2), colour="white")
        assert not await uow.alloys.update(changed, expected_version=2)  # stale: stored at 1
        assert await uow.alloys.update(changed, expected_version=1)
    async with uows.read() as uow:
        assert await uow.alloys.get("PT950") == changed
    with pytest.raises(WriteConflict):
        async with uows.write() as uow:
            await uow.alloys.add(alloy("AG925"))


async def test_lots_page_in_receive_order_and_change_only_when_the_condition_holds(uows: Any) -> None:
    async with uows.read() as uow:
        assert not await uow.lots.any_free()
    async with uows.write() as uow:
        await uow.lots.add(lot("b", minutes=0))
        await uow.lots.add(lot("a", minutes=0))  # same receive time: lot id breaks the tie
        await uow.lots.add(lot("c", minutes=5))
        await uow.lots.add(lot("s", "DIA-1", 20, minutes=1, kind=STONE))
    async with uows.read() as uow:
        assert await uow.lots.get("a") == lot("a")
        assert [x.lot_id for x in await uow.lots.find("", None, 10)] == ["a", "b", "s", "c"]
        assert [x.lot_id for x in await uow.lots.find("AU750Y", (NOW, "a"), 10)] == ["b", "c"]
        assert [x.lot_id for x in await uow.lots.find("AU750Y", None, 1)] == ["a"]
    async with uows.write() as uow:
        assert await uow.lots.reserve("a", METAL, 10_000)
        assert not await uow.lots.reserve("b", METAL, 10_001)  # more than is free
        assert not await uow.lots.reserve("s", METAL, 1)  # a stone lot is not metal
        assert await uow.lots.reserve("s", STONE, 5)
        assert await uow.lots.reserve("b", METAL, 4_000)
        assert not await uow.lots.unreserve("b", METAL, 4_001)
        assert await uow.lots.unreserve("b", METAL, 1_000)
        assert not await uow.lots.issue("b", METAL, 3_001)
        assert await uow.lots.issue("b", METAL, 3_000)
        assert await uow.lots.put_back("b", METAL, 500)
        assert not await uow.lots.put_back("nope", METAL, 500)
        free = await uow.lots.free_lots({(METAL, "AU750Y"), (STONE, "DIA-1")}, lock=True)
    assert sorted((s.lot_id, s.available) for s in free) == [("b", 7_500), ("c", 10_000), ("s", 15)]
    async with uows.read() as uow:
        b = await uow.lots.get("b")
        s = await uow.lots.get("s")
    assert (b.on_hand_mg, b.reserved_mg, b.version) == (7_500, 0, 5)
    assert (s.on_hand_pieces, s.reserved_pieces, s.on_hand_mg) == (20, 5, 0)
    async with uows.write() as uow:
        assert await uow.lots.any_free()
        for lot_id, kind, free_qty in (("a", METAL, 0), ("b", METAL, 7_500), ("c", METAL, 10_000), ("s", STONE, 15)):
            assert free_qty == 0 or await uow.lots.reserve(lot_id, kind, free_qty)
        assert not await uow.lots.any_free()


async def test_balances_sum_lots_and_list_every_material_by_code_and_kind(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.alloys.add(alloy("AU750Y"))
        await uow.alloys.add(alloy("AU585Y", 585))
        await uow.lots.add(lot("a", quantity=2_000))
        await uow.lots.add(lot("b", quantity=3_000))
        await uow.lots.add(lot("s", "DIA-1", 10, kind=STONE))
        await uow.lots.reserve("b", METAL, 1_000)
    async with uows.read() as uow:
        found = await uow.balances.balances({"AU750Y", "AU585Y", "DIA-1", "NOPE"})
        listed = await uow.balances.find(None, None, 10)
        metals = await uow.balances.find(METAL, ("AU585Y", "METAL"), 10)
        first = await uow.balances.find(None, None, 1)
    assert sorted(found) == ["AU585Y", "AU750Y", "DIA-1"]
    gold = found["AU750Y"]
    assert (gold.kind, gold.on_hand_mg, gold.reserved_mg, gold.fineness) == (METAL, 5_000, 1_000, 750)
    assert (found["AU585Y"].on_hand_mg, found["AU585Y"].fineness) == (0, 585)
    assert (found["DIA-1"].kind, found["DIA-1"].on_hand_pieces, found["DIA-1"].fineness) == (STONE, 10, 0)
    assert [(b.material_code, b.kind) for b in listed] == [("AU585Y", METAL), ("AU750Y", METAL), ("DIA-1", STONE)]
    assert listed[1] == gold
    assert [b.material_code for b in metals] == ["AU750Y"]
    assert [b.material_code for b in first] == ["AU585Y"]


async def test_reservations_one_active_per_order_versions_and_listing(uows: Any) -> None:
    first = held("r-1", "o-1", ("a", 1_000), ("b", 2_000), minutes=0)
    async with uows.write() as uow:
        await uow.reservations.add(first)
        await uow.reservations.add(held("r-2", "o-2", ("a", 500), minutes=1))
        await uow.reservations.add(held("r-0", "o-3", ("a", 500), minutes=1))
    with pytest.raises(WriteConflict):  # the order already has an active reservation
        async with uows.write() as uow:
            await uow.reservations.add(held("r-9", "o-1", ("a", 1), minutes=2))
    async with uows.read() as uow:
        assert await uow.reservations.get("r-1") == first
        assert await uow.reservations.active_for_order("o-1") == first
        assert await uow.reservations.get("nope") is None
        assert sorted(await uow.reservations.get_many({"r-1", "r-2", "nope"})) == ["r-1", "r-2"]
        assert [r.reservation_id for r in await uow.reservations.find([], [], None, 10)] == ["r-1", "r-0", "r-2"]
        assert [r.reservation_id for r in await uow.reservations.find([], [], (at(1), "r-0"), 10)] == ["r-2"]
        assert [r.reservation_id for r in await uow.reservations.find(["o-2", "o-3"], [], None, 1)] == ["r-0"]
    async with uows.write() as uow:
        released = await uow.reservations.get("r-1")
        released.release(at(3), "cancelled")
        assert not await uow.reservations.update(released, expected_version=2)  # stale
        assert await uow.reservations.update(released, expected_version=1)
        await uow.reservations.add(held("r-5", "o-1", ("a", 1), minutes=4))  # a new active one is allowed
    async with uows.read() as uow:
        assert await uow.reservations.active_for_order("o-1") == held("r-5", "o-1", ("a", 1), minutes=4)
        latest = await uow.reservations.latest_for_order("o-1")
        stored = await uow.reservations.get("r-1")
        listed = await uow.reservations.find(["o-1"], [ReservationState.RELEASED], None, 10)
    assert latest is not None and latest.reservation_id == "r-5"
    assert (stored.state, stored.version, stored.release_reason, stored.items) == (
        ReservationState.RELEASED,
        2,
        "cancelled",
        first.items,
    )
    assert [r.reservation_id for r in listed] == ["r-1"]


async def test_an_orders_standing_and_its_reservation_for_a_change_in_one_read(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.reservations.add(held("r-1", "o-1", ("b", 2_000), ("a", 1_000), minutes=0))
        await uow.waiting.save(waiting("o-2"))
        await uow.waiting.close("o-3", "cancelled", NOW)
    async with uows.read() as uow:
        assert await uow.reservations.standing("o-1") == OrderStanding("r-1", True, None, False)
        assert await uow.reservations.standing("o-2") == OrderStanding(None, False, None, True)
        assert await uow.reservations.standing("o-3") == OrderStanding(None, False, "cancelled", False)
        assert await uow.reservations.for_order("o-1") == held("r-1", "o-1", ("b", 2_000), ("a", 1_000), minutes=0)
        assert await uow.reservations.for_order("o-2") is None
    async with uows.write() as uow:
        released = await uow.reservations.get("r-1")
        released.release(at(3), "cancelled")
        assert await uow.reservations.update(released, expected_version=1)
    async with uows.read() as uow:  # released: still the order's reservation, not an active one
        assert await uow.reservations.standing("o-1") == OrderStanding("r-1", False, None, False)
        assert await uow.reservations.for_order("o-1") == released
    async with uows.write() as uow:  # a later released one does not hide the active one
        await uow.reservations.add(held("r-2", "o-1", ("a", 1), minutes=4))
        newer = held("r-3", "o-1", ("a", 1), minutes=5)
        newer.release(at(6), "replaced")
        await uow.reservations.add(newer)
    async with uows.read() as uow:
        assert await uow.reservations.standing("o-1") == OrderStanding("r-2", True, None, False)
        assert await uow.reservations.for_order("o-1") == held("r-2", "o-1", ("a", 1), minutes=4)


async def test_waiting_orders_serve_order_shortages_in_serve_order_and_closing(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.waiting.save(waiting("low", Priority.LOW, minutes=0))
        await uow.waiting.save(waiting("rush-late", Priority.RUSH, minutes=9))
        await uow.waiting.save(waiting("rush-early", Priority.RUSH, minutes=3, short=("PT950", "AU750Y")))
        await uow.waiting.close("gone", "cancelled", NOW)
    async with uows.read() as uow:
        assert [w.order_id for w in await uow.waiting.in_serve_order(10)] == ["rush-early", "rush-late", "low"]
        after_first = (int(Priority.RUSH), at(3), "rush-early")
        assert [w.order_id for w in await uow.waiting.in_serve_order(1, after_first)] == ["rush-late"]
        after_second = (int(Priority.RUSH), at(9), "rush-late")
        assert [w.order_id for w in await uow.waiting.in_serve_order(5, after_second)] == ["low"]
        stored = await uow.waiting.get("rush-early")
        shortages = await uow.waiting.shortages(None, 10)
        after = await uow.waiting.shortages((int(Priority.RUSH), at(3), "rush-early", "METAL", "AU750Y"), 2)
        assert await uow.waiting.closed_reason("gone") == "cancelled"
        assert await uow.waiting.closed_reason("low") is None
    assert stored is not None and [s.material_code for s in stored.shortages] == ["AU750Y", "PT950"]
    assert stored.requirements == waiting("rush-early", short=("PT950", "AU750Y")).requirements
    assert [(s.order_id, s.material_code) for s in shortages] == [
        ("rush-early", "AU750Y"),
        ("rush-early", "PT950"),
        ("rush-late", "AU750Y"),
        ("low", "AU750Y"),
    ]
    assert [(s.order_id, s.material_code) for s in after] == [("rush-early", "PT950"), ("rush-late", "AU750Y")]
    assert (shortages[0].priority, shortages[0].since_time, shortages[0].required) == (Priority.RUSH, at(3), 5_000)
    async with uows.write() as uow:
        assert await uow.waiting.remove("low")
        assert not await uow.waiting.remove("low")
        await uow.waiting.save(replace(waiting("rush-late", Priority.RUSH, minutes=9), shortages=()))
    async with uows.read() as uow:
        assert [s.order_id for s in await uow.waiting.shortages(None, 10)] == ["rush-early", "rush-early"]
    with pytest.raises(WriteConflict):
        async with uows.write() as uow:
            await uow.waiting.close("gone", "again", NOW)


async def test_custody_ledger_newest_first_batches_and_what_an_order_holds(uows: Any) -> None:
    async with uows.write() as uow:
        await uow.custody.add(entry("e1", ISSUE, "orders/o-1", 4_000, lot_id="a", batch_id="r-1"))
        await uow.custody.add(entry("e2", ISSUE, "orders/o-1", 2_000, lot_id="b", batch_id="r-1"))
        await uow.custody.add(entry("e3", RETURN, "stores", 500, lot_id="a", reference="orders/o-1"))
        await uow.custody.add(entry("e4", LOSS, "orders/o-1", 150, reference="workOrders/w/operations/1"))
        await uow.custody.add(entry("e5", ISSUE, "orders/o-2", 1_000, lot_id="a"))
        await uow.custody.add(entry("e6", ISSUE, "orders/o-1", 7, lot_id="a", code="PT950"))
    async with uows.read() as uow:
        assert await uow.custody.get("e3") == entry("e3", RETURN, "stores", 500, lot_id="a", reference="orders/o-1")
        assert [e.entry_id for e in await uow.custody.batch("r-1")] == ["e1", "e2"]
        newest = await uow.custody.find(CustodyFilter(), None, 3)
        older = await uow.custody.find(CustodyFilter(), newest[-1][0], 10)
        by_holder = await uow.custody.find(CustodyFilter(holder="orders/o-1", material_code="AU750Y"), None, 10)
        by_reference = await uow.custody.find(CustodyFilter(reference="orders/o-1"), None, 10)
        assert await uow.custody.issued_by_lot("o-1", METAL, "AU750Y") == {"a": 4_000, "b": 2_000}
        assert await uow.custody.returned_by_lot("o-1", METAL, "AU750Y") == {"a": 500}
        assert await uow.custody.lost("o-1", METAL, "AU750Y") == 150
        assert await uow.custody.lost("o-2", METAL, "AU750Y") == 0
        assert await uow.custody.issued_by_lot("o-1", STONE, "AU750Y") == {"a": 0, "b": 0}
    assert [e.entry_id for _seq, e in newest] == ["e6", "e5", "e4"]
    assert [e.entry_id for _seq, e in older] == ["e3", "e2", "e1"]
    assert [e.entry_id for _seq, e in by_holder] == ["e4", "e2", "e1"]
    assert [e.entry_id for _seq, e in by_reference] == ["e3"]
    with pytest.raises(WriteConflict):
        async with uows.write() as uow:
            await uow.custody.add(entry("e1", ISSUE, "orders/o-9", 1))
    async with uows.write() as uow:
        await uow.custody.add_many(
            [entry("e8", ISSUE, "orders/o-3", 2, batch_id="r-3"), entry("e7", ISSUE, "orders/o-3", 1, batch_id="r-3")]
        )
        await uow.custody.add_many([])
    async with uows.read() as uow:
        assert [e.entry_id for e in await uow.custody.batch("r-3")] == ["e8", "e7"]  # in the order added


async def test_a_unit_of_work_commits_whole_or_nothing_with_its_events(uows: Any) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with uows.write() as uow:
            await uow.alloys.add(alloy("AU750Y"))
            await uow.emit(AlloyUpserted(alloy("AU750Y")))
            raise Boom
    async with uows.read() as uow:
        assert await uow.alloys.get("AU750Y") is None
    assert await emitted(uows) == []

    async with uows.write() as uow:
        await uow.lots.add(lot("a"))
        await uow.emit(LotReceived(lot("a")))
        await uow.emit(LotReceived(lot("a")), causation_id="evt-0")
    assert await emitted(uows) == [(LOT_RECEIVED.subject, ""), (LOT_RECEIVED.subject, "evt-0")]


async def test_borrowed_units_of_work_are_savepoints_whose_events_carry_the_cause(uows: Any) -> None:
    runs: list[str] = []

    async def add(uow: Any) -> None:
        runs.append(f"A{len(runs) + 1}")
        await uow.alloys.add(alloy(runs[-1]))
        await uow.emit(AlloyUpserted(alloy(runs[-1])))
        if len(runs) == 1:
            raise WriteConflict("lost a race")  # only this attempt rolls back

    async with uows.write() as owner:
        borrowed = uows.borrow(transaction(owner), causation_id="evt-1")
        await borrowed.transact(add)
        async with borrowed.read() as uow:  # the owner's transaction: sees its own writes
            assert sorted(await uow.alloys.get_many({"A1", "A2"})) == ["A2"]
    async with uows.read() as uow:
        assert sorted(await uow.alloys.get_many({"A1", "A2"})) == ["A2"]
    assert await emitted(uows) == [(ALLOY_UPSERTED.subject, "evt-1")]


async def test_transact_runs_again_on_write_races_and_gives_up_as_a_conflict(uows: Any) -> None:
    calls: list[int] = []

    async def racing(uow: Any) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise WriteConflict("lost a race")
        await uow.alloys.add(alloy())
        return "done"

    assert await uows.transact(racing, attempts=3) == "done"
    calls.clear()
    with pytest.raises(Conflict) as caught:
        await uows.transact(racing, attempts=2)
    assert isinstance(caught.value, WriteConflict) and caught.value.reason == "VERSION_CONFLICT"
    assert len(calls) == 2


async def test_idempotent_runs_once_per_request_id_and_refuses_another_request(uows: Any) -> None:
    made: list[str] = []

    async def create(uow: Any) -> tuple[str, str]:
        made.append(f"lot-{len(made) + 1}")
        await uow.lots.add(lot(made[-1]))
        return f"lots/{made[-1]}", "created"

    async def load(uow: Any, name: str) -> str:
        return f"replayed {name}"

    first = await uows.idempotent(scope="s", request_id="r-1", fingerprint="f1", create=create, load=load)
    again = await uows.idempotent(scope="s", request_id="r-1", fingerprint="f1", create=create, load=load)
    other_scope = await uows.idempotent(scope="t", request_id="r-1", fingerprint="f2", create=create, load=load)
    assert (first, again, other_scope) == (("created", False), ("replayed lots/lot-1", True), ("created", False))
    with pytest.raises(AlreadyExists) as caught:
        await uows.idempotent(scope="s", request_id="r-1", fingerprint="f2", create=create, load=load)
    assert caught.value.reason == "IDEMPOTENCY_KEY_REUSED"
    async with uows.read() as uow:
        assert len(await uow.lots.find("", None, 10)) == 2
