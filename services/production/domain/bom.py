"""Order lines as production sees them, and the explosion of their bills of materials."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.validation import Violations
from services.production.domain.styles import MaterialKind, Style

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "LineSpec",
    "MaterialRequirement",
    "explode",
    "unknown_styles",
    "validate_lines",
    "validate_reference",
]

MAX_LINES = 250
MAX_QUANTITY = 10_000
_REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class LineSpec:
    line_number: int
    style_code: str
    alloy_code: str
    size: str = ""
    engraving: str = ""
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class MaterialRequirement:
    material_code: str
    kind: MaterialKind
    weight_mg: int = 0
    pieces: int = 0
    line_number: int = 0


def validate_reference(v: Violations, value: str, field: str) -> None:
    """Ids of other services' objects (order ids): 1..64 of letters, digits, '-' and '_'."""
    if not value:
        v.add(field, "is required")
    elif not _REFERENCE_RE.match(value):
        v.add(field, "must be 1..64 of letters, digits, '-' or '_'")


def validate_lines(v: Violations, lines: Sequence[LineSpec], field: str = "lines") -> None:
    if not 1 <= len(lines) <= MAX_LINES:
        v.add(field, f"must have 1..{MAX_LINES} lines")
    seen: set[int] = set()
    for i, line in enumerate(lines):
        at = f"{field}[{i}]"
        if v.check(line.line_number >= 1, f"{at}.line_number", "must be greater than zero"):
            v.check(line.line_number not in seen, f"{at}.line_number", "is duplicated")
            seen.add(line.line_number)
        v.code(line.style_code, f"{at}.style_code")
        v.code(line.alloy_code, f"{at}.alloy_code")
        v.text(line.size, f"{at}.size", max_len=40)
        v.text(line.engraving, f"{at}.engraving", max_len=40)
        v.positive(line.quantity, f"{at}.quantity", maximum=MAX_QUANTITY)


def unknown_styles(lines: Sequence[LineSpec], styles: Mapping[str, Style], field: str = "lines") -> None:
    """INVALID_ARGUMENT (UNKNOWN_STYLE) naming every line whose style is not in the catalogue."""
    violations = [
        FieldViolation(f"{field}[{i}].style_code", f"unknown style {line.style_code!r}")
        for i, line in enumerate(lines)
        if line.style_code not in styles
    ]
    if violations:
        raise InvalidArgument("unknown style", reason="UNKNOWN_STYLE", violations=violations)


def explode(lines: Sequence[LineSpec], styles: Mapping[str, Style]) -> list[MaterialRequirement]:
    """Per line: the metal (in the line's alloy) and the stones, times the quantity.

    Items of the same material on one line are summed; the order is line order, metal first,
    then stones by first appearance in the bill of materials.
    """
    unknown_styles(lines, styles)
    requirements: list[MaterialRequirement] = []
    for line in lines:
        style = styles[line.style_code]
        requirements.append(
            MaterialRequirement(
                material_code=line.alloy_code,
                kind=MaterialKind.METAL,
                weight_mg=style.metal.weight_mg * line.quantity,
                line_number=line.line_number,
            )
        )
        stones: dict[str, int] = {}
        for item in style.stones:
            stones[item.material_code] = stones.get(item.material_code, 0) + item.pieces * line.quantity
        requirements.extend(
            MaterialRequirement(code, MaterialKind.STONE, pieces=pieces, line_number=line.line_number)
            for code, pieces in stones.items()
        )
    return requirements
