"""Material lots: metal by gross milligrams, stones by pieces (and total points)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.inventory.domain.materials import MaterialKey, MaterialKind

__all__ = ["LotSnapshot", "MaterialLot"]


@dataclass(frozen=True)
class MaterialLot:
    lot_id: str
    kind: MaterialKind
    material_code: str
    received_mg: int
    on_hand_mg: int
    reserved_mg: int
    received_pieces: int
    on_hand_pieces: int
    reserved_pieces: int
    weight_points: int
    supplier_reference: str
    receive_time: datetime
    version: int

    @classmethod
    def receive(
        cls,
        *,
        lot_id: str,
        kind: MaterialKind,
        material_code: str,
        weight_mg: int,
        pieces: int,
        weight_points: int,
        supplier_reference: str,
        now: datetime,
    ) -> MaterialLot:
        metal = kind is MaterialKind.METAL
        mg, pcs = (weight_mg, 0) if metal else (0, pieces)
        return cls(
            lot_id=lot_id,
            kind=kind,
            material_code=material_code,
            received_mg=mg,
            on_hand_mg=mg,
            reserved_mg=0,
            received_pieces=pcs,
            on_hand_pieces=pcs,
            reserved_pieces=0,
            weight_points=0 if metal else weight_points,
            supplier_reference=supplier_reference,
            receive_time=now,
            version=1,
        )

    @property
    def key(self) -> MaterialKey:
        return (self.kind, self.material_code)

    @property
    def received(self) -> int:
        """Received quantity in the lot's unit (mg for metal, pieces for stones)."""
        return self.received_mg if self.kind is MaterialKind.METAL else self.received_pieces

    @property
    def on_hand(self) -> int:
        return self.on_hand_mg if self.kind is MaterialKind.METAL else self.on_hand_pieces

    @property
    def reserved(self) -> int:
        return self.reserved_mg if self.kind is MaterialKind.METAL else self.reserved_pieces

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def snapshot(self) -> LotSnapshot:
        return LotSnapshot(self.lot_id, self.kind, self.material_code, self.available, self.receive_time)


@dataclass(frozen=True)
class LotSnapshot:
    """What allocation needs to know about a lot: how much is free, and since when it is in stores."""

    lot_id: str
    kind: MaterialKind
    material_code: str
    #: Free quantity in the lot's unit: on hand minus reserved.
    available: int
    receive_time: datetime

    @property
    def key(self) -> MaterialKey:
        return (self.kind, self.material_code)
