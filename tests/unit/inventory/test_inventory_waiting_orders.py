"""Waiting orders are retried by priority, then submit time, when stock grows: a lot
received or a reservation released (the consumers call ``retry_waiting_orders`` on those
events, which carry their id as the cause of the reservations made)."""

from __future__ import annotations

from datetime import timedelta

from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from services.inventory.domain.events import LotReceived, ReservationHeld, ReservationReleased
from services.inventory.domain.materials import Priority
from services.inventory.service_layer.handlers import Handlers
from tests.unit.inventory._factories import NOW
from tests.unit.inventory._shop import Shop, gold


async def queue(shop: Shop, order_id: str, priority: Priority, minutes: int, grams: int) -> None:
    outcome = await shop.reserve(
        order_id, gold(grams * 1_000), priority=priority, queue=True, submitted=NOW + timedelta(minutes=minutes)
    )
    assert outcome.reservation is None


async def test_a_received_lot_serves_waiting_orders_by_priority_then_submit_time(shop: Shop) -> None:
    await queue(shop, "low-early", Priority.LOW, 0, 4)
    await queue(shop, "rush-late", Priority.RUSH, 30, 4)
    await queue(shop, "normal", Priority.NORMAL, 5, 6)
    await queue(shop, "rush-early", Priority.RUSH, 10, 4)
    assert await shop.waiting() == ["rush-early", "rush-late", "normal", "low-early"]

    lot = await shop.receive(mg=12_000)  # rush 4 + rush 4, then normal (6) does not fit, low (4) does
    assert [e.lot.lot_id for e in shop.emitted(LotReceived)] == [lot.lot_id]
    report = await shop.caused_by("evt-lot").retry_waiting_orders()

    assert [r.order_id for r in report.reserved] == ["rush-early", "rush-late", "low-early"]
    assert report.still_waiting == ("normal",)
    assert await shop.waiting() == ["normal"]
    assert [e.reservation.order_id for e in shop.emitted(ReservationHeld)] == ["rush-early", "rush-late", "low-early"]
    assert shop.causes(ReservationHeld) == ["evt-lot"] * 3
    again = await shop.caused_by("evt-lot").retry_waiting_orders()
    assert again.reserved == () and again.still_waiting == ("normal",)


async def test_a_released_reservation_serves_the_next_waiting_order(shop: Shop) -> None:
    await shop.receive(mg=5_000)
    held = (await shop.reserve("first", gold(5_000))).reservation
    await queue(shop, "second", Priority.NORMAL, 0, 3)
    assert (await shop.caused_by("evt-0").retry_waiting_orders()).still_waiting == ("second",)

    await shop.handlers.reservations.release(shop.change(held, "cancelled"))
    assert [e.reservation.order_id for e in shop.emitted(ReservationReleased)] == ["first"]
    report = await shop.caused_by("evt-released").retry_waiting_orders()

    assert [(r.order_id, r.items[0].weight_mg) for r in report.reserved] == [("second", 3_000)]
    assert await shop.waiting() == []
    assert (await shop.balance()).available_mg == 2_000


async def test_a_waiting_order_keeps_its_place_when_it_is_queued_again(shop: Shop) -> None:
    await queue(shop, "a", Priority.NORMAL, 10, 2)
    await queue(shop, "b", Priority.NORMAL, 20, 2)
    await queue(shop, "a", Priority.NORMAL, 30, 2)  # re-submitted later: keeps its first submit time
    await shop.receive(mg=2_000)
    report = await shop.caused_by("evt-lot").retry_waiting_orders()
    assert [r.order_id for r in report.reserved] == ["a"]
    assert report.still_waiting == ("b",)


async def test_one_pass_serves_every_waiting_order_it_can_page_after_page(shop: Shop) -> None:
    deps = Deps(shop.uows, PageTokens(b"test-secret"), clock=shop.now)
    paged = Handlers.build(deps, attempts=4, retry_batch=2).events.bound(shop.uows.caused_by("evt-lot"))
    for n, priority in enumerate((Priority.LOW, Priority.RUSH, Priority.NORMAL, Priority.RUSH, Priority.HIGH)):
        await queue(shop, f"o{n}", priority, n, 3)
    assert (await paged.retry_waiting_orders()).still_waiting == ("o1", "o3")  # no free stock: the first page
    await shop.receive(mg=12_000)  # four of the five, in serve order, over three pages of two
    report = await paged.retry_waiting_orders()
    assert [r.order_id for r in report.reserved] == ["o1", "o3", "o4", "o2"]
    assert report.still_waiting == ("o0",)
    assert await shop.waiting() == ["o0"]
    assert shop.causes(ReservationHeld) == ["evt-lot"] * 4
