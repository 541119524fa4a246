"""Domain objects and principals for the inventory tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mes_kernel.principal import Principal
from services.inventory.domain.allocation import Allocation, Requirement, ShortageLine
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.custody import CustodyEntry, CustodyKind
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.materials import MaterialKind, Metal, Priority
from services.inventory.domain.reservations import Reservation
from services.inventory.domain.waiting import WaitingOrder

__all__ = [
    "NOW",
    "OPERATOR",
    "PARTNER",
    "alloy",
    "at",
    "entry",
    "held",
    "lot",
    "waiting",
]

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OPERATOR = Principal("operator", "OP-1")
PARTNER = Principal("service", "facade", "acme")
METAL, STONE = MaterialKind.METAL, MaterialKind.STONE


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def alloy(code: str = "AU750Y", fineness: int = 750, *, version: int = 1) -> Alloy:
    return Alloy(code, Metal.GOLD, fineness, "yellow", 15_500_000, code, True, version, NOW, NOW)


def lot(
    lot_id: str, code: str = "AU750Y", quantity: int = 10_000, *, minutes: int = 0, kind: MaterialKind = METAL
) -> MaterialLot:
    return MaterialLot.receive(
        lot_id=lot_id,
        kind=kind,
        material_code=code,
        weight_mg=quantity,
        pieces=quantity,
        weight_points=0,
        supplier_reference="",
        now=at(minutes),
    )


def held(
    reservation_id: str, order_id: str, *takes: tuple[str, int], minutes: int = 0, code: str = "AU750Y"
) -> Reservation:
    """A HELD reservation taking (lot id, mg) of metal ``code``, one order line each."""
    allocations = [Allocation(lot_id, METAL, code, mg, line) for line, (lot_id, mg) in enumerate(takes, start=1)]
    return Reservation.hold(reservation_id, order_id, Priority.NORMAL, allocations, at(minutes))


def waiting(
    order_id: str, priority: Priority = Priority.NORMAL, *, minutes: int = 0, short: tuple[str, ...] = ("AU750Y",)
) -> WaitingOrder:
    """An order waiting for 5 g of each of ``short`` (none free)."""
    requirements = tuple(Requirement(METAL, code, 5_000, i) for i, code in enumerate(short, start=1))
    shortages = tuple(ShortageLine(METAL, code, 5_000, 0) for code in short)
    return WaitingOrder(order_id, priority, at(minutes), requirements, shortages)


def entry(
    entry_id: str,
    kind: CustodyKind,
    holder: str,
    mg: int,
    *,
    lot_id: str = "",
    reference: str = "",
    code: str = "AU750Y",
    batch_id: str = "",
) -> CustodyEntry:
    return CustodyEntry.of(
        entry_id, kind, holder, (METAL, code), mg, NOW, lot_id=lot_id, reference=reference, batch_id=batch_id
    )
