"""The custody ledger: ISSUE at commit, LOSS of an operation, RETURN of metal (into the lots it
came from, any excess as a new lot), and entries recorded by hand."""

from __future__ import annotations

import pytest

from mes_kernel.errors import AlreadyExists, InvalidArgument, PermissionDenied
from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.events import CustodyRecorded, LotReceived
from services.inventory.service_layer import commands as c
from services.inventory.service_layer.ports import CustodyFilter
from tests.unit.inventory._factories import OPERATOR, PARTNER
from tests.unit.inventory._shop import Shop, gold

LOSS = "workOrders/w1/operations/1"


async def committed_shop(grams: int = 6) -> tuple[Shop, str]:
    """A shop where order o-1 was issued ``grams`` g from one 10 g lot (whose id is returned)."""
    shop = Shop()
    await shop.alloy()
    lot = await shop.receive(mg=10_000)
    await shop.events.reserve_for_order("o-1", None, [gold(grams * 1_000)], None)
    await shop.events.commit_for_order("o-1")
    return shop, lot.lot_id


async def test_commit_writes_one_issue_to_the_order() -> None:
    shop, lot_id = await committed_shop()
    [issue] = await shop.ledger(CustodyFilter(holder="orders/o-1"))
    assert (issue.kind, issue.lot_id, issue.weight_mg, issue.material_code) == (
        CustodyKind.ISSUE,
        lot_id,
        6_000,
        "AU750Y",
    )
    assert [e.entry.entry_id for e in shop.emitted(CustodyRecorded)][-1] == issue.entry_id


async def test_a_loss_is_recorded_once_per_operation_and_event() -> None:
    shop, lot_id = await committed_shop()
    loss = await shop.caused_by("evt-3").record_operation_loss(LOSS, "o-1", "AU750Y", 150, "OP-1", "evt-3")
    again = await shop.caused_by("evt-3").record_operation_loss(LOSS, "o-1", "AU750Y", 150, "OP-1", "evt-3")
    rework = await shop.caused_by("evt-9").record_operation_loss(LOSS, "o-1", "AU750Y", 50, "OP-1", "evt-9")

    assert loss is not None and again == loss
    assert (loss.kind, loss.holder, loss.reference, loss.weight_mg, loss.lot_id) == (
        CustodyKind.LOSS,
        "orders/o-1",
        LOSS,
        150,
        "",
    )
    assert rework is not None and rework.entry_id != loss.entry_id
    assert await shop.events.record_operation_loss(LOSS, "o-1", "AU750Y", 0, "", "evt-4") is None
    assert (await shop.lot(lot_id)).on_hand_mg == 4_000  # a loss moves no stock
    assert shop.causes(CustodyRecorded)[-2:] == ["evt-3", "evt-9"]
    with pytest.raises(InvalidArgument) as caught:
        await shop.events.record_operation_loss("", "bad/id", "au", -1, "op 1", "evt-5")
    assert {v.field for v in caught.value.violations} == {
        "operation_name",
        "order_id",
        "alloy_code",
        "loss_mg",
        "operator_code",
    }


async def test_returned_metal_goes_back_to_its_lots_and_the_excess_becomes_a_new_lot() -> None:
    shop, lot_id = await committed_shop()
    await shop.events.record_operation_loss(LOSS, "o-1", "AU750Y", 200, "OP-1", "evt-loss")

    scrap = await shop.events.return_metal("o-1", [("AU750Y", 800)], "evt-5")
    replay = await shop.events.return_metal("o-1", [("AU750Y", 800)], "evt-5")
    assert [(e.kind, e.lot_id, e.weight_mg, e.holder) for e in scrap] == [(CustodyKind.RETURN, lot_id, 800, "stores")]
    assert replay == scrap
    assert (await shop.lot(lot_id)).on_hand_mg == 4_800

    # The order still holds 6000 - 800 - 200 = 5000 mg; 5300 come back: 300 mg more than it held.
    back = await shop.events.return_metal("o-1", [("AU750Y", 5_300)], "evt-6")
    assert [(e.lot_id == lot_id, e.weight_mg) for e in back] == [(True, 5_000), (False, 300)]
    extra = await shop.lot(back[1].lot_id)
    assert (extra.on_hand_mg, extra.supplier_reference) == (300, "returned by orders/o-1")
    assert shop.emitted(LotReceived)[-1].lot.lot_id == extra.lot_id
    assert (await shop.lot(lot_id)).on_hand_mg == 9_800

    with pytest.raises(InvalidArgument) as caught:
        await shop.events.return_metal("o-1", [("XX999", 5)], "evt-8")
    assert caught.value.reason == "UNKNOWN_ALLOY"
    with pytest.raises(InvalidArgument) as caught:
        await shop.events.return_metal("o-1", [], "evt-8")
    assert [v.field for v in caught.value.violations] == ["returned"]


async def test_recorded_entries_move_no_stock_and_are_idempotent_by_request_id(shop: Shop) -> None:
    lot = await shop.receive(mg=50_000)
    loss = c.RecordCustody(
        OPERATOR, CustodyKind.LOSS, "workOrders/wo-1", "AU750Y", lot.lot_id, 120, request_id="l-1", fingerprint="f"
    )
    first = await shop.handlers.custody.record(loss)
    replay = await shop.handlers.custody.record(loss)

    assert replay == first and (first.kind, first.weight_mg, first.holder) == (CustodyKind.LOSS, 120, "workOrders/wo-1")
    assert (await shop.lot(lot.lot_id)).on_hand_mg == 50_000
    assert len(await shop.ledger(CustodyFilter(holder="workOrders/wo-1"))) == 1
    with pytest.raises(AlreadyExists) as caught:
        await shop.handlers.custody.record(c.RecordCustody(**{**loss.__dict__, "fingerprint": "other"}))
    assert caught.value.reason == "IDEMPOTENCY_KEY_REUSED"
    with pytest.raises(InvalidArgument) as bad:
        await shop.handlers.custody.record(c.RecordCustody(OPERATOR, CustodyKind.ISSUE, "stores", "AU750Y", "nope", 5))
    assert [v.field for v in bad.value.violations] == ["lot_id"]
    with pytest.raises(PermissionDenied):
        await shop.handlers.custody.record(c.RecordCustody(PARTNER, CustodyKind.LOSS, "x", "AU750Y", weight_mg=1))
    assert len(await shop.ledger()) == 2  # the receipt and the loss
