"""Domain objects for the production unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.production.domain.bom import LineSpec
from services.production.domain.operations import Operation
from services.production.domain.resources import WorkCenter
from services.production.domain.styles import BomItem, MaterialKind, RoutingStep, Style, StyleCategory, StyleDefinition
from services.production.domain.work_orders import WorkOrder

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def routing(*steps: tuple[str, str, int, bool]) -> tuple[RoutingStep, ...]:
    return tuple(RoutingStep(i + 1, code, wc, 30, tol, opt) for i, (code, wc, tol, opt) in enumerate(steps))


#: A cast ring: (operation code, work center type, tolerance per mille, optional); the
#: integration tests create the same style through gRPC.
RING_ROUTING = (
    ("CASTING", "CAST", 20, False),
    ("FILING", "BENCH", 10, False),
    ("STONE_SETTING", "SETTING", 5, False),
    ("POLISHING", "POLISH", 10, False),
    ("ENGRAVING", "LASER", 0, True),
    ("PLATING", "PLATE", 0, True),
    ("QC", "QC", 0, False),
)
RING = routing(*RING_ROUTING)
#: Work centers of the ring routing (no PLATE and no QC center): (code, type).
WORK_CENTERS = (("CAST-1", "CAST"), ("BENCH-1", "BENCH"), ("SET-1", "SETTING"), ("POL-1", "POLISH"), ("LAS-1", "LASER"))
BOM = (
    BomItem(MaterialKind.METAL, "", 5_000),
    BomItem(MaterialKind.STONE, "DIA-150", pieces=3),
    BomItem(MaterialKind.STONE, "RUBY-2", pieces=1),
    BomItem(MaterialKind.STONE, "DIA-150", pieces=2),
)


def definition(sku: str = "RNG-001", **overrides: object) -> StyleDefinition:
    values: dict[str, object] = {
        "sku": sku,
        "display_name": "Solitaire",
        "category": StyleCategory.RING,
        "routing": RING,
        "bill_of_materials": BOM,
        "active": True,
    }
    values.update(overrides)
    return StyleDefinition(**values)  # type: ignore[arg-type]


def ring(sku: str = "RNG-001") -> Style:
    return Style.create(definition(sku), NOW)


def center(code: str, wc_type: str, capacity: int = 1, active: bool = True) -> WorkCenter:
    return WorkCenter(code, wc_type, code, capacity, active, NOW, NOW)


def line(n: int = 1, sku: str = "RNG-001", quantity: int = 1, engraving: str = "", alloy: str = "AU750Y") -> LineSpec:
    return LineSpec(n, sku, alloy, "54", engraving, quantity)


def operation(code: str = "FILING", tolerance: int = 10) -> Operation:
    return Operation("wo-1", 2, code, "BENCH", tolerance, "ORD-1", "AU750Y", 2, NOW, NOW)


def work_order(wo_id: str = "wo-1", order_id: str = "ORD-1", line_number: int = 1, minutes: int = 0) -> WorkOrder:
    """A PLANNED work order of one ring, created ``minutes`` after ``NOW``."""
    at = NOW + timedelta(minutes=minutes)
    style = ring()
    return WorkOrder(wo_id, order_id, line_number, style.sku, "AU750Y", "54", "", 1, 2, 1, style.routing, at, at)
