"""State changes of reservations inside one unit of work, shared by the RPC use cases and
the event handlers. Callers run the whole unit of work again on WriteConflict
(``uows.transact``); events go out through ``uow.emit`` (inside an event consumer, with the
handled event as their cause).

Lock order (no deadlocks on PostgreSQL): a reservation row first, then its lots in lot id
order; reserving locks lots in lot id order before inserting the reservation.
"""

from __future__ import annotations

from datetime import datetime

from mes_kernel.uow import WriteConflict
from services.inventory.domain.custody import STORES, CustodyEntry, CustodyKind, order_holder, outstanding_by_lot
from services.inventory.domain.events import (
    CustodyRecorded,
    ReservationCommitted,
    ReservationConsumed,
    ReservationReleased,
)
from services.inventory.domain.materials import MaterialKind
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.service_layer.common import new_id
from services.inventory.service_layer.ports import UnitOfWork

__all__ = ["LedgerInconsistency", "commit_in", "consume_in", "record", "release_in", "return_outstanding"]


class LedgerInconsistency(RuntimeError):
    """A lot's counters disagree with its reservations (never expected; surfaces as INTERNAL)."""


async def record(uow: UnitOfWork, entry: CustodyEntry) -> CustodyEntry:
    """Append ``entry`` to the ledger and announce it."""
    await uow.custody.add(entry)
    await uow.emit(CustodyRecorded(entry))
    return entry


async def _save(uow: UnitOfWork, reservation: Reservation, expected_version: int) -> None:
    if not await uow.reservations.update(reservation, expected_version):
        raise WriteConflict(f"reservation {reservation.reservation_id} changed concurrently")


async def commit_in(uow: UnitOfWork, reservation: Reservation, now: datetime) -> bool:
    """HELD -> COMMITTED: the reserved material is issued to the order (leaves stores)."""
    expected = reservation.version
    if not reservation.commit(now):
        return False
    await _save(uow, reservation, expected)
    entries: list[CustodyEntry] = []
    for share in reservation.shares_by_lot():
        if not await uow.lots.issue(share.lot_id, share.kind, share.quantity):
            raise LedgerInconsistency(f"lot {share.lot_id} has less reserved than reservation needs")
        entries.append(
            CustodyEntry.of(
                new_id(),
                CustodyKind.ISSUE,
                order_holder(reservation.order_id),
                (share.kind, share.material_code),
                share.quantity,
                now,
                lot_id=share.lot_id,
                reference=f"reservations/{reservation.reservation_id}",
                batch_id=reservation.reservation_id,
            )
        )
    await uow.custody.add_many(entries)
    for entry in entries:
        await uow.emit(CustodyRecorded(entry))
    await uow.emit(ReservationCommitted(reservation))
    return True


async def consume_in(uow: UnitOfWork, reservation: Reservation, now: datetime) -> bool:
    """COMMITTED -> CONSUMED: the issued material went into the product."""
    expected = reservation.version
    if not reservation.consume(now):
        return False
    await _save(uow, reservation, expected)
    await uow.emit(ReservationConsumed(reservation))
    return True


async def release_in(uow: UnitOfWork, reservation: Reservation, reason: str, now: datetime) -> bool:
    """HELD -> RELEASED frees the reserved material; COMMITTED -> RELEASED returns what is
    still out with the order to its lots (on hand up, custody RETURN entries)."""
    expected = reservation.version
    previous = reservation.release(now, reason)
    if previous is None:
        return False
    await _save(uow, reservation, expected)
    if previous is ReservationState.HELD:
        for share in reservation.shares_by_lot():
            if not await uow.lots.unreserve(share.lot_id, share.kind, share.quantity):
                raise LedgerInconsistency(f"lot {share.lot_id} has less reserved than reservation holds")
    else:
        for kind, code in sorted({(item.kind, item.material_code) for item in reservation.items}):
            await return_outstanding(
                uow, reservation.order_id, kind, code, None, batch_id=reservation.reservation_id, now=now
            )
    await uow.emit(ReservationReleased(reservation, reason))
    return True


async def return_outstanding(
    uow: UnitOfWork,
    order_id: str,
    kind: MaterialKind,
    material_code: str,
    quantity: int | None,
    *,
    batch_id: str,
    now: datetime,
) -> tuple[list[CustodyEntry], int]:
    """Put material the order holds back into the lots it was issued from.

    ``quantity=None`` returns everything still out with the order. Returns the custody
    entries written and the part of ``quantity`` that exceeded what the order still held
    (the caller decides where that goes).
    """
    issued = await uow.custody.issued_by_lot(order_id, kind, material_code)
    returned = await uow.custody.returned_by_lot(order_id, kind, material_code)
    lost = await uow.custody.lost(order_id, kind, material_code)
    outstanding = outstanding_by_lot(issued, returned, lost)
    remaining = sum(outstanding.values()) if quantity is None else quantity
    entries: list[CustodyEntry] = []
    for lot_id, share in outstanding.items():
        take = min(share, remaining)
        if take <= 0:
            continue
        if not await uow.lots.put_back(lot_id, kind, take):
            raise LedgerInconsistency(f"lot {lot_id} is missing")
        entry = CustodyEntry.of(
            new_id(),
            CustodyKind.RETURN,
            STORES,
            (kind, material_code),
            take,
            now,
            lot_id=lot_id,
            reference=order_holder(order_id),
            batch_id=batch_id,
        )
        entries.append(await record(uow, entry))
        remaining -= take
    return entries, remaining
