"""How the orders consumers word a reservation failure (the ON_HOLD reason)."""

from __future__ import annotations

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2
from services.orders.entrypoints.codec.consumed import describe_shortages


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
