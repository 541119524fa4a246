"""Reserving is all or none: every line of an order from lots oldest first, or nothing."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.inventory.domain.events import ReservationFailed, ReservationHeld
from services.inventory.domain.materials import Priority
from services.inventory.domain.reservations import ReservationState
from services.inventory.service_layer import commands as c
from tests.unit.inventory._factories import PARTNER
from tests.unit.inventory._shop import Shop, gold, stones


async def test_lines_are_spread_over_several_lots_oldest_first(shop: Shop) -> None:
    old, new = await shop.receive(mg=4_000), await shop.receive(mg=4_000)
    gems = await shop.receive("DIA-1", pieces=10)

    outcome = await shop.reserve("o-1", gold(3_000, 1), gold(3_000, 2), stones(4, 3))

    r = outcome.reservation
    assert outcome.created and r.state is ReservationState.HELD and outcome.shortages == ()
    assert [(i.lot_id, i.weight_mg, i.pieces, i.line_number) for i in r.items] == [
        (old.lot_id, 3_000, 0, 1),
        (old.lot_id, 1_000, 0, 2),
        (new.lot_id, 2_000, 0, 2),
        (gems.lot_id, 0, 4, 3),
    ]
    assert [(await shop.lot(x.lot_id)).reserved for x in (old, new, gems)] == [4_000, 2_000, 4]
    assert (await shop.balance()).available_mg == 2_000
    assert [e.reservation.reservation_id for e in shop.emitted(ReservationHeld)] == [r.reservation_id]


async def test_a_short_line_reserves_nothing_for_the_whole_order(shop: Shop) -> None:
    metal = await shop.receive(mg=10_000)
    gems = await shop.receive("DIA-1", pieces=2)

    with pytest.raises(FailedPrecondition) as caught:
        await shop.reserve("o-short", gold(9_000), stones(3))

    assert caught.value.reason == "INSUFFICIENT_STOCK"
    assert (caught.value.metadata["order_id"], caught.value.metadata["material_codes"]) == ("o-short", "DIA-1")
    assert "DIA-1: required 3 pcs, available 2 pcs" in caught.value.message
    assert ((await shop.lot(metal.lot_id)).reserved, (await shop.lot(gems.lot_id)).reserved) == (0, 0)
    assert shop.emitted(ReservationHeld) == [] and shop.emitted(ReservationFailed) == []
    assert await shop.waiting() == []


async def test_a_short_order_can_wait_and_announces_it_once(shop: Shop) -> None:
    await shop.receive(mg=1_000)

    first = await shop.reserve("o-wait", gold(1_000), gold(500, 2), queue=True, priority=Priority.HIGH)
    again = await shop.reserve("o-wait", gold(1_000), gold(500, 2), queue=True, priority=Priority.HIGH)

    assert first.reservation is None and first.shortages == again.shortages
    [shortage] = first.shortages
    assert (shortage.material_code, shortage.required, shortage.available, shortage.priority) == (
        "AU750Y",
        1_500,
        1_000,
        Priority.HIGH,
    )
    assert await shop.waiting() == ["o-wait"]
    assert [e.order_id for e in shop.emitted(ReservationFailed)] == ["o-wait"]


async def test_an_order_has_one_active_reservation(shop: Shop) -> None:
    lot = await shop.receive(mg=10_000)
    first = await shop.reserve("o-1", gold(3_000))
    again = await shop.reserve("o-1", gold(1))
    assert again.reservation == first.reservation and not again.created
    assert (await shop.lot(lot.lot_id)).reserved == 3_000
    assert len(shop.emitted(ReservationHeld)) == 1


async def test_invalid_requests_report_every_field_and_partners_are_refused() -> None:
    shop = Shop()
    with pytest.raises(InvalidArgument) as caught:
        await shop.reserve("bad/id", gold(0), c.RequirementInput("bad code", None, weight_mg=5))
    assert {v.field for v in caught.value.violations} == {
        "order_id",
        "requirements[0].weight_mg",
        "requirements[1].material_code",
        "requirements[1].kind",
    }
    with pytest.raises(PermissionDenied):
        await shop.handlers.reservations.reserve_order(c.ReserveOrder(PARTNER, "o-1", (gold(1),)))
    assert shop.uows.events == []
