"""The custody ledger: RecordCustody (validated, idempotent), listing newest first, append-only."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts.events import CUSTODY_RECORDED
from services.inventory.adapters.tables import custody_entries
from services.inventory.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.inventory._support import (
    OPERATOR,
    PARTNER,
    SVC,
    TIMEOUT,
    Stub,
    count,
    receive_metal,
    subjects,
    upsert_alloy,
)


async def test_record_is_idempotent_by_request_id_and_listed_newest_first(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    lot = await receive_metal(stub, "AU750Y", 50_000)
    loss = pb.RecordCustodyRequest(
        kind=pb.CUSTODY_KIND_LOSS,
        holder="workOrders/wo-1",
        material_code="AU750Y",
        weight_mg=120,
        reference="workOrders/wo-1/operations/2",
        operator_code="OP-7",
        request_id="loss-1",
    )
    first = (await stub.RecordCustody(loss, metadata=OPERATOR, timeout=TIMEOUT)).entry
    replay = (await stub.RecordCustody(loss, metadata=OPERATOR, timeout=TIMEOUT)).entry
    assert replay == first
    assert (first.kind, first.weight_mg, first.operator_code, first.name) == (
        pb.CUSTODY_KIND_LOSS,
        120,
        "OP-7",
        f"custodyEntries/{first.entry_id}",
    )
    assert (await stub.GetLot(pb.GetLotRequest(name=lot.name), metadata=SVC, timeout=TIMEOUT)).lot.on_hand_mg == 50_000

    for i in range(4):
        recovery = pb.RecordCustodyRequest(
            kind=pb.CUSTODY_KIND_RECOVERY, holder="stores", material_code="AU750Y", lot_id=lot.lot_id, weight_mg=10 + i
        )
        await stub.RecordCustody(recovery, metadata=SVC, timeout=TIMEOUT)  # no request_id: each call appends

    weights, token = [], ""
    while True:
        page = await stub.ListCustodyEntries(
            pb.ListCustodyEntriesRequest(page_size=2, page_token=token, material_code="AU750Y"),
            metadata=SVC,
            timeout=TIMEOUT,
        )
        weights += [e.weight_mg for e in page.entries]
        if not (token := page.next_page_token):
            break
    assert weights == [13, 12, 11, 10, 120, 50_000]
    by_holder = await stub.ListCustodyEntries(
        pb.ListCustodyEntriesRequest(holder="workOrders/wo-1"), metadata=SVC, timeout=TIMEOUT
    )
    assert [e.entry_id for e in by_holder.entries] == [first.entry_id]
    assert (await subjects(app)).count(CUSTODY_RECORDED.subject) == 6


async def test_invalid_entries_are_rejected_and_nothing_is_written(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    empty = pb.RecordCustodyRequest(holder="", material_code="au", weight_mg=0, pieces=0, operator_code="op 1")
    err = await fails(stub.RecordCustody(empty, metadata=SVC, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
    assert set(err.fields) == {"kind", "holder", "material_code", "weight_mg", "operator_code"}

    wrong_lot = pb.RecordCustodyRequest(
        kind=pb.CUSTODY_KIND_ISSUE, holder="stores", material_code="AU750Y", lot_id="no-such-lot", weight_mg=5
    )
    err = await fails(stub.RecordCustody(wrong_lot, metadata=SVC, timeout=TIMEOUT))
    assert (err.code, set(err.fields)) == (grpc.StatusCode.INVALID_ARGUMENT, {"lot_id"})

    ok = pb.RecordCustodyRequest(kind=pb.CUSTODY_KIND_LOSS, holder="x", material_code="AU750Y", weight_mg=1)
    err = await fails(stub.RecordCustody(ok, metadata=PARTNER, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.PERMISSION_DENIED
    assert await count(app, custody_entries) == 0


async def test_ledger_rows_cannot_be_updated_or_deleted(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    await receive_metal(stub, "AU750Y", 1_000)
    with pytest.raises(DBAPIError, match="append-only"):
        async with app.db.write() as session:
            await session.execute(update(custody_entries).values(weight_mg=1))
    with pytest.raises(DBAPIError, match="append-only"):
        async with app.db.write() as session:
            await session.execute(delete(custody_entries))
    assert await count(app, custody_entries) == 1
