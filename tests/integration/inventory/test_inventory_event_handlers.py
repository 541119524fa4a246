"""The handlers event consumers call: idempotent, tolerant of duplicates and out-of-order events."""

from __future__ import annotations

import pytest

from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts.events import RESERVATION_COMMITTED, RESERVATION_CONSUMED, RESERVATION_FAILED
from mes_kernel.errors import InvalidArgument
from services.inventory.adapters.tables import custody_entries, reservations, waiting_orders
from services.inventory.bootstrap import App
from services.inventory.domain.materials import MaterialKind, Priority
from services.inventory.domain.reservations import ReservationState
from services.inventory.service_layer.commands import RequirementInput
from tests.integration.inventory._support import (
    SVC,
    TIMEOUT,
    Stub,
    count,
    get_lot,
    receive_metal,
    subjects,
    upsert_alloy,
)


def gold(mg: int, line: int = 1) -> RequirementInput:
    return RequirementInput("AU750Y", MaterialKind.METAL, weight_mg=mg, line_number=line)


async def test_reserve_for_order_is_idempotent_and_respects_an_earlier_release(app: App, stub: Stub) -> None:
    events = app.handles.handlers.events
    await upsert_alloy(stub, "AU750Y")
    lot = await receive_metal(stub, "AU750Y", 10_000)

    first = await events.reserve_for_order("o-1", Priority.HIGH, [gold(4_000)], None)
    duplicate = await events.reserve_for_order("o-1", Priority.HIGH, [gold(4_000)], None)
    assert first.created and not duplicate.created
    assert duplicate.reservation is not None and first.reservation is not None
    assert duplicate.reservation.reservation_id == first.reservation.reservation_id
    assert (await get_lot(stub, lot)).reserved_mg == 4_000

    # cancelled before the submission was handled: the late reserve is a no-op
    assert await events.release_for_order("o-2", "cancelled") is None
    late = await events.reserve_for_order("o-2", Priority.NORMAL, [gold(1_000)], None)
    assert late.skipped and late.reservation is None

    # released after it was reserved: a redelivered submission does not reserve again
    released = await events.release_for_order("o-1", "cancelled")
    assert released is not None and released.state is ReservationState.RELEASED
    assert await events.release_for_order("o-1", "cancelled") is not None
    redelivered = await events.reserve_for_order("o-1", Priority.HIGH, [gold(4_000)], None)
    assert redelivered.reservation is not None and redelivered.reservation.state is ReservationState.RELEASED
    assert (await get_lot(stub, lot)).reserved_mg == 0
    assert await count(app, reservations) == 1


async def test_short_orders_queue_and_release_drops_them_from_the_waiting_list(app: App, stub: Stub) -> None:
    events = app.handles.handlers.events
    await upsert_alloy(stub, "AU750Y")
    outcome = await events.reserve_for_order("o-wait", Priority.RUSH, [gold(2_000)], None)
    assert outcome.reservation is None
    assert [(s.material_code, s.required, s.available) for s in outcome.shortages] == [("AU750Y", 2_000, 0)]
    assert await count(app, waiting_orders) == 1
    duplicate = await events.reserve_for_order("o-wait", Priority.RUSH, [gold(2_000)], None)
    assert duplicate.shortages == outcome.shortages  # same place in the queue (since_time kept)
    assert (await subjects(app)).count(RESERVATION_FAILED.subject) == 1

    assert await events.release_for_order("o-wait", "cancelled") is None
    assert await count(app, waiting_orders) == 0
    await receive_metal(stub, "AU750Y", 5_000)
    report = await events.retry_waiting_orders()
    assert report.reserved == () and report.still_waiting == ()


async def test_commit_and_consume_tolerate_duplicates_and_missed_events(app: App, stub: Stub) -> None:
    events = app.handles.handlers.events
    await upsert_alloy(stub, "AU750Y")
    lot = await receive_metal(stub, "AU750Y", 10_000)
    assert await events.commit_for_order("nobody") is None
    assert await events.consume_for_order("nobody") is None

    await events.reserve_for_order("o-1", None, [gold(3_000)], None)
    committed = await events.commit_for_order("o-1")
    assert committed is not None and committed.state is ReservationState.COMMITTED
    again = await events.commit_for_order("o-1")
    assert again is not None and again.version == committed.version
    assert ((got := await get_lot(stub, lot)).on_hand_mg, got.reserved_mg) == (7_000, 0)

    await events.reserve_for_order("o-2", None, [gold(1_000)], None)
    consumed = await events.consume_for_order("o-2")  # the commit event never came
    assert consumed is not None and consumed.state is ReservationState.CONSUMED
    assert ((got := await get_lot(stub, lot)).on_hand_mg, got.reserved_mg) == (6_000, 0)

    await events.reserve_for_order("o-3", None, [gold(1_000)], None)
    await events.release_for_order("o-3", "cancelled")
    late = await events.commit_for_order("o-3")
    assert late is not None and late.state is ReservationState.RELEASED

    held = await subjects(app)
    assert held.count(RESERVATION_COMMITTED.subject) == 2
    assert held.count(RESERVATION_CONSUMED.subject) == 1


async def test_losses_and_returns_settle_metal_issued_to_an_order(app: App, stub: Stub) -> None:
    events = app.handles.handlers.events
    await upsert_alloy(stub, "AU750Y")
    lot = await receive_metal(stub, "AU750Y", 10_000)
    await events.reserve_for_order("o-1", None, [gold(6_000)], None)
    await events.commit_for_order("o-1")

    loss = await events.record_operation_loss("workOrders/w1/operations/1", "o-1", "AU750Y", 150, "OP-1", "evt-3")
    assert loss is not None and (loss.holder, loss.weight_mg, loss.reference) == (
        "orders/o-1",
        150,
        "workOrders/w1/operations/1",
    )
    again = await events.record_operation_loss("workOrders/w1/operations/1", "o-1", "AU750Y", 150, "OP-1", "evt-3")
    assert again is not None and again.entry_id == loss.entry_id
    rework = await events.record_operation_loss("workOrders/w1/operations/1", "o-1", "AU750Y", 50, "OP-1", "evt-9")
    assert rework is not None and rework.entry_id != loss.entry_id
    assert await events.record_operation_loss("workOrders/w1/operations/2", "o-1", "AU750Y", 0, "", "evt-4") is None

    scrap = await events.return_metal("o-1", [("AU750Y", 800)], "evt-5")
    assert [(e.kind.value, e.lot_id, e.weight_mg) for e in scrap] == [("RETURN", lot.lot_id, 800)]
    replay = await events.return_metal("o-1", [("AU750Y", 800)], "evt-5")
    assert [e.entry_id for e in replay] == [e.entry_id for e in scrap]
    assert (await get_lot(stub, lot)).on_hand_mg == 4_800

    # cancelled mid-production: what is still out (6000 - 800 returned - 200 lost) goes back
    await events.release_for_order("o-1", "cancelled")
    assert (await get_lot(stub, lot)).on_hand_mg == 9_800

    # more than the order still holds: the excess becomes a new lot
    extra = await events.return_metal("o-1", [("AU750Y", 300)], "evt-7")
    [entry] = extra
    assert entry.lot_id != lot.lot_id
    new_lot = await stub.GetLot(pb.GetLotRequest(name=f"lots/{entry.lot_id}"), metadata=SVC, timeout=TIMEOUT)
    assert (new_lot.lot.on_hand_mg, new_lot.lot.supplier_reference) == (300, "returned by orders/o-1")

    with pytest.raises(InvalidArgument) as caught:
        await events.return_metal("o-1", [("XX999", 5)], "evt-8")
    assert caught.value.reason == "UNKNOWN_ALLOY"
    with pytest.raises(InvalidArgument):
        await events.return_metal("o-1", [("AU750Y", 0)], "evt-8")
    # receive, issue, two losses, returned scrap, return on release, excess return
    assert await count(app, custody_entries) == 7
