"""Reserve / commit / consume / release through gRPC, with balances and custody effects."""

from __future__ import annotations

import grpc
from sqlalchemy import select

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts.events import (
    RESERVATION_COMMITTED,
    RESERVATION_CONSUMED,
    RESERVATION_FAILED,
    RESERVATION_HELD,
    RESERVATION_RELEASED,
)
from services.inventory.adapters.tables import lots, reservations, waiting_orders
from services.inventory.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.inventory._support import (
    METAL,
    STONE,
    SVC,
    TIMEOUT,
    Stub,
    balance,
    count,
    get_lot,
    metal,
    receive_metal,
    receive_stones,
    reserve,
    stones,
    subjects,
    upsert_alloy,
)

HELD, COMMITTED = pb.RESERVATION_STATE_HELD, pb.RESERVATION_STATE_COMMITTED
CONSUMED, RELEASED = pb.RESERVATION_STATE_CONSUMED, pb.RESERVATION_STATE_RELEASED


async def test_reserve_fifo_commit_consume_with_balances_and_custody(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU585Y", pb.METAL_GOLD, 585)
    old = await receive_metal(stub, "AU585Y", 10_000)
    new = await receive_metal(stub, "AU585Y", 10_000)
    gems = await receive_stones(stub, "DIA-RB-2MM", 50)

    response = await reserve(
        stub, "order-1", metal("AU585Y", 7_000, 1), metal("AU585Y", 5_000, 2), stones("DIA-RB-2MM", 12)
    )
    r = response.reservation
    assert (r.state, r.order_id, r.version, list(response.shortages)) == (HELD, "order-1", 1, [])
    assert [(i.lot_id, i.weight_mg, i.pieces, i.line_number) for i in r.items] == [
        (old.lot_id, 7_000, 0, 1),
        (old.lot_id, 3_000, 0, 2),
        (new.lot_id, 2_000, 0, 2),
        (gems.lot_id, 0, 12, 1),
    ]
    b = await balance(stub, "AU585Y")
    assert (b.kind, b.on_hand_mg, b.reserved_mg, b.available_mg) == (METAL, 20_000, 12_000, 8_000)
    assert (b.fine_on_hand_mg, b.fine_available_mg) == (11_700, 4_680)
    s = await balance(stub, "DIA-RB-2MM")
    assert (s.kind, s.on_hand_pieces, s.reserved_pieces, s.available_pieces) == (STONE, 50, 12, 38)

    again = await reserve(stub, "order-1", metal("AU585Y", 1, 1))
    assert again.reservation == r  # idempotent per order

    committed = (
        await stub.CommitReservation(pb.CommitReservationRequest(name=r.name), metadata=SVC, timeout=TIMEOUT)
    ).reservation
    assert (committed.state, committed.version) == (COMMITTED, 2)
    assert (await get_lot(stub, old)).on_hand_mg == 0
    assert ((lot := await get_lot(stub, new)).on_hand_mg, lot.reserved_mg) == (8_000, 0)
    b = await balance(stub, "AU585Y")
    assert (b.on_hand_mg, b.reserved_mg, b.available_mg) == (8_000, 0, 8_000)
    issues = await stub.ListCustodyEntries(
        pb.ListCustodyEntriesRequest(holder="orders/order-1"), metadata=SVC, timeout=TIMEOUT
    )
    assert sorted((e.kind, e.lot_id, e.weight_mg, e.pieces) for e in issues.entries) == sorted(
        [
            (pb.CUSTODY_KIND_ISSUE, old.lot_id, 10_000, 0),
            (pb.CUSTODY_KIND_ISSUE, new.lot_id, 2_000, 0),
            (pb.CUSTODY_KIND_ISSUE, gems.lot_id, 0, 12),
        ]
    )
    recommitted = await stub.CommitReservation(pb.CommitReservationRequest(name=r.name), metadata=SVC, timeout=TIMEOUT)
    assert recommitted.reservation.version == 2

    consumed = await stub.ConsumeReservation(pb.ConsumeReservationRequest(name=r.name), metadata=SVC, timeout=TIMEOUT)
    assert (consumed.reservation.state, consumed.reservation.version) == (CONSUMED, 3)
    consumed = await stub.ConsumeReservation(pb.ConsumeReservationRequest(name=r.name), metadata=SVC, timeout=TIMEOUT)
    assert consumed.reservation.version == 3

    err = await fails(
        stub.ReleaseReservation(pb.ReleaseReservationRequest(name=r.name, reason="x"), metadata=SVC, timeout=TIMEOUT)
    )
    assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")

    events = await subjects(app)
    assert events.count(RESERVATION_HELD.subject) == 1
    assert events.count(RESERVATION_COMMITTED.subject) == 1
    assert events.count(RESERVATION_CONSUMED.subject) == 1


async def test_release_held_frees_and_release_committed_returns_metal(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "PT950", pb.METAL_PLATINUM, 950, "white")
    lot = await receive_metal(stub, "PT950", 5_000)

    held = (await reserve(stub, "o-held", metal("PT950", 3_000))).reservation
    released = await stub.ReleaseReservation(
        pb.ReleaseReservationRequest(name=held.name, reason="cancelled"), metadata=SVC, timeout=TIMEOUT
    )
    assert released.reservation.state == RELEASED
    assert (await get_lot(stub, lot)).reserved_mg == 0
    twice = await stub.ReleaseReservation(pb.ReleaseReservationRequest(name=held.name), metadata=SVC, timeout=TIMEOUT)
    assert twice.reservation == released.reservation
    err = await fails(
        stub.CommitReservation(pb.CommitReservationRequest(name=held.name), metadata=SVC, timeout=TIMEOUT)
    )
    assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")

    again = (await reserve(stub, "o-held", metal("PT950", 1_000))).reservation
    assert again.reservation_id != held.reservation_id  # a released reservation does not block a new one

    committed = (await reserve(stub, "o-commit", metal("PT950", 4_000))).reservation
    await stub.CommitReservation(pb.CommitReservationRequest(name=committed.name), metadata=SVC, timeout=TIMEOUT)
    assert ((got := await get_lot(stub, lot)).on_hand_mg, got.reserved_mg) == (1_000, 1_000)
    back = await stub.ReleaseReservation(
        pb.ReleaseReservationRequest(name=committed.name, reason="cancelled"), metadata=SVC, timeout=TIMEOUT
    )
    assert back.reservation.state == RELEASED
    assert ((got := await get_lot(stub, lot)).on_hand_mg, got.reserved_mg) == (5_000, 1_000)
    returns = await stub.ListCustodyEntries(
        pb.ListCustodyEntriesRequest(reference="orders/o-commit"), metadata=SVC, timeout=TIMEOUT
    )
    assert [(e.kind, e.holder, e.weight_mg) for e in returns.entries] == [(pb.CUSTODY_KIND_RETURN, "stores", 4_000)]
    assert (await subjects(app)).count(RESERVATION_RELEASED.subject) == 2


async def test_short_of_stock_fails_with_details_and_reserves_nothing(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    lot = await receive_metal(stub, "AU750Y", 1_000)
    gems = await receive_stones(stub, "RUBY-3MM", 2)
    call = stub.ReserveOrder(
        pb.ReserveOrderRequest(order_id="o-short", requirements=[metal("AU750Y", 900), stones("RUBY-3MM", 3)]),
        metadata=SVC,
        timeout=TIMEOUT,
    )
    err = await fails(call)
    assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_STOCK")
    assert err.metadata["order_id"] == "o-short"
    assert err.metadata["material_codes"] == "RUBY-3MM"
    assert (await get_lot(stub, lot)).reserved_mg == 0
    assert (await get_lot(stub, gems)).reserved_pieces == 0
    assert await count(app, reservations) == 0
    assert await count(app, waiting_orders) == 0
    assert RESERVATION_FAILED.subject not in await subjects(app)


async def test_reserve_validation_reports_all_fields_and_writes_nothing(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    await receive_metal(stub, "AU750Y", 1_000)
    requirements = [
        common_pb2.MaterialRequirement(material_code="AU750Y", kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=0),
        common_pb2.MaterialRequirement(material_code="bad code", kind=common_pb2.MATERIAL_KIND_STONE, pieces=1),
        common_pb2.MaterialRequirement(material_code="AU750Y", weight_mg=5),
        common_pb2.MaterialRequirement(
            material_code="AU750Y", kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=5, pieces=2, line_number=-1
        ),
    ]
    request = pb.ReserveOrderRequest(order_id="bad/id", requirements=requirements)
    err = await fails(stub.ReserveOrder(request, metadata=SVC, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
    assert set(err.fields) == {
        "order_id",
        "requirements[0].weight_mg",
        "requirements[1].material_code",
        "requirements[2].kind",
        "requirements[3].pieces",
        "requirements[3].line_number",
    }
    err = await fails(stub.ReserveOrder(pb.ReserveOrderRequest(order_id="o-1"), metadata=SVC, timeout=TIMEOUT))
    assert set(err.fields) == {"requirements"}
    assert await count(app, reservations) == 0
    async with app.db.read() as session:
        assert (await session.scalar(select(lots.c.reserved_mg))) == 0


async def test_reads_batch_get_in_key_order_and_list_with_filters(stub: Stub) -> None:
    await upsert_alloy(stub, "AG925", pb.METAL_SILVER, 925, "white")
    await receive_metal(stub, "AG925", 100_000)
    made = [(await reserve(stub, f"o-{i}", metal("AG925", 1_000))).reservation for i in range(5)]
    await stub.CommitReservation(pb.CommitReservationRequest(name=made[1].name), metadata=SVC, timeout=TIMEOUT)
    await stub.ReleaseReservation(pb.ReleaseReservationRequest(name=made[2].name), metadata=SVC, timeout=TIMEOUT)

    names = [made[3].name, made[0].name, "reservations/missing", made[3].name]
    err = await fails(
        stub.BatchGetReservations(pb.BatchGetReservationsRequest(names=names), metadata=SVC, timeout=TIMEOUT)
    )
    assert err.code is grpc.StatusCode.NOT_FOUND
    batch = await stub.BatchGetReservations(
        pb.BatchGetReservationsRequest(names=names, allow_missing=True), metadata=SVC, timeout=TIMEOUT
    )
    assert [r.order_id for r in batch.reservations] == ["o-3", "o-0", "o-3"]
    assert list(batch.missing_names) == ["reservations/missing"]

    got = await stub.GetReservation(pb.GetReservationRequest(name=made[1].name), metadata=SVC, timeout=TIMEOUT)
    assert got.reservation.state == COMMITTED

    seen, token = [], ""
    while True:
        page = await stub.ListReservations(
            pb.ListReservationsRequest(page_size=2, page_token=token, states=[HELD]), metadata=SVC, timeout=TIMEOUT
        )
        seen += [r.order_id for r in page.reservations]
        if not (token := page.next_page_token):
            break
    assert seen == ["o-0", "o-3", "o-4"]
    by_order = await stub.ListReservations(
        pb.ListReservationsRequest(order_ids=["o-2", "o-1"]), metadata=SVC, timeout=TIMEOUT
    )
    assert [(r.order_id, r.state) for r in by_order.reservations] == [("o-1", COMMITTED), ("o-2", RELEASED)]
    err = await fails(stub.ListReservations(pb.ListReservationsRequest(states=[0]), metadata=SVC, timeout=TIMEOUT))
    assert set(err.fields) == {"states[0]"}


async def test_balances_list_by_kind_and_batch_get_with_zeros(stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    await upsert_alloy(stub, "AG925", pb.METAL_SILVER, 925, "white")
    await receive_metal(stub, "AU750Y", 2_000)
    await receive_metal(stub, "AU750Y", 3_000)
    await receive_stones(stub, "DIA-1", 10)

    batch = await stub.BatchGetBalances(
        pb.BatchGetBalancesRequest(names=["balances/DIA-1", "balances/NOPE", "balances/AU750Y", "balances/AG925"]),
        metadata=SVC,
        timeout=TIMEOUT,
    )
    assert [(b.name, b.kind, b.on_hand_mg, b.on_hand_pieces) for b in batch.balances] == [
        ("balances/DIA-1", STONE, 0, 10),
        ("balances/NOPE", common_pb2.MATERIAL_KIND_UNSPECIFIED, 0, 0),
        ("balances/AU750Y", METAL, 5_000, 0),
        ("balances/AG925", METAL, 0, 0),
    ]
    assert batch.balances[2].fine_on_hand_mg == 3_750

    metals = await stub.ListBalances(pb.ListBalancesRequest(kind=METAL, page_size=1), metadata=SVC, timeout=TIMEOUT)
    assert [b.material_code for b in metals.balances] == ["AG925"]
    rest = await stub.ListBalances(
        pb.ListBalancesRequest(kind=METAL, page_token=metals.next_page_token), metadata=SVC, timeout=TIMEOUT
    )
    assert [b.material_code for b in rest.balances] == ["AU750Y"] and not rest.next_page_token
    every = await stub.ListBalances(pb.ListBalancesRequest(), metadata=SVC, timeout=TIMEOUT)
    assert [b.material_code for b in every.balances] == ["AG925", "AU750Y", "DIA-1"]
    err = await fails(
        stub.BatchGetBalances(pb.BatchGetBalancesRequest(names=["balance/AU750Y"]), metadata=SVC, timeout=TIMEOUT)
    )
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
