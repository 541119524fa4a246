"""Demo data definitions: integer weights in range, valid routings and BOMs, complete references."""

from __future__ import annotations

import re

import pytest

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2
from mes.production.v1 import production_pb2
from mes_stack import demo_data as d
from mes_stack.demo import alloy_message, style_message

MAX_MG = 100_000_000  # 100 kg, the services' weight limit


def _unique(values: list[str]) -> bool:
    return len(values) == len(set(values))


def test_alloys_cover_gold_585_750_in_three_colours_silver_and_platinum() -> None:
    codes = {a.code for a in d.ALLOYS}
    assert codes == {"AU585Y", "AU585W", "AU585R", "AU750Y", "AU750W", "AU750R", "AG925", "PT950"}
    for alloy in d.ALLOYS:
        assert isinstance(alloy.density_mg_per_cm3, int) and 10_000 <= alloy.density_mg_per_cm3 <= 22_000
        assert isinstance(alloy.fineness, int) and 0 < alloy.fineness <= 1000
        assert str(alloy.fineness) in alloy.code
        assert len(alloy.display_name) <= 120


def test_every_alloy_and_stone_has_stock_with_deterministic_unique_request_ids() -> None:
    assert {lot.alloy_code for lot in d.METAL_LOTS} == {a.code for a in d.ALLOYS}
    assert {lot.stone_code for lot in d.STONE_LOTS} == set(d.STONES)
    request_ids = [lot.request_id for lot in d.METAL_LOTS] + [lot.request_id for lot in d.STONE_LOTS]
    assert _unique(request_ids)
    assert "demo-lot-AU750Y-1" in request_ids
    assert all(len(r) <= 64 for r in request_ids)
    for metal in d.METAL_LOTS:
        assert isinstance(metal.weight_mg, int) and 200_000 <= metal.weight_mg <= 2_000_000
    for stone in d.STONE_LOTS:
        assert isinstance(stone.pieces, int) and stone.pieces > 0
        assert stone.weight_points == stone.pieces * d.STONES[stone.stone_code][1]


def test_stone_codes_carry_their_size_in_points() -> None:
    for code, (_, points) in d.STONES.items():
        assert int(code.rsplit("-", 1)[1]) == points


def test_a_dozen_styles_over_every_category() -> None:
    assert len(d.STYLES) >= 12
    assert _unique([s.sku for s in d.STYLES])
    assert {s.category for s in d.STYLES} == {"RING", "PENDANT", "EARRINGS", "CHAIN", "BRACELET"}
    assert {"RNG-SOL-001", "RNG-ETR-002", "PND-HRT-001", "EAR-STD-001", "CHN-CUR-045"} <= {s.sku for s in d.STYLES}
    for style in d.STYLES:
        assert re.fullmatch(r"[A-Z]{3}-[A-Z]{2,3}-\d{3}", style.sku)
        assert len(style.display_name) <= 120


@pytest.mark.parametrize("style", d.STYLES, ids=lambda s: s.sku)
def test_routing_is_numbered_1_to_n_and_ends_with_qc_and_packing(style: d.StyleDef) -> None:
    steps = style.routing
    assert [s.sequence for s in steps] == list(range(1, len(steps) + 1))
    assert [s.operation_code for s in steps[-2:]] == ["QC", "PACKING"]
    assert _unique([s.operation_code for s in steps if s.operation_code != "SOLDERING"])
    for step in steps:
        assert isinstance(step.expected_minutes, int) and step.expected_minutes > 0
        assert isinstance(step.loss_tolerance_per_mille, int) and 0 <= step.loss_tolerance_per_mille <= 25
        assert step.optional == (step.operation_code == "ENGRAVING")
    first = steps[0].operation_code
    assert first in {"CASTING", "ASSEMBLY"}
    if style.category == "CHAIN":
        assert first == "ASSEMBLY" and "CASTING" not in {s.operation_code for s in steps}


def test_loss_tolerances_follow_the_shop_norms() -> None:
    tolerance = {s.operation_code: s.loss_tolerance_per_mille for style in d.STYLES for s in style.routing}
    assert tolerance["CASTING"] == 20
    assert tolerance["FILING"] == 15
    assert tolerance["POLISHING"] == 10
    assert tolerance["QC"] <= 1 and tolerance["PACKING"] <= 1


@pytest.mark.parametrize("style", d.STYLES, ids=lambda s: s.sku)
def test_bom_has_exactly_one_metal_item_and_known_stones(style: d.StyleDef) -> None:
    metals = [b for b in style.bill_of_materials if b.kind == "METAL"]
    assert len(metals) == 1
    metal = metals[0]
    assert metal.material_code == ""  # the order line's alloy
    assert isinstance(metal.weight_mg, int) and 500 <= metal.weight_mg <= MAX_MG and metal.pieces == 0
    has_setting = "STONE_SETTING" in {s.operation_code for s in style.routing}
    stones = [b for b in style.bill_of_materials if b.kind == "STONE"]
    assert bool(stones) == has_setting
    for stone in stones:
        assert stone.material_code in d.STONES
        assert isinstance(stone.pieces, int) and stone.pieces > 0 and stone.weight_mg == 0


def test_solitaire_ring_is_about_3500_mg_and_one_stone() -> None:
    solitaire = next(s for s in d.STYLES if s.sku == "RNG-SOL-001")
    assert [(b.kind, b.weight_mg, b.pieces) for b in solitaire.bill_of_materials] == [
        ("METAL", 3_500, 0),
        ("STONE", 0, 1),
    ]


def test_every_work_center_type_in_a_routing_has_a_work_center() -> None:
    used = {s.work_center_type for style in d.STYLES for s in style.routing}
    centers = {wc.work_center_type for wc in d.WORK_CENTERS}
    assert used <= centers
    assert centers <= used  # and no idle demo work center
    assert _unique([wc.code for wc in d.WORK_CENTERS])
    assert {"CAST-1", "FILE-1", "FILE-2", "SET-1", "POL-1", "ENG-1", "QC-1", "PACK-1", "ASM-1"} == {
        wc.code for wc in d.WORK_CENTERS
    }
    assert all(wc.capacity > 0 for wc in d.WORK_CENTERS)


def test_operators_and_one_supervisor() -> None:
    codes = [op.code for op in d.OPERATORS]
    assert codes == ["OP-01", "OP-02", "OP-03", "OP-04", "OP-05", "OP-06", "SUP-01"]
    assert [op.code for op in d.OPERATORS if op.supervisor] == ["SUP-01"]


def test_partner_ids_are_valid() -> None:
    ids = [p.partner_id for p in d.PARTNERS]
    assert ids == ["aurora-jewels", "northwind-gems"]
    assert all(re.fullmatch(r"[a-z0-9-]{3,40}", pid) for pid in ids)


def test_alloy_message_maps_metal_enum() -> None:
    message = alloy_message(next(a for a in d.ALLOYS if a.code == "PT950"))
    assert message.name == "alloys/PT950"
    assert message.metal == inventory_pb2.METAL_PLATINUM
    assert (message.fineness, message.density_mg_per_cm3, message.active) == (950, 20_700, True)


def test_style_message_keeps_routing_and_bom() -> None:
    style = next(s for s in d.STYLES if s.sku == "EAR-STD-001")
    message = style_message(style)
    assert message.name == "styles/EAR-STD-001"
    assert message.category == production_pb2.STYLE_CATEGORY_EARRINGS
    assert [(s.sequence, s.operation_code, s.work_center_type) for s in message.routing][:3] == [
        (1, "CASTING", "CASTING"),
        (2, "FILING", "FILING"),
        (3, "SOLDERING", "ASSEMBLY"),
    ]
    assert [b.kind for b in message.bill_of_materials] == [
        common_pb2.MATERIAL_KIND_METAL,
        common_pb2.MATERIAL_KIND_STONE,
    ]
    assert message.bill_of_materials[1].material_code == "DIA-RB-010"
    assert message.bill_of_materials[1].pieces == 2
