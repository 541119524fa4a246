"""Styles (SKUs) with a versioned routing and a bill of materials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mes_kernel.validation import CODE_RE, Violations

__all__ = [
    "MAX_METAL_MG",
    "MAX_ROUTING_STEPS",
    "OPERATION_CODES",
    "BomItem",
    "MaterialKind",
    "RoutingStep",
    "Style",
    "StyleCategory",
    "StyleChange",
    "StyleDefinition",
    "step_runs",
    "validate_style",
]

OPERATION_CODES = frozenset(
    {
        "CASTING",
        "FILING",
        "STONE_SETTING",
        "POLISHING",
        "PLATING",
        "ENGRAVING",
        "QC",
        "PACKING",
        "ASSEMBLY",
        "SOLDERING",
    }
)
MAX_ROUTING_STEPS = 20
MAX_EXPECTED_MINUTES = 10_000
MAX_METAL_MG = 100_000_000
MAX_STONE_PIECES = 1000


class StyleCategory(StrEnum):
    RING = "RING"
    PENDANT = "PENDANT"
    EARRINGS = "EARRINGS"
    CHAIN = "CHAIN"
    BRACELET = "BRACELET"


class MaterialKind(StrEnum):
    METAL = "METAL"
    STONE = "STONE"


@dataclass(frozen=True, slots=True)
class RoutingStep:
    sequence: int
    operation_code: str
    work_center_type: str
    expected_minutes: int
    loss_tolerance_per_mille: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class BomItem:
    """Per piece. Metal: empty material code (the line's alloy), gross mg. Stones: code and pieces."""

    kind: MaterialKind | None
    material_code: str = ""
    weight_mg: int = 0
    pieces: int = 0


def step_runs(step: RoutingStep, engraving: str) -> bool:
    """Optional steps run only when the line asks for them: engraving text asks for ENGRAVING."""
    if not step.optional:
        return True
    return step.operation_code == "ENGRAVING" and bool(engraving.strip())


@dataclass(frozen=True, slots=True)
class StyleDefinition:
    """What a caller sends to create or change a style."""

    sku: str
    display_name: str
    category: StyleCategory | None
    routing: tuple[RoutingStep, ...]
    bill_of_materials: tuple[BomItem, ...]
    active: bool = True


class StyleChange(StrEnum):
    NONE = "NONE"
    ATTRIBUTES = "ATTRIBUTES"  # name, category or active flag
    ROUTING = "ROUTING"  # routing or bill of materials: a new routing version


@dataclass(slots=True)
class Style:
    sku: str
    display_name: str
    category: StyleCategory
    routing_version: int
    routing: tuple[RoutingStep, ...]
    bill_of_materials: tuple[BomItem, ...]
    active: bool
    create_time: datetime
    update_time: datetime
    version: int = 1

    @classmethod
    def create(cls, definition: StyleDefinition, now: datetime) -> Style:
        if definition.category is None:  # validate_style rejects this first
            raise ValueError("category is required")
        return cls(
            sku=definition.sku,
            display_name=definition.display_name,
            category=definition.category,
            routing_version=1,
            routing=definition.routing,
            bill_of_materials=definition.bill_of_materials,
            active=definition.active,
            create_time=now,
            update_time=now,
        )

    @property
    def metal(self) -> BomItem:
        return next(item for item in self.bill_of_materials if item.kind is MaterialKind.METAL)

    @property
    def stones(self) -> tuple[BomItem, ...]:
        return tuple(item for item in self.bill_of_materials if item.kind is MaterialKind.STONE)

    def apply(self, definition: StyleDefinition, now: datetime) -> StyleChange:
        """Apply an upsert; a routing or BOM change makes a new routing version."""
        if definition.category is None:
            raise ValueError("category is required")
        change = StyleChange.NONE
        if (definition.routing, definition.bill_of_materials) != (self.routing, self.bill_of_materials):
            self.routing = definition.routing
            self.bill_of_materials = definition.bill_of_materials
            self.routing_version += 1
            change = StyleChange.ROUTING
        attributes = (definition.display_name, definition.category, definition.active)
        if attributes != (self.display_name, self.category, self.active):
            self.display_name, self.category, self.active = attributes
            change = change if change is StyleChange.ROUTING else StyleChange.ATTRIBUTES
        if change is not StyleChange.NONE:
            self.update_time = now
        return change


def validate_style(definition: StyleDefinition, prefix: str = "style") -> None:
    """Raise one INVALID_ARGUMENT listing every problem of the definition."""
    v = Violations()
    v.code(definition.sku, f"{prefix}.sku")
    v.text(definition.display_name, f"{prefix}.display_name", max_len=120, required=True)
    v.check(definition.category is not None, f"{prefix}.category", "must be specified")
    _validate_routing(v, definition.routing, f"{prefix}.routing")
    _validate_bom(v, definition.bill_of_materials, f"{prefix}.bill_of_materials")
    v.raise_if_any("the style is invalid")


def _validate_routing(v: Violations, routing: Sequence[RoutingStep], field: str) -> None:
    if not 1 <= len(routing) <= MAX_ROUTING_STEPS:
        v.add(field, f"must have 1..{MAX_ROUTING_STEPS} steps")
        return
    for i, step in enumerate(routing):
        at = f"{field}[{i}]"
        v.check(step.sequence == i + 1, f"{at}.sequence", f"must be {i + 1} (sequences run 1..n in order)")
        v.check(
            step.operation_code in OPERATION_CODES,
            f"{at}.operation_code",
            "must be one of " + ", ".join(sorted(OPERATION_CODES)),
        )
        v.code(step.work_center_type, f"{at}.work_center_type")
        v.positive(step.expected_minutes, f"{at}.expected_minutes", maximum=MAX_EXPECTED_MINUTES)
        v.non_negative(step.loss_tolerance_per_mille, f"{at}.loss_tolerance_per_mille", maximum=1000)
    v.check(any(not step.optional for step in routing), field, "must have at least one step that is not optional")


def _validate_bom(v: Violations, bom: Sequence[BomItem], field: str) -> None:
    metals = [i for i, item in enumerate(bom) if item.kind is MaterialKind.METAL]
    v.check(len(metals) == 1, field, "must have exactly one METAL item")
    for i, item in enumerate(bom):
        at = f"{field}[{i}]"
        if item.kind is MaterialKind.METAL:
            v.check(item.material_code == "", f"{at}.material_code", "must be empty for metal (the line's alloy)")
            v.positive(item.weight_mg, f"{at}.weight_mg", maximum=MAX_METAL_MG)
            v.check(item.pieces == 0, f"{at}.pieces", "must be zero for metal")
        elif item.kind is MaterialKind.STONE:
            if v.check(bool(item.material_code), f"{at}.material_code", "is required for stones"):
                v.check(bool(CODE_RE.match(item.material_code)), f"{at}.material_code", "must be a stone code")
            v.positive(item.pieces, f"{at}.pieces", maximum=MAX_STONE_PIECES)
            v.check(item.weight_mg == 0, f"{at}.weight_mg", "must be zero for stones (counted by pieces)")
        else:
            v.add(f"{at}.kind", "must be METAL or STONE")
