"""Stock of one material summed over its lots."""

from __future__ import annotations

from dataclasses import dataclass

from services.inventory.domain.materials import MaterialKind, fine_mg

__all__ = ["Balance"]


@dataclass(frozen=True)
class Balance:
    material_code: str
    #: None for a code nothing is known about (no alloy, no lots).
    kind: MaterialKind | None
    on_hand_mg: int = 0
    reserved_mg: int = 0
    on_hand_pieces: int = 0
    reserved_pieces: int = 0
    #: The alloy's fineness (metal); 0 when unknown or for stones.
    fineness: int = 0

    @property
    def available_mg(self) -> int:
        return self.on_hand_mg - self.reserved_mg

    @property
    def available_pieces(self) -> int:
        return self.on_hand_pieces - self.reserved_pieces

    @property
    def fine_on_hand_mg(self) -> int:
        return fine_mg(self.on_hand_mg, self.fineness)

    @property
    def fine_available_mg(self) -> int:
        return fine_mg(self.available_mg, self.fineness)
