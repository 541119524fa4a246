"""Consumed event messages -> what the event handlers take."""

from __future__ import annotations

from collections.abc import Iterable

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as inv_events
from mes.inventory.v1 import inventory_pb2
from mes.production.v1 import production_events_pb2 as prod_events
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind

__all__ = ["MAX_REASON_LEN", "alloy_copy", "describe_shortages", "requirements_failure", "style_copy"]

#: Longest reason taken from a consumed event.
MAX_REASON_LEN = 500


def describe_shortages(shortages: Iterable[inventory_pb2.Shortage]) -> str:
    """``insufficient stock: AU750 needs 5000 mg, 1200 mg available; ...`` (at most 500 chars)."""

    def one(s: inventory_pb2.Shortage) -> str:
        if s.kind == common_pb2.MATERIAL_KIND_STONE:
            return f"{s.material_code} needs {s.required_pieces} pcs, {s.available_pieces} pcs available"
        return f"{s.material_code} needs {s.required_mg} mg, {s.available_mg} mg available"

    parts = [one(s) for s in shortages]
    text = "insufficient stock: " + "; ".join(parts) if parts else "insufficient stock"
    return text if len(text) <= MAX_REASON_LEN else text[: MAX_REASON_LEN - 3] + "..."


def requirements_failure(event: prod_events.RequirementsFailedEvent) -> str:
    """The reason an order is rejected when its bill of materials failed."""
    return f"bill of materials: {event.reason or 'failed'}"


def alloy_copy(event: inv_events.AlloyUpsertedEvent) -> CatalogueItem:
    alloy = event.alloy
    return CatalogueItem(CatalogueKind.ALLOY, alloy.code, alloy.display_name or alloy.code, alloy.active, alloy.version)


def style_copy(event: prod_events.StyleUpsertedEvent) -> CatalogueItem:
    style = event.style
    return CatalogueItem(CatalogueKind.STYLE, style.sku, style.display_name or style.sku, style.active, style.version)
