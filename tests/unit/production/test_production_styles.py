"""Style validation and routing versions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mes_kernel.errors import InvalidArgument
from services.production.domain.styles import (
    BomItem,
    MaterialKind,
    RoutingStep,
    Style,
    StyleChange,
    step_runs,
    validate_style,
)
from tests.unit.production._factories import BOM, NOW, RING, definition, routing


def fields_of(err: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {v.field for v in err.value.violations}


def test_a_valid_ring_passes() -> None:
    validate_style(definition())


def test_every_problem_is_reported_at_once() -> None:
    bad_routing = (
        RoutingStep(1, "CASTING", "cast", 0, -1),
        RoutingStep(3, "WELDING", "BENCH", 10_001, 1001),
    )
    bad_bom = (
        BomItem(MaterialKind.METAL, "AU750", 0, 1),
        BomItem(MaterialKind.STONE, "", 5, 0),
        BomItem(None),
    )
    with pytest.raises(InvalidArgument) as err:
        validate_style(definition("", display_name="", category=None, routing=bad_routing, bill_of_materials=bad_bom))
    assert fields_of(err) == {
        "style.sku",
        "style.display_name",
        "style.category",
        "style.routing[0].work_center_type",
        "style.routing[0].expected_minutes",
        "style.routing[0].loss_tolerance_per_mille",
        "style.routing[1].sequence",
        "style.routing[1].operation_code",
        "style.routing[1].expected_minutes",
        "style.routing[1].loss_tolerance_per_mille",
        "style.bill_of_materials[0].material_code",
        "style.bill_of_materials[0].weight_mg",
        "style.bill_of_materials[0].pieces",
        "style.bill_of_materials[1].material_code",
        "style.bill_of_materials[1].pieces",
        "style.bill_of_materials[1].weight_mg",
        "style.bill_of_materials[2].kind",
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"routing": ()}, "style.routing"),
        ({"routing": routing(*[("QC", "QC", 0, False)] * 21)}, "style.routing"),
        ({"routing": routing(("ENGRAVING", "LASER", 0, True))}, "style.routing"),
        ({"bill_of_materials": BOM[1:]}, "style.bill_of_materials"),
        ({"bill_of_materials": (BOM[0], BOM[0])}, "style.bill_of_materials"),
        ({"bill_of_materials": (replace(BOM[0], weight_mg=100_000_001),)}, "style.bill_of_materials[0].weight_mg"),
        ({"bill_of_materials": (BOM[0], replace(BOM[1], pieces=1001))}, "style.bill_of_materials[1].pieces"),
        ({"display_name": "x" * 121}, "style.display_name"),
    ],
)
def test_limits(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_style(definition(**overrides))
    assert field in fields_of(err)


def test_limits_that_pass() -> None:
    validate_style(definition(routing=routing(*[("QC", "QC", 1000, False)] * 20)))
    validate_style(definition(bill_of_materials=(replace(BOM[0], weight_mg=100_000_000),)))


def test_routing_or_bom_change_makes_a_new_version_attributes_do_not() -> None:
    style = Style.create(definition(), NOW)
    assert style.routing_version == 1
    assert style.apply(definition(), NOW) is StyleChange.NONE
    assert style.apply(definition(display_name="Solitaire II", active=False), NOW) is StyleChange.ATTRIBUTES
    assert (style.routing_version, style.display_name, style.active) == (1, "Solitaire II", False)
    assert (
        style.apply(definition(display_name="Solitaire II", active=False, routing=RING[:4]), NOW) is StyleChange.ROUTING
    )
    assert style.routing_version == 2
    new_bom = (replace(BOM[0], weight_mg=4_000),)
    assert (
        style.apply(definition(display_name="X", routing=RING[:4], bill_of_materials=new_bom), NOW)
        is StyleChange.ROUTING
    )
    assert (style.routing_version, style.display_name, style.metal.weight_mg) == (3, "X", 4_000)


def test_optional_steps_run_only_when_asked() -> None:
    engraving, plating, qc = RING[4], RING[5], RING[6]
    assert step_runs(engraving, "For ever") and not step_runs(engraving, "  ")
    assert not step_runs(plating, "For ever")
    assert step_runs(qc, "") and step_runs(replace(plating, optional=False), "")
