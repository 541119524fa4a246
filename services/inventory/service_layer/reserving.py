"""Reserving all of an order's requirements or none, FIFO by lot receive time.

The invariant (for every lot, reserved <= on hand) holds under any concurrency: lots are
changed only by conditional updates (``reserved + q`` only where ``on_hand - reserved >=
q``), taken in lot id order; when one does not fit, the whole unit of work rolls back and
runs again (``uows.transact``), from the second attempt on with the candidate lots locked
(SELECT ... FOR UPDATE in lot id order), which makes the answer definitive. A partial
unique index allows one active reservation per order, so concurrent requests for one
order end with a single reservation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from itertools import count

from mes_kernel.errors import FailedPrecondition
from mes_kernel.uow import WriteConflict
from mes_kernel.validation import Violations
from services.inventory.domain.allocation import Requirement, allocate
from services.inventory.domain.events import ReservationFailed, ReservationHeld
from services.inventory.domain.materials import MAX_STONE_PIECES, MAX_WEIGHT_MG, MaterialKind, Priority
from services.inventory.domain.reservations import Reservation
from services.inventory.domain.waiting import Shortage, WaitingOrder
from services.inventory.service_layer.commands import RequirementInput
from services.inventory.service_layer.common import check_id, new_id
from services.inventory.service_layer.ports import InventoryDeps, OrderStanding, UnitOfWork

__all__ = ["MAX_REQUIREMENTS", "Mode", "ReserveOutcome", "ReserveRequest", "insufficient_stock", "reserve", "validate"]

#: 250 lines per order, each with its metal and a few stones.
MAX_REQUIREMENTS = 1000
MAX_LINE_NUMBER = 10_000


class Mode(Enum):
    #: ReserveOrder RPC: an active reservation is returned; otherwise reserve (again).
    REQUEST = "request"
    #: Event handler: any earlier reservation (even released or consumed) or a closed order is left alone.
    EVENT = "event"
    #: Retry of a waiting order: only while it is still waiting.
    RETRY = "retry"


@dataclass(frozen=True)
class ReserveRequest:
    order_id: str
    priority: Priority
    requirements: tuple[Requirement, ...]
    submit_time: datetime
    queue_on_shortage: bool
    mode: Mode = Mode.REQUEST


@dataclass(frozen=True)
class ReserveOutcome:
    reservation: Reservation | None = None
    shortages: tuple[Shortage, ...] = ()
    #: True when this call made the reservation.
    created: bool = False
    #: True when nothing was done (the order is closed or no longer waiting).
    skipped: bool = False


def validate(order_id: str, inputs: Sequence[RequirementInput]) -> tuple[Requirement, ...]:
    v = Violations()
    check_id(v, order_id, "order_id")
    if not inputs:
        v.add("requirements", "at least one requirement is required")
    elif len(inputs) > MAX_REQUIREMENTS:
        v.add("requirements", f"at most {MAX_REQUIREMENTS} requirements per order")
    requirements = []
    for i, r in enumerate(inputs[:MAX_REQUIREMENTS]):
        field = f"requirements[{i}]"
        v.code(r.material_code, f"{field}.material_code")
        v.non_negative(r.line_number, f"{field}.line_number", maximum=MAX_LINE_NUMBER)
        if r.kind is None:
            v.add(f"{field}.kind", "must be MATERIAL_KIND_METAL or MATERIAL_KIND_STONE")
            continue
        if r.kind is MaterialKind.METAL:
            v.positive(r.weight_mg, f"{field}.weight_mg", maximum=MAX_WEIGHT_MG)
            v.check(r.pieces == 0, f"{field}.pieces", "must be 0 for metal")
            quantity = r.weight_mg
        else:
            v.positive(r.pieces, f"{field}.pieces", maximum=MAX_STONE_PIECES)
            v.check(r.weight_mg == 0, f"{field}.weight_mg", "must be 0 for stones")
            quantity = r.pieces
        requirements.append(Requirement(r.kind, r.material_code, quantity, r.line_number))
    v.raise_if_any()
    return tuple(requirements)


async def reserve(deps: InventoryDeps, request: ReserveRequest, *, attempts: int) -> ReserveOutcome:
    """Reserve in one unit of work, run again on write races; the first attempt is
    optimistic, later ones lock the candidate lots."""
    runs = count()
    return await deps.uows.transact(lambda uow: _attempt(deps, uow, request, lock=next(runs) > 0), attempts=attempts)


async def _attempt(deps: InventoryDeps, uow: UnitOfWork, request: ReserveRequest, *, lock: bool) -> ReserveOutcome:
    standing = await uow.reservations.standing(request.order_id)
    earlier = await _earlier(uow, request, standing)
    if earlier is not None:
        return earlier
    lots = await uow.lots.free_lots({r.key for r in request.requirements}, lock=lock)
    result = allocate(request.requirements, lots)
    if not result.satisfied:
        shortages = tuple(sorted(result.shortages, key=lambda s: (s.kind.value, s.material_code)))
        waiting = WaitingOrder(request.order_id, request.priority, request.submit_time, request.requirements, shortages)
        if request.queue_on_shortage:
            waiting = await _queue(uow, waiting)
        return ReserveOutcome(shortages=tuple(waiting.shortage_rows()))
    reservation = Reservation.hold(new_id(), request.order_id, request.priority, result.allocations, deps.clock())
    for share in reservation.shares_by_lot():
        if not await uow.lots.reserve(share.lot_id, share.kind, share.quantity):
            # taken concurrently since we read it: roll back everything
            raise WriteConflict(f"lot {share.lot_id} changed concurrently")
    await uow.reservations.add(reservation)
    if standing.waiting:
        await uow.waiting.remove(request.order_id)
    await uow.emit(ReservationHeld(reservation))
    return ReserveOutcome(reservation, created=True)


async def _earlier(uow: UnitOfWork, request: ReserveRequest, standing: OrderStanding) -> ReserveOutcome | None:
    """What makes this request a no-op, if anything: an active reservation; for an event, any
    earlier reservation or a closed order; for a retry, an order no longer waiting."""
    if standing.reservation_id is not None and (standing.active or request.mode is Mode.EVENT):
        return ReserveOutcome(await uow.reservations.for_order(request.order_id))
    if request.mode is Mode.EVENT and standing.closed_reason is not None:
        return ReserveOutcome(skipped=True)
    if request.mode is Mode.RETRY and not standing.waiting:
        return ReserveOutcome(skipped=True)
    return None


async def _queue(uow: UnitOfWork, waiting: WaitingOrder) -> WaitingOrder:
    """Record (or refresh) the order as waiting; the first time, announce the failure.

    A waiting order keeps its place: its first submit time stays.
    """
    existing = await uow.waiting.get(waiting.order_id)
    if existing is not None:
        waiting = replace(waiting, submit_time=existing.submit_time)
    if existing == waiting:
        return waiting
    await uow.waiting.save(waiting)
    if existing is None:
        await uow.emit(ReservationFailed(waiting.order_id, tuple(waiting.shortage_rows())))
    return waiting


def insufficient_stock(order_id: str, shortages: tuple[Shortage, ...]) -> FailedPrecondition:
    def unit(s: Shortage) -> str:
        return "mg" if s.kind is MaterialKind.METAL else "pcs"

    described = "; ".join(
        f"{s.material_code}: required {s.required} {unit(s)}, available {s.available} {unit(s)}" for s in shortages
    )
    return FailedPrecondition(
        f"not enough stock for order {order_id}: {described}",
        reason="INSUFFICIENT_STOCK",
        metadata={
            "order_id": order_id,
            "material_codes": ",".join(s.material_code for s in shortages),
            "shortages": described[:1000],
        },
    )
