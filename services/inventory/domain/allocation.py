"""All-or-none allocation of an order's requirements to lots, first in first out.

``allocate`` is a pure function over lot snapshots: it either satisfies every
requirement (never taking more from a lot than the lot has free) or returns
what is short and allocates nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.inventory.domain.lots import LotSnapshot
from services.inventory.domain.materials import MaterialKey, MaterialKind

__all__ = ["Allocation", "AllocationResult", "Requirement", "ShortageLine", "allocate", "totals_by_material"]


@dataclass(frozen=True)
class Requirement:
    """A quantity of one material for one order line (mg for metal, pieces for stones)."""

    kind: MaterialKind
    material_code: str
    quantity: int
    line_number: int = 0

    @property
    def key(self) -> MaterialKey:
        return (self.kind, self.material_code)


@dataclass(frozen=True)
class Allocation:
    """A part of a requirement taken from one lot."""

    lot_id: str
    kind: MaterialKind
    material_code: str
    quantity: int
    line_number: int


@dataclass(frozen=True)
class ShortageLine:
    """A material the order needs more of than is free (summed over the order's lines)."""

    kind: MaterialKind
    material_code: str
    required: int
    available: int


@dataclass(frozen=True)
class AllocationResult:
    allocations: tuple[Allocation, ...]
    shortages: tuple[ShortageLine, ...]

    @property
    def satisfied(self) -> bool:
        return not self.shortages


def totals_by_material(requirements: Iterable[Requirement]) -> dict[MaterialKey, int]:
    """Required quantity per material, in order of first appearance."""
    totals: dict[MaterialKey, int] = {}
    for req in requirements:
        totals[req.key] = totals.get(req.key, 0) + req.quantity
    return totals


def allocate(requirements: Sequence[Requirement], lots: Iterable[LotSnapshot]) -> AllocationResult:
    """Allocate every requirement from ``lots`` (oldest first) or report the shortages."""
    fifo: dict[MaterialKey, list[LotSnapshot]] = defaultdict(list)
    for lot in lots:
        if lot.available > 0:
            fifo[lot.key].append(lot)
    for queue in fifo.values():
        queue.sort(key=lambda lot: (lot.receive_time, lot.lot_id))

    shortages = []
    for key, required in totals_by_material(requirements).items():
        available = sum(lot.available for lot in fifo.get(key, ()))
        if required > available:
            shortages.append(ShortageLine(key[0], key[1], required, available))
    if shortages:
        return AllocationResult((), tuple(shortages))

    free = {lot.lot_id: lot.available for queue in fifo.values() for lot in queue}
    allocations: list[Allocation] = []
    for req in requirements:
        need = req.quantity
        for lot in fifo.get(req.key, ()):
            if need == 0:
                break
            take = min(need, free[lot.lot_id])
            if take > 0:
                allocations.append(Allocation(lot.lot_id, req.kind, req.material_code, take, req.line_number))
                free[lot.lot_id] -= take
                need -= take
    return AllocationResult(tuple(allocations), ())
