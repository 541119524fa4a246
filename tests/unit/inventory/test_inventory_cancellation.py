"""Cancelling an order: a HELD reservation is released at once; a COMMITTED one (metal on
the shop floor) waits for production's cancellation, which returns the metal issued."""

from __future__ import annotations

import pytest

from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.events import ReservationReleased
from services.inventory.domain.reservations import ReservationState
from services.inventory.service_layer.ports import CustodyFilter
from tests.unit.inventory._shop import Shop, gold


async def test_an_order_cancelled_while_held_is_released_at_once_and_closed(shop: Shop) -> None:
    lot = await shop.receive(mg=5_000)
    await shop.events.reserve_for_order("o-1", None, [gold(3_000)], None)

    released = await shop.caused_by("evt-cancel").release_for_order("o-1", "changed their mind", keep_committed=True)

    assert released is not None and released.state is ReservationState.RELEASED
    assert (await shop.lot(lot.lot_id)).reserved == 0
    assert shop.causes(ReservationReleased) == ["evt-cancel"]
    late = await shop.events.reserve_for_order("o-1", None, [gold(3_000)], None)  # a redelivered submission
    assert late.reservation == released and not late.created
    assert (await shop.lot(lot.lot_id)).reserved == 0


async def test_an_order_cancelled_before_it_was_reserved_never_reserves_nor_waits(shop: Shop) -> None:
    await shop.events.reserve_for_order("o-wait", None, [gold(1_000)], None)
    assert await shop.waiting() == ["o-wait"]
    assert await shop.events.release_for_order("o-wait", "cancelled") is None
    assert await shop.waiting() == []
    assert await shop.events.release_for_order("o-late", "cancelled") is None
    await shop.receive(mg=5_000)
    late = await shop.events.reserve_for_order("o-late", None, [gold(1_000)], None)
    assert late.skipped and late.reservation is None
    assert (await shop.events.retry_waiting_orders()).reserved == ()


@pytest.mark.parametrize("first", ["order", "production"])
async def test_a_committed_order_waits_for_production_and_each_mg_comes_back_once(first: str, shop: Shop) -> None:
    lot = await shop.receive(mg=10_000)
    reserved = (await shop.events.reserve_for_order("o-1", None, [gold(4_000)], None)).reservation
    assert reserved is not None
    await shop.events.commit_for_order("o-1")
    await shop.events.record_operation_loss("workOrders/w/operations/1", "o-1", "AU750Y", 100, "OP-1", "evt-loss")

    async def order_cancelled() -> None:
        kept = await shop.caused_by("evt-order").release_for_order("o-1", "cancelled", keep_committed=True)
        assert kept is not None

    async def production_cancelled() -> None:
        await shop.caused_by("evt-prod").settle_cancelled_work("o-1", [("AU750Y", 3_500)], "evt-prod")

    if first == "order":
        await order_cancelled()
        assert (await shop.reservation(reserved.reservation_id)).state is ReservationState.COMMITTED
        assert (await shop.lot(lot.lot_id)).on_hand_mg == 6_000  # the metal is still on the shop floor
        await production_cancelled()
    else:
        await production_cancelled()
        await order_cancelled()

    reservation = await shop.reservation(reserved.reservation_id)
    assert reservation.state is ReservationState.RELEASED
    returns = await shop.ledger(CustodyFilter(reference="orders/o-1"))
    assert [(e.kind, e.lot_id) for e in returns] == [(CustodyKind.RETURN, lot.lot_id)] * len(returns)
    assert sum(e.weight_mg for e in returns) == 3_900  # 4 g issued - 100 mg lost
    assert ((await shop.lot(lot.lot_id)).on_hand_mg, (await shop.lot(lot.lot_id)).reserved_mg) == (9_900, 0)
    assert shop.causes(ReservationReleased) == ["evt-prod"]
