"""Alloys: a metal at a fineness and a colour."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.inventory.domain.materials import Metal

__all__ = ["Alloy"]


@dataclass(frozen=True)
class Alloy:
    code: str
    metal: Metal
    fineness: int
    colour: str
    #: Milligrams per cubic centimetre; 0 when unknown.
    density_mg_per_cm3: int
    display_name: str
    active: bool
    version: int
    create_time: datetime
    update_time: datetime

    def same_spec(self, other: Alloy) -> bool:
        """True when ``other`` describes the same alloy (ignoring version and times)."""
        return (self.metal, self.fineness, self.colour, self.density_mg_per_cm3, self.display_name, self.active) == (
            other.metal,
            other.fineness,
            other.colour,
            other.density_mg_per_cm3,
            other.display_name,
            other.active,
        )

    def updated_from(self, spec: Alloy, now: datetime) -> Alloy:
        """The stored alloy changed to ``spec``'s values, one version later."""
        return replace(spec, code=self.code, version=self.version + 1, create_time=self.create_time, update_time=now)
