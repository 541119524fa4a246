"""State changes of reservations inside one transaction, shared by the RPC use cases
and the event handlers. Callers retry the whole transaction on WriteConflict.

Lock order (no deadlocks on PostgreSQL): a reservation row first, then its lots in
lot id order; reserving locks lots in lot id order before inserting the reservation.
"""

from __future__ import annotations

from services.inventory.domain.custody import STORES, CustodyEntry, CustodyKind, order_holder, outstanding_by_lot
from services.inventory.domain.events import (
    CustodyRecorded,
    ReservationCommitted,
    ReservationConsumed,
    ReservationReleased,
)
from services.inventory.domain.materials import MaterialKind
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.service_layer.common import Deps
from services.inventory.service_layer.ports import Tx, WriteConflict

__all__ = ["commit_in", "consume_in", "custody_entry", "release_in", "return_outstanding"]


class LedgerInconsistency(RuntimeError):
    """A lot's counters disagree with its reservations (never expected; surfaces as INTERNAL)."""


def custody_entry(
    deps: Deps,
    *,
    kind: CustodyKind,
    holder: str,
    material_code: str,
    quantity: int,
    material_kind: MaterialKind,
    lot_id: str = "",
    reference: str = "",
    operator_code: str = "",
    batch_id: str = "",
) -> CustodyEntry:
    metal = material_kind is MaterialKind.METAL
    return CustodyEntry(
        entry_id=deps.new_id(),
        kind=kind,
        holder=holder,
        material_code=material_code,
        lot_id=lot_id,
        weight_mg=quantity if metal else 0,
        pieces=0 if metal else quantity,
        reference=reference,
        operator_code=operator_code,
        create_time=deps.clock(),
        batch_id=batch_id,
    )


async def _save(tx: Tx, reservation: Reservation, expected_version: int) -> None:
    if not await tx.reservations.update(reservation, expected_version):
        raise WriteConflict


async def commit_in(deps: Deps, tx: Tx, reservation: Reservation, causation_id: str = "") -> bool:
    """HELD -> COMMITTED: the reserved material is issued to the order (leaves stores)."""
    expected = reservation.version
    if not reservation.commit(deps.clock()):
        return False
    await _save(tx, reservation, expected)
    holder = order_holder(reservation.order_id)
    for share in reservation.shares_by_lot():
        if not await tx.lots.issue(share.lot_id, share.kind, share.quantity):
            raise LedgerInconsistency(f"lot {share.lot_id} has less reserved than reservation needs")
        entry = custody_entry(
            deps,
            kind=CustodyKind.ISSUE,
            holder=holder,
            material_code=share.material_code,
            quantity=share.quantity,
            material_kind=share.kind,
            lot_id=share.lot_id,
            reference=f"reservations/{reservation.reservation_id}",
            batch_id=reservation.reservation_id,
        )
        await tx.custody.add(entry)
        await tx.events.add(CustodyRecorded(entry), causation_id=causation_id)
    await tx.events.add(ReservationCommitted(reservation), causation_id=causation_id)
    return True


async def consume_in(deps: Deps, tx: Tx, reservation: Reservation, causation_id: str = "") -> bool:
    """COMMITTED -> CONSUMED: the issued material went into the product."""
    expected = reservation.version
    if not reservation.consume(deps.clock()):
        return False
    await _save(tx, reservation, expected)
    await tx.events.add(ReservationConsumed(reservation), causation_id=causation_id)
    return True


async def release_in(deps: Deps, tx: Tx, reservation: Reservation, reason: str, causation_id: str = "") -> bool:
    """HELD -> RELEASED frees the reserved material; COMMITTED -> RELEASED returns what is
    still out with the order to its lots (on hand up, custody RETURN entries)."""
    expected = reservation.version
    previous = reservation.release(deps.clock(), reason)
    if previous is None:
        return False
    await _save(tx, reservation, expected)
    if previous is ReservationState.HELD:
        for share in reservation.shares_by_lot():
            if not await tx.lots.unreserve(share.lot_id, share.kind, share.quantity):
                raise LedgerInconsistency(f"lot {share.lot_id} has less reserved than reservation holds")
    else:
        materials = sorted({(item.kind, item.material_code) for item in reservation.items})
        for kind, code in materials:
            await return_outstanding(
                deps,
                tx,
                reservation.order_id,
                kind,
                code,
                None,
                batch_id=reservation.reservation_id,
                causation_id=causation_id,
            )
    await tx.events.add(ReservationReleased(reservation, reason), causation_id=causation_id)
    return True


async def return_outstanding(
    deps: Deps,
    tx: Tx,
    order_id: str,
    kind: MaterialKind,
    material_code: str,
    quantity: int | None,
    *,
    batch_id: str,
    causation_id: str = "",
) -> tuple[list[CustodyEntry], int]:
    """Put material the order holds back into the lots it was issued from.

    ``quantity=None`` returns everything still out with the order. Returns the
    custody entries written and the part of ``quantity`` that exceeded what the
    order still held (the caller decides where that goes).
    """
    issued = await tx.custody.issued_by_lot(order_id, kind, material_code)
    returned = await tx.custody.returned_by_lot(order_id, kind, material_code)
    lost = await tx.custody.lost(order_id, kind, material_code)
    outstanding = outstanding_by_lot(issued, returned, lost)
    remaining = sum(outstanding.values()) if quantity is None else quantity
    entries: list[CustodyEntry] = []
    for lot_id, share in outstanding.items():
        take = min(share, remaining)
        if take <= 0:
            continue
        if not await tx.lots.put_back(lot_id, kind, take):
            raise LedgerInconsistency(f"lot {lot_id} is missing")
        entry = custody_entry(
            deps,
            kind=CustodyKind.RETURN,
            holder=STORES,
            material_code=material_code,
            quantity=take,
            material_kind=kind,
            lot_id=lot_id,
            reference=order_holder(order_id),
            batch_id=batch_id,
        )
        await tx.custody.add(entry)
        await tx.events.add(CustodyRecorded(entry), causation_id=causation_id)
        entries.append(entry)
        remaining -= take
    return entries, remaining
