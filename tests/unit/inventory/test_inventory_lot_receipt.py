"""Receiving a lot: once per (caller, request_id), with its custody RECEIVE entry and events."""

from __future__ import annotations

import pytest

from mes_kernel.errors import AlreadyExists, InvalidArgument, PermissionDenied
from mes_kernel.principal import Principal
from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.events import CustodyRecorded, LotReceived
from services.inventory.domain.materials import MaterialKind
from services.inventory.service_layer import commands as c
from tests.unit.inventory._factories import OPERATOR, PARTNER
from tests.unit.inventory._shop import Shop


async def test_a_receipt_is_made_once_per_request_id_of_a_caller(shop: Shop) -> None:
    first = await shop.receive(mg=250_000, request_id="rcv-1")
    again = await shop.receive(mg=250_000, request_id="rcv-1")
    other_caller = await shop.receive(mg=250_000, request_id="rcv-1", who=Principal("service", "intake"))

    assert again == first and other_caller.lot_id != first.lot_id
    assert (first.received_mg, first.on_hand_mg, first.reserved_mg, first.version) == (250_000, 250_000, 0, 1)
    assert [e.lot.lot_id for e in shop.emitted(LotReceived)] == [first.lot_id, other_caller.lot_id]
    [receipt, _other] = [e.entry for e in shop.emitted(CustodyRecorded)]
    assert (receipt.kind, receipt.holder, receipt.lot_id, receipt.weight_mg, receipt.reference) == (
        CustodyKind.RECEIVE,
        "stores",
        first.lot_id,
        250_000,
        f"lots/{first.lot_id}",
    )
    with pytest.raises(AlreadyExists) as caught:
        await shop.receive(mg=1, request_id="rcv-1")
    assert caught.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert (await shop.balance()).on_hand_mg == 500_000


async def test_unknown_alloys_bad_fields_and_partners_write_nothing() -> None:
    shop = Shop()
    with pytest.raises(InvalidArgument) as caught:
        await shop.receive("AU999Z", 1_000)
    assert (caught.value.reason, [v.field for v in caught.value.violations]) == ("UNKNOWN_ALLOY", ["material_code"])

    await shop.alloy()
    bad_metal = c.ReceiveLot(OPERATOR, MaterialKind.METAL, "AU750Y", 100_000_001, pieces=3)
    with pytest.raises(InvalidArgument) as caught:
        await shop.handlers.stock.receive_lot(bad_metal)
    assert {v.field for v in caught.value.violations} == {"weight_mg", "pieces", "request_id"}
    with pytest.raises(InvalidArgument) as caught:
        await shop.handlers.stock.receive_lot(c.ReceiveLot(OPERATOR, None, "AU750Y", 5, request_id="r-3"))
    assert [v.field for v in caught.value.violations] == ["kind"]
    with pytest.raises(PermissionDenied):
        await shop.receive(mg=5, who=PARTNER)
    assert shop.emitted(LotReceived) == [] and await shop.ledger() == []
