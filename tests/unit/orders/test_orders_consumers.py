"""What the orders consumers take from the events they handle: the ON_HOLD reason of a
reservation failure, the REJECTED reason, the catalogue copies."""

from __future__ import annotations

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2, inventory_pb2
from mes.production.v1 import production_events_pb2, production_pb2
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.entrypoints.codec.consumed import alloy_copy, describe_shortages, requirements_failure, style_copy


def test_shortages_name_each_material_with_its_unit() -> None:
    reason = describe_shortages(
        [
            inventory_pb2.Shortage(
                material_code="AU750Y", kind=common_pb2.MATERIAL_KIND_METAL, required_mg=5000, available_mg=1200
            ),
            inventory_pb2.Shortage(
                material_code="DIA-150", kind=common_pb2.MATERIAL_KIND_STONE, required_pieces=3, available_pieces=0
            ),
        ]
    )
    assert reason == "insufficient stock: AU750Y needs 5000 mg, 1200 mg available; DIA-150 needs 3 pcs, 0 pcs available"


def test_without_shortages_and_when_long() -> None:
    assert describe_shortages([]) == "insufficient stock"
    many = [inventory_pb2.Shortage(material_code=f"ALLOY-{i:03d}", required_mg=10**9) for i in range(40)]
    reason = describe_shortages(many)
    assert len(reason) == 500 and reason.endswith("...")


def test_upserted_styles_and_alloys_become_catalogue_copies() -> None:
    alloy = inventory_events_pb2.AlloyUpsertedEvent(alloy=inventory_pb2.Alloy(code="AU750Y", active=True, version=3))
    assert alloy_copy(alloy) == CatalogueItem(CatalogueKind.ALLOY, "AU750Y", "AU750Y", True, 3)
    style = production_events_pb2.StyleUpsertedEvent(
        style=production_pb2.Style(sku="RNG-1", display_name="Solitaire", active=False, version=7)
    )
    assert style_copy(style) == CatalogueItem(CatalogueKind.STYLE, "RNG-1", "Solitaire", False, 7)
    failed = production_events_pb2.RequirementsFailedEvent(order_id="o-1")
    assert requirements_failure(failed) == "bill of materials: failed"
    failed.reason = "style RNG-1 has no bill of materials"
    assert requirements_failure(failed) == "bill of materials: style RNG-1 has no bill of materials"
