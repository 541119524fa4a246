"""Releasing a reservation gives its stock back, once."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, InvalidArgument
from services.inventory.domain.events import ReservationReleased
from services.inventory.domain.reservations import ReservationState
from tests.unit.inventory._shop import Shop, gold, stones


async def test_release_returns_the_stock_and_a_second_release_changes_nothing(shop: Shop) -> None:
    lot = await shop.receive(mg=5_000)
    gems = await shop.receive("DIA-1", pieces=6)
    held = (await shop.reserve("o-1", gold(3_000), stones(6))).reservation

    released = await shop.handlers.reservations.release(shop.change(held, "cancelled"))

    assert (released.state, released.version, released.release_reason) == (ReservationState.RELEASED, 2, "cancelled")
    assert ((await shop.lot(lot.lot_id)).reserved, (await shop.lot(gems.lot_id)).reserved) == (0, 0)
    assert ((await shop.balance()).available_mg, (await shop.balance("DIA-1")).available_pieces) == (5_000, 6)
    [event] = shop.emitted(ReservationReleased)
    assert (event.reservation.reservation_id, event.reason) == (held.reservation_id, "cancelled")

    twice = await shop.handlers.reservations.release(shop.change(held, "again"))

    assert twice == released
    assert len(shop.emitted(ReservationReleased)) == 1
    assert (await shop.lot(lot.lot_id)).reserved == 0


async def test_a_released_reservation_cannot_be_committed_and_frees_the_order(shop: Shop) -> None:
    await shop.receive(mg=5_000)
    held = (await shop.reserve("o-1", gold(3_000))).reservation
    await shop.handlers.reservations.release(shop.change(held))

    with pytest.raises(FailedPrecondition) as caught:
        await shop.handlers.reservations.commit(shop.change(held))
    assert caught.value.reason == "INVALID_STATE_TRANSITION"
    assert caught.value.metadata["state"] == "RELEASED"

    again = await shop.reserve("o-1", gold(4_000))
    assert again.created and again.reservation.reservation_id != held.reservation_id


async def test_a_too_long_reason_is_refused(shop: Shop) -> None:
    await shop.receive(mg=5_000)
    held = (await shop.reserve("o-1", gold(3_000))).reservation
    with pytest.raises(InvalidArgument) as caught:
        await shop.handlers.reservations.release(shop.change(held, "x" * 501))
    assert [v.field for v in caught.value.violations] == ["reason"]
    assert (await shop.reservation(held.reservation_id)).state is ReservationState.HELD
