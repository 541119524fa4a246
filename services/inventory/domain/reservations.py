"""Reservations: material held for an order.

State machine::

    HELD ──commit──> COMMITTED ──consume──> CONSUMED
      │                  │
      └──release──> RELEASED <──release──┘

Repeating a transition that already happened is a no-op (the methods return
False/None), so retried calls and duplicated events are harmless; any other
move raises FAILED_PRECONDITION with reason ``INVALID_STATE_TRANSITION``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from mes_kernel.errors import FailedPrecondition
from services.inventory.domain.allocation import Allocation
from services.inventory.domain.materials import MaterialKind, Priority, amounts

__all__ = ["ACTIVE_STATES", "TRANSITIONS", "LotShare", "Reservation", "ReservationItem", "ReservationState"]


class ReservationState(StrEnum):
    HELD = "HELD"
    COMMITTED = "COMMITTED"
    CONSUMED = "CONSUMED"
    RELEASED = "RELEASED"


ACTIVE_STATES = frozenset({ReservationState.HELD, ReservationState.COMMITTED})

TRANSITIONS: dict[ReservationState, frozenset[ReservationState]] = {
    ReservationState.HELD: frozenset({ReservationState.COMMITTED, ReservationState.RELEASED}),
    ReservationState.COMMITTED: frozenset({ReservationState.CONSUMED, ReservationState.RELEASED}),
    ReservationState.CONSUMED: frozenset(),
    ReservationState.RELEASED: frozenset(),
}


class LotShare(NamedTuple):
    lot_id: str
    kind: MaterialKind
    material_code: str
    quantity: int


@dataclass(frozen=True)
class ReservationItem:
    """What one order line takes from one lot."""

    lot_id: str
    kind: MaterialKind
    material_code: str
    weight_mg: int
    pieces: int
    line_number: int

    @property
    def quantity(self) -> int:
        return self.weight_mg if self.kind is MaterialKind.METAL else self.pieces

    @classmethod
    def from_allocation(cls, allocation: Allocation) -> ReservationItem:
        weight_mg, pieces = amounts(allocation.kind, allocation.quantity)
        return cls(
            allocation.lot_id, allocation.kind, allocation.material_code, weight_mg, pieces, allocation.line_number
        )


@dataclass
class Reservation:
    reservation_id: str
    order_id: str
    state: ReservationState
    items: tuple[ReservationItem, ...]
    priority: Priority
    create_time: datetime
    update_time: datetime
    version: int = 1
    release_reason: str = ""

    @classmethod
    def hold(
        cls,
        reservation_id: str,
        order_id: str,
        priority: Priority,
        allocations: Iterable[Allocation],
        now: datetime,
    ) -> Reservation:
        items = tuple(ReservationItem.from_allocation(a) for a in allocations)
        return cls(reservation_id, order_id, ReservationState.HELD, items, priority, now, now)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def shares_by_lot(self) -> list[LotShare]:
        """Total quantity per lot (a lot may serve several lines), in lot id order (the lock order)."""
        totals: dict[str, LotShare] = {}
        for item in self.items:
            share = totals.get(item.lot_id)
            qty = item.quantity + (share.quantity if share else 0)
            totals[item.lot_id] = LotShare(item.lot_id, item.kind, item.material_code, qty)
        return [totals[lot_id] for lot_id in sorted(totals)]

    def commit(self, now: datetime) -> bool:
        """HELD -> COMMITTED; False when it is already committed or consumed."""
        if self.state in (ReservationState.COMMITTED, ReservationState.CONSUMED):
            return False
        self._move(ReservationState.COMMITTED, now)
        return True

    def consume(self, now: datetime) -> bool:
        """COMMITTED -> CONSUMED; False when it is already consumed."""
        if self.state is ReservationState.CONSUMED:
            return False
        self._move(ReservationState.CONSUMED, now)
        return True

    def release(self, now: datetime, reason: str) -> ReservationState | None:
        """HELD/COMMITTED -> RELEASED; returns the state it left, None when already released."""
        if self.state is ReservationState.RELEASED:
            return None
        previous = self.state
        self._move(ReservationState.RELEASED, now)
        self.release_reason = reason
        return previous

    def _move(self, target: ReservationState, now: datetime) -> None:
        if target not in TRANSITIONS[self.state]:
            raise FailedPrecondition(
                f"reservation {self.reservation_id} is {self.state.value}; it cannot become {target.value}",
                reason="INVALID_STATE_TRANSITION",
                metadata={"reservation_id": self.reservation_id, "state": self.state.value, "target": target.value},
            )
        self.state = target
        self.version += 1
        self.update_time = now
