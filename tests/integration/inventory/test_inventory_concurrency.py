"""Under concurrency on PostgreSQL, no lot is ever reserved beyond what is on hand.

The invariant checked after each storm: for every lot 0 <= reserved <= on hand, a lot's
reserved equals the sum of the HELD reservation items taken from it, its on hand equals
what was received minus what committed reservations issued, and every failed request
really did not fit.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable

import grpc
import pytest
from sqlalchemy import select

from mes.inventory.v1 import inventory_pb2 as pb
from services.inventory.adapters.tables import lots, reservation_items, reservations
from services.inventory.bootstrap import App
from tests.integration.inventory._support import SVC, TIMEOUT, Stub, metal, receive_metal, reserve, upsert_alloy

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(make_pg_database: Callable[..., str]) -> str:
    return make_pg_database()


async def ledger(app: App) -> tuple[dict[str, tuple[int, int, int]], dict[str, dict[str, int]]]:
    """Per lot (received, on hand, reserved), and per lot the sum of items by reservation state."""
    async with app.db.write() as session:
        lot_rows = (
            await session.execute(select(lots.c.lot_id, lots.c.received_mg, lots.c.on_hand_mg, lots.c.reserved_mg))
        ).all()
        item_rows = (
            await session.execute(
                select(reservation_items.c.lot_id, reservation_items.c.weight_mg, reservations.c.state).join(
                    reservations, reservations.c.reservation_id == reservation_items.c.reservation_id
                )
            )
        ).all()
    by_state: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in item_rows:
        by_state[row.lot_id][row.state] += row.weight_mg
    return {r.lot_id: (r.received_mg, r.on_hand_mg, r.reserved_mg) for r in lot_rows}, by_state


async def assert_invariant(app: App) -> int:
    """Check the invariant; return the total available."""
    lot_totals, by_state = await ledger(app)
    available = 0
    for lot_id, (received, on_hand, reserved) in lot_totals.items():
        items = by_state[lot_id]
        assert 0 <= reserved <= on_hand, lot_id
        assert reserved == items["HELD"], lot_id
        assert on_hand == received - items["COMMITTED"] - items["CONSUMED"], lot_id
        available += on_hand - reserved
    return available


async def attempt(stub: Stub, order_id: str, grams: int) -> bool:
    try:
        await reserve(stub, order_id, metal("AU750Y", grams))
        return True
    except grpc.aio.AioRpcError as error:
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION, error.details()
        return False


async def test_forty_concurrent_orders_on_one_lot_get_exactly_what_fits(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    await receive_metal(stub, "AU750Y", 25_500)
    results = await asyncio.gather(*(attempt(stub, f"o-{i}", 1_000) for i in range(40)))
    assert sum(results) == 25
    assert await assert_invariant(app) == 500


async def test_mixed_storm_keeps_every_lot_consistent(app: App, stub: Stub) -> None:
    rng = random.Random(7)
    await upsert_alloy(stub, "AU750Y")
    for grams in (9_000, 7_000, 6_500, 4_000):
        await receive_metal(stub, "AU750Y", grams)
    sizes = {f"a-{i}": rng.choice([400, 900, 1_500, 2_500, 3_000]) for i in range(40)}
    results = await asyncio.gather(*(attempt(stub, order_id, grams) for order_id, grams in sizes.items()))
    available = await assert_invariant(app)
    failed = [sizes[o] for o, ok in zip(sizes, results, strict=True) if not ok]
    assert all(grams > available for grams in failed)  # no false shortage: stock only went down

    held = (
        await stub.ListReservations(pb.ListReservationsRequest(page_size=100), metadata=SVC, timeout=TIMEOUT)
    ).reservations
    more = {f"b-{i}": rng.choice([300, 800, 1_200]) for i in range(20)}

    async def settle(index: int, reservation: pb.Reservation) -> None:
        if index % 3 == 0:
            await stub.ReleaseReservation(
                pb.ReleaseReservationRequest(name=reservation.name), metadata=SVC, timeout=TIMEOUT
            )
        elif index % 3 == 1:
            await stub.CommitReservation(
                pb.CommitReservationRequest(name=reservation.name), metadata=SVC, timeout=TIMEOUT
            )
        else:
            await stub.CommitReservation(
                pb.CommitReservationRequest(name=reservation.name), metadata=SVC, timeout=TIMEOUT
            )
            await stub.ReleaseReservation(
                pb.ReleaseReservationRequest(name=reservation.name), metadata=SVC, timeout=TIMEOUT
            )

    await asyncio.gather(
        *(settle(i, r) for i, r in enumerate(held)),
        *(attempt(stub, order_id, grams) for order_id, grams in more.items()),
        *(
            stub.CommitReservation(pb.CommitReservationRequest(name=r.name), metadata=SVC, timeout=TIMEOUT)
            for r in held[1::3]
        ),
    )
    await assert_invariant(app)


async def test_concurrent_requests_for_one_order_make_one_reservation(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    await receive_metal(stub, "AU750Y", 100_000)
    responses = await asyncio.gather(*(reserve(stub, "same-order", metal("AU750Y", 3_000)) for _ in range(12)))
    assert len({r.reservation.reservation_id for r in responses}) == 1
    _lots, by_state = await ledger(app)
    assert sum(states["HELD"] for states in by_state.values()) == 3_000
    assert await assert_invariant(app) == 97_000
