"""Committing issues the reserved material to the order; consuming closes the reservation."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition
from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.events import CustodyRecorded, ReservationCommitted, ReservationConsumed
from services.inventory.domain.reservations import ReservationState
from services.inventory.service_layer.ports import CustodyFilter
from tests.unit.inventory._shop import Shop, gold


async def test_commit_issues_each_lot_share_and_consume_closes_once(shop: Shop) -> None:
    old, new = await shop.receive(mg=4_000), await shop.receive(mg=4_000)
    held = (await shop.reserve("o-1", gold(3_000, 1), gold(2_000, 2))).reservation

    committed = await shop.handlers.reservations.commit(shop.change(held))

    assert (committed.state, committed.version) == (ReservationState.COMMITTED, 2)
    lots = [await shop.lot(x.lot_id) for x in (old, new)]
    assert [(x.on_hand_mg, x.reserved_mg) for x in lots] == [(0, 0), (3_000, 0)]
    issues = await shop.ledger(CustodyFilter(holder="orders/o-1"))
    assert sorted((e.kind, e.lot_id, e.weight_mg, e.reference) for e in issues) == sorted(
        [
            (CustodyKind.ISSUE, old.lot_id, 4_000, f"reservations/{held.reservation_id}"),
            (CustodyKind.ISSUE, new.lot_id, 1_000, f"reservations/{held.reservation_id}"),
        ]
    )
    assert [e.reservation.state for e in shop.emitted(ReservationCommitted)] == [ReservationState.COMMITTED]
    assert len(shop.emitted(CustodyRecorded)) == 2 + 2  # two receipts, two issues

    assert await shop.handlers.reservations.commit(shop.change(held)) == committed  # no second issue
    consumed = await shop.handlers.reservations.consume(shop.change(held))
    again = await shop.handlers.reservations.consume(shop.change(held))

    assert (consumed.state, consumed.version) == (ReservationState.CONSUMED, 3) and again == consumed
    assert len(shop.emitted(ReservationConsumed)) == 1 and len(shop.emitted(ReservationCommitted)) == 1
    assert len(await shop.ledger(CustodyFilter(holder="orders/o-1"))) == 2
    with pytest.raises(FailedPrecondition) as caught:
        await shop.handlers.reservations.release(shop.change(held))
    assert caught.value.reason == "INVALID_STATE_TRANSITION"


async def test_a_held_reservation_cannot_be_consumed_directly(shop: Shop) -> None:
    await shop.receive(mg=4_000)
    held = (await shop.reserve("o-1", gold(1_000))).reservation
    with pytest.raises(FailedPrecondition) as caught:
        await shop.handlers.reservations.consume(shop.change(held))
    assert (caught.value.reason, caught.value.metadata["target"]) == ("INVALID_STATE_TRANSITION", "CONSUMED")
    assert shop.emitted(ReservationConsumed) == []


async def test_production_events_commit_and_consume_even_when_one_was_missed(shop: Shop) -> None:
    lot = await shop.receive(mg=4_000)
    assert await shop.events.consume_for_order("nobody") is None
    await shop.events.reserve_for_order("o-1", None, [gold(1_000)], None)

    consumed = await shop.caused_by("evt-done").consume_for_order("o-1")  # the commit event never came

    assert consumed is not None and consumed.state is ReservationState.CONSUMED
    assert ((await shop.lot(lot.lot_id)).on_hand_mg, (await shop.lot(lot.lot_id)).reserved_mg) == (3_000, 0)
    assert shop.causes(ReservationCommitted) == ["evt-done"] and shop.causes(ReservationConsumed) == ["evt-done"]
    late = await shop.events.commit_for_order("o-1")
    assert late is not None and late.version == consumed.version
