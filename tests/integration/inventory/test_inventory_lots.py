"""Receiving lots: idempotency by request_id, custody RECEIVE entries, events, validation, listing."""

from __future__ import annotations

import asyncio

import grpc

from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts.events import ALLOY_UPSERTED, CUSTODY_RECORDED, LOT_RECEIVED
from services.inventory.adapters.tables import custody_entries, lots
from services.inventory.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.inventory._support import (
    METAL,
    PARTNER,
    STONE,
    SVC,
    TIMEOUT,
    Stub,
    count,
    receive_metal,
    receive_stones,
    subjects,
    upsert_alloy,
)


async def test_receive_writes_lot_custody_entry_and_events_once_per_request_id(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    request = pb.ReceiveLotRequest(
        kind=METAL, material_code="AU750Y", weight_mg=250_000, supplier_reference="PO-77", request_id="rcv-1"
    )
    first = (await stub.ReceiveLot(request, metadata=SVC, timeout=TIMEOUT)).lot
    assert (first.received_mg, first.on_hand_mg, first.reserved_mg, first.version) == (250_000, 250_000, 0, 1)
    assert first.name == f"lots/{first.lot_id}" and first.supplier_reference == "PO-77"

    again = await asyncio.gather(*(stub.ReceiveLot(request, metadata=SVC, timeout=TIMEOUT) for _ in range(5)))
    assert {r.lot.lot_id for r in again} == {first.lot_id}
    assert await count(app, lots) == 1

    entries = await stub.ListCustodyEntries(pb.ListCustodyEntriesRequest(), metadata=SVC, timeout=TIMEOUT)
    [entry] = entries.entries
    assert (entry.kind, entry.holder, entry.lot_id, entry.weight_mg) == (
        pb.CUSTODY_KIND_RECEIVE,
        "stores",
        first.lot_id,
        250_000,
    )
    assert await subjects(app) == [ALLOY_UPSERTED.subject, LOT_RECEIVED.subject, CUSTODY_RECORDED.subject]

    reused = pb.ReceiveLotRequest(kind=METAL, material_code="AU750Y", weight_mg=1, request_id="rcv-1")
    err = await fails(stub.ReceiveLot(reused, metadata=SVC, timeout=TIMEOUT))
    assert (err.code, err.reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")

    got = await stub.GetLot(pb.GetLotRequest(name=first.name), metadata=SVC, timeout=TIMEOUT)
    assert got.lot == first


async def test_unknown_alloy_and_bad_fields_are_rejected_without_writes(app: App, stub: Stub) -> None:
    unknown = pb.ReceiveLotRequest(kind=METAL, material_code="AU999Z", weight_mg=1_000, request_id="r-1")
    err = await fails(stub.ReceiveLot(unknown, metadata=SVC, timeout=TIMEOUT))
    assert (err.code, err.reason, set(err.fields)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UNKNOWN_ALLOY",
        {"material_code"},
    )

    await upsert_alloy(stub, "AU750Y")
    bad_metal = pb.ReceiveLotRequest(kind=METAL, material_code="AU750Y", weight_mg=100_000_001, pieces=3)
    err = await fails(stub.ReceiveLot(bad_metal, metadata=SVC, timeout=TIMEOUT))
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert set(err.fields) == {"weight_mg", "pieces", "request_id"}

    bad_stones = pb.ReceiveLotRequest(kind=STONE, material_code="dia", pieces=0, weight_points=-1, request_id="r-2")
    err = await fails(stub.ReceiveLot(bad_stones, metadata=SVC, timeout=TIMEOUT))
    assert set(err.fields) == {"material_code", "pieces", "weight_points"}

    no_kind = pb.ReceiveLotRequest(material_code="AU750Y", weight_mg=5, request_id="r-3")
    err = await fails(stub.ReceiveLot(no_kind, metadata=SVC, timeout=TIMEOUT))
    assert set(err.fields) == {"kind"}

    partner = pb.ReceiveLotRequest(kind=METAL, material_code="AU750Y", weight_mg=5, request_id="r-4")
    err = await fails(stub.ReceiveLot(partner, metadata=PARTNER, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.PERMISSION_DENIED

    assert await count(app, lots) == 0
    assert await count(app, custody_entries) == 0
    assert await subjects(app) == [ALLOY_UPSERTED.subject]


async def test_stone_lots_and_listing_by_material_in_fifo_order(stub: Stub) -> None:
    await upsert_alloy(stub, "AG925", pb.METAL_SILVER, 925, "white")
    stones = await receive_stones(stub, "DIA-RB-2MM", 120, points=360)
    assert (stones.kind, stones.on_hand_pieces, stones.weight_points, stones.on_hand_mg) == (STONE, 120, 360, 0)
    silver = [await receive_metal(stub, "AG925", 1_000 * (i + 1)) for i in range(5)]

    token, seen = "", []
    while True:
        page = await stub.ListLots(
            pb.ListLotsRequest(page_size=2, page_token=token, material_code="AG925"), metadata=SVC, timeout=TIMEOUT
        )
        seen += [lot.lot_id for lot in page.lots]
        token = page.next_page_token
        if not token:
            break
    assert seen == [lot.lot_id for lot in silver]

    first = await stub.ListLots(pb.ListLotsRequest(page_size=1), metadata=SVC, timeout=TIMEOUT)
    assert first.lots[0].lot_id == stones.lot_id
    err = await fails(
        stub.ListLots(
            pb.ListLotsRequest(page_token=first.next_page_token, material_code="AG925"), metadata=SVC, timeout=TIMEOUT
        )
    )
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")

    err = await fails(stub.GetLot(pb.GetLotRequest(name="lots/nope"), metadata=SVC, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.NOT_FOUND
    err = await fails(stub.GetLot(pb.GetLotRequest(name="lot/x"), metadata=SVC, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
