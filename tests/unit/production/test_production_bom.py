"""Bill of materials explosion and line validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mes_kernel.errors import InvalidArgument
from mes_kernel.validation import Violations
from services.production.domain.bom import MaterialRequirement, explode, validate_lines
from services.production.domain.styles import MaterialKind
from tests.unit.production._factories import line, ring


def test_metal_in_the_lines_alloy_and_stones_summed_per_code() -> None:
    styles = {"RNG-001": ring()}
    got = explode([line(1, quantity=2), line(2, quantity=1, alloy="AG925")], styles)
    assert got == [
        MaterialRequirement("AU750Y", MaterialKind.METAL, weight_mg=10_000, line_number=1),
        MaterialRequirement("DIA-150", MaterialKind.STONE, pieces=10, line_number=1),
        MaterialRequirement("RUBY-2", MaterialKind.STONE, pieces=2, line_number=1),
        MaterialRequirement("AG925", MaterialKind.METAL, weight_mg=5_000, line_number=2),
        MaterialRequirement("DIA-150", MaterialKind.STONE, pieces=5, line_number=2),
        MaterialRequirement("RUBY-2", MaterialKind.STONE, pieces=1, line_number=2),
    ]


def test_unknown_styles_are_named_by_line() -> None:
    with pytest.raises(InvalidArgument) as err:
        explode([line(1), line(2, "GHOST"), line(3, "NOPE")], {"RNG-001": ring()})
    assert err.value.reason == "UNKNOWN_STYLE"
    assert [v.field for v in err.value.violations] == ["lines[1].style_code", "lines[2].style_code"]


@given(st.integers(1, 10_000), st.integers(1, 100_000_000))
def test_metal_scales_with_quantity(quantity: int, weight: int) -> None:
    style = ring()
    style.bill_of_materials = (style.bill_of_materials[0].__class__(MaterialKind.METAL, "", weight),)
    (metal,) = explode([line(quantity=quantity)], {"RNG-001": style})
    assert metal.weight_mg == weight * quantity


def test_line_validation() -> None:
    v = Violations()
    validate_lines(v, [line(1, quantity=0), line(1, "bad code", engraving="x" * 41), line(0, alloy="")])
    assert [x.field for x in v.items] == [
        "lines[0].quantity",
        "lines[1].line_number",
        "lines[1].style_code",
        "lines[1].engraving",
        "lines[2].line_number",
        "lines[2].alloy_code",
    ]
    empty = Violations()
    validate_lines(empty, [])
    assert [x.field for x in empty.items] == ["lines"]
    too_many = Violations()
    validate_lines(too_many, [line(n) for n in range(1, 252)])
    assert [x.field for x in too_many.items] == ["lines"]
