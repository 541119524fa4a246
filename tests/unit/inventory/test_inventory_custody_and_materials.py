"""Metal still out with an order, fineness rules and fine weights."""

from __future__ import annotations

import pytest

from mes_kernel.errors import InvalidArgument
from mes_kernel.principal import Principal
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import outstanding_by_lot
from services.inventory.domain.materials import ALLOWED_FINENESS, MaterialKind, Metal, fine_mg, fineness_allowed
from services.inventory.service_layer.catalogue import validate_alloy
from services.inventory.service_layer.commands import UpsertAlloy

OPERATOR = Principal("operator", "OP-1")


def test_outstanding_is_issued_minus_returned_minus_losses() -> None:
    issued = {"lot-b": 300, "lot-a": 500}
    assert outstanding_by_lot(issued, {}, 0) == {"lot-a": 500, "lot-b": 300}
    assert outstanding_by_lot(issued, {"lot-a": 100}, 0) == {"lot-a": 400, "lot-b": 300}
    # losses come off the lots in reverse lot id order
    assert outstanding_by_lot(issued, {"lot-a": 100}, 350) == {"lot-a": 350, "lot-b": 0}
    assert outstanding_by_lot(issued, {"lot-a": 900}, 10_000) == {"lot-a": 0, "lot-b": 0}
    assert outstanding_by_lot({}, {"lot-x": 5}, 5) == {}


@pytest.mark.parametrize(
    ("metal", "fineness", "ok"),
    [
        (Metal.GOLD, 750, True),
        (Metal.GOLD, 925, False),
        (Metal.SILVER, 925, True),
        (Metal.PLATINUM, 950, True),
        (Metal.PALLADIUM, 500, True),
        (Metal.PALLADIUM, 585, False),
    ],
)
def test_fineness_per_metal(metal: Metal, fineness: int, ok: bool) -> None:
    assert fineness_allowed(metal, fineness) is ok


def test_fine_weight_rounds_down_in_integers() -> None:
    assert fine_mg(10_001, 585) == 5_850
    assert fine_mg(1, 999) == 0
    balance = Balance("AU585Y", MaterialKind.METAL, on_hand_mg=10_000, reserved_mg=2_001, fineness=585)
    assert (balance.available_mg, balance.fine_on_hand_mg, balance.fine_available_mg) == (7_999, 5_850, 4_679)


def test_alloy_validation_reports_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_alloy(UpsertAlloy(OPERATOR, "au750", None, 750, "purple", density_mg_per_cm3=-1, name="alloys/OTHER"))
    fields = {v.field for v in caught.value.violations}
    assert fields == {"alloy.code", "alloy.name", "alloy.metal", "alloy.colour", "alloy.density_mg_per_cm3"}


def test_every_metal_has_finenesses() -> None:
    assert set(ALLOWED_FINENESS) == set(Metal)
