"""Bill-of-materials explosion: an order's requirements computed, or failed, once per order."""

from __future__ import annotations

import pytest

from mes_kernel.errors import InvalidArgument
from services.production.domain.bom import MaterialRequirement
from services.production.domain.events import RequirementsComputed, RequirementsFailed
from services.production.domain.styles import MaterialKind
from services.production.service_layer.commands import (
    ExplodeBillOfMaterials,
    OrderCancelled,
    OrderSubmitted,
    UpsertStyle,
)
from tests.unit.production._factories import NOW, definition, line
from tests.unit.production._floor import PARTNER, STAFF, Floor

METAL, STONE = MaterialKind.METAL, MaterialKind.STONE


async def test_requirements_are_computed_per_line_and_emitted_with_the_cause(floor: Floor) -> None:
    event = OrderSubmitted("ORD-1", 3, (line(1, quantity=2), line(2, alloy="AG925")), NOW)
    requirements = await floor.consume("evt-1", "on_order_submitted", event)
    assert requirements == [
        MaterialRequirement("AU750Y", METAL, weight_mg=10_000, line_number=1),
        MaterialRequirement("DIA-150", STONE, pieces=10, line_number=1),
        MaterialRequirement("RUBY-2", STONE, pieces=2, line_number=1),
        MaterialRequirement("AG925", METAL, weight_mg=5_000, line_number=2),
        MaterialRequirement("DIA-150", STONE, pieces=5, line_number=2),
        MaterialRequirement("RUBY-2", STONE, pieces=1, line_number=2),
    ]
    [computed] = floor.events(RequirementsComputed)
    assert (computed.order_id, computed.priority, list(computed.requirements), computed.submit_time) == (
        "ORD-1",
        3,
        requirements,
        NOW,
    )
    assert floor.causes(RequirementsComputed) == ["evt-1"]
    # A redelivery changes nothing.
    assert await floor.consume("evt-1", "on_order_submitted", event) is None
    assert len(floor.events(RequirementsComputed)) == 1


async def test_an_unknown_style_fails_the_requirements(floor: Floor) -> None:
    event = OrderSubmitted("ORD-2", 0, (line(1), line(2, "GHOST")))
    assert await floor.consume("evt-9", "on_order_submitted", event) is None
    assert [(e.order_id, e.reason) for e in floor.events(RequirementsFailed)] == [("ORD-2", "UNKNOWN_STYLE")]
    assert floor.causes(RequirementsFailed) == ["evt-9"]
    assert floor.events(RequirementsComputed) == []


async def test_invalid_lines_fail_the_requirements_as_invalid_argument(floor: Floor) -> None:
    assert await floor.consume("e", "on_order_submitted", OrderSubmitted("ORD-3", 2, (line(1, quantity=0),))) is None
    assert [e.reason for e in floor.events(RequirementsFailed)] == ["INVALID_ARGUMENT"]


async def test_an_inactive_style_is_still_exploded_here() -> None:
    """Production computes the requirements of an inactive style: the orders service's intake
    refuses such lines before they reach production (see the saga flow test)."""
    floor = Floor()
    await floor.seed()
    await floor.handlers.catalog.upsert_style(UpsertStyle(STAFF, definition(active=False)))
    assert await floor.consume("e", "on_order_submitted", OrderSubmitted("ORD-4", 2, (line(1),)))
    assert floor.events(RequirementsFailed) == []


async def test_an_order_cancelled_first_gets_no_requirements(floor: Floor) -> None:
    assert await floor.consume("e1", "on_order_cancelled", OrderCancelled("ORD-5", "customer")) == []
    assert await floor.consume("e2", "on_order_submitted", OrderSubmitted("ORD-5", 2, (line(1),))) is None
    assert floor.events(RequirementsComputed) == floor.events(RequirementsFailed) == []


async def test_explode_query_is_open_to_partners_and_names_unknown_styles(floor: Floor) -> None:
    query = ExplodeBillOfMaterials(PARTNER, (line(1),))
    assert [r.material_code for r in await floor.handlers.catalog.explode_bill_of_materials(query)] == [
        "AU750Y",
        "DIA-150",
        "RUBY-2",
    ]
    with pytest.raises(InvalidArgument) as err:
        await floor.handlers.catalog.explode_bill_of_materials(
            ExplodeBillOfMaterials(STAFF, (line(1), line(2, "NOPE")))
        )
    assert err.value.reason == "UNKNOWN_STYLE"
    assert [v.field for v in err.value.violations] == ["lines[1].style_code"]
