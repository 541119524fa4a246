"""Orders waiting for material, and what they lack.

Waiting orders are served by priority (highest first), then by submit time
(oldest first), then by order id; ``since_time`` of a shortage is the order's
submit time, so listing shortages by (priority desc, since_time asc) shows them
in the order they will be served in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.inventory.domain.allocation import Requirement, ShortageLine
from services.inventory.domain.materials import MaterialKind, Priority

__all__ = ["Shortage", "WaitingOrder"]


@dataclass(frozen=True)
class Shortage:
    order_id: str
    kind: MaterialKind
    material_code: str
    #: In the material's unit: mg for metal, pieces for stones.
    required: int
    available: int
    priority: Priority
    since_time: datetime


@dataclass(frozen=True)
class WaitingOrder:
    order_id: str
    priority: Priority
    submit_time: datetime
    requirements: tuple[Requirement, ...]
    shortages: tuple[ShortageLine, ...]

    def serve_key(self) -> tuple[int, datetime, str]:
        return (-int(self.priority), self.submit_time, self.order_id)

    def shortage_rows(self) -> list[Shortage]:
        return [
            Shortage(self.order_id, s.kind, s.material_code, s.required, s.available, self.priority, self.submit_time)
            for s in self.shortages
        ]
