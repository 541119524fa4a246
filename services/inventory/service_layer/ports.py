"""Ports: what the use cases need from storage, as protocols.

A ``UnitOfWork`` opens a transaction (``write()``) or a read-only view
(``read()``) and hands out a ``Tx`` whose repositories share it; events added to
``tx.events`` are written to the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.events import DomainEvent
from services.inventory.domain.lots import LotSnapshot, MaterialLot
from services.inventory.domain.materials import MaterialKey, MaterialKind
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.domain.waiting import Shortage, WaitingOrder

__all__ = [
    "AlloyRepository",
    "BalanceQueries",
    "CustodyFilter",
    "CustodyRepository",
    "EventSink",
    "IdempotencyKeys",
    "Key",
    "LotRepository",
    "Page",
    "ReservationRepository",
    "Tx",
    "UnitOfWork",
    "WaitingRepository",
    "WriteConflict",
]

#: A keyset position: JSON-friendly values of the sort key of the last row of a page.
Key = list[Any]


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset listing; ``next_key`` is None on the last page."""

    items: list[T]
    next_key: Key | None


class WriteConflict(Exception):
    """A concurrent transaction changed what this one read; the whole use case may be retried."""


class AlloyRepository(Protocol):
    async def get(self, code: str) -> Alloy | None: ...
    async def get_many(self, codes: Collection[str]) -> dict[str, Alloy]: ...
    async def add(self, alloy: Alloy) -> None: ...
    async def update(self, alloy: Alloy, expected_version: int) -> bool: ...
    async def page(self, after: Key | None, limit: int) -> Page[Alloy]: ...


class LotRepository(Protocol):
    async def add(self, lot: MaterialLot) -> None: ...
    async def get(self, lot_id: str) -> MaterialLot | None: ...
    async def get_many(self, lot_ids: Collection[str]) -> dict[str, MaterialLot]: ...
    async def page(self, material_code: str, after: Key | None, limit: int) -> Page[MaterialLot]: ...
    async def free_lots(self, keys: Collection[MaterialKey], *, lock: bool) -> list[LotSnapshot]:
        """Lots of these materials with something free; ``lock`` locks them (in lot id order)."""
        ...

    async def reserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        """reserved += q only if on_hand - reserved >= q; False when it did not fit."""
        ...

    async def unreserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool: ...
    async def issue(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        """on_hand -= q and reserved -= q (reserved material leaves stores)."""
        ...

    async def put_back(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        """on_hand += q (material returned to stores)."""
        ...


class BalanceQueries(Protocol):
    async def balances(self, codes: Collection[str]) -> dict[str, Balance]: ...
    async def page(self, kind: MaterialKind | None, after: Key | None, limit: int) -> Page[Balance]: ...


class ReservationRepository(Protocol):
    async def add(self, reservation: Reservation) -> None: ...
    async def get(self, reservation_id: str) -> Reservation | None: ...
    async def get_many(self, reservation_ids: Collection[str]) -> dict[str, Reservation]: ...
    async def active_for_order(self, order_id: str) -> Reservation | None: ...
    async def latest_for_order(self, order_id: str) -> Reservation | None: ...
    async def update(self, reservation: Reservation, expected_version: int) -> bool: ...
    async def page(
        self, order_ids: Sequence[str], states: Sequence[ReservationState], after: Key | None, limit: int
    ) -> Page[Reservation]: ...


class WaitingRepository(Protocol):
    async def get(self, order_id: str) -> WaitingOrder | None: ...
    async def save(self, waiting: WaitingOrder) -> None: ...
    async def remove(self, order_id: str) -> bool: ...
    async def in_serve_order(self, limit: int) -> list[WaitingOrder]: ...
    async def shortages(self, after: Key | None, limit: int) -> Page[Shortage]: ...
    async def closed_reason(self, order_id: str) -> str | None:
        """The reason the order was closed (released) in inventory, None if it was not."""
        ...

    async def close(self, order_id: str, reason: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class CustodyFilter:
    holder: str = ""
    material_code: str = ""
    reference: str = ""


class CustodyRepository(Protocol):
    async def add(self, entry: CustodyEntry) -> None: ...
    async def get(self, entry_id: str) -> CustodyEntry | None: ...
    async def batch(self, batch_id: str) -> list[CustodyEntry]: ...
    async def page(self, where: CustodyFilter, after: Key | None, limit: int) -> Page[CustodyEntry]:
        """Newest first."""
        ...

    async def issued_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]: ...
    async def returned_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]: ...
    async def lost(self, order_id: str, kind: MaterialKind, material_code: str) -> int: ...


class EventSink(Protocol):
    async def add(self, event: DomainEvent, *, causation_id: str = "") -> str: ...


class IdempotencyKeys(Protocol):
    async def lookup(self, scope: str, request_id: str, fingerprint: str) -> str | None:
        """The resource name an earlier identical request produced (IDEMPOTENCY_KEY_REUSED if it differed)."""
        ...

    async def record(self, scope: str, request_id: str, fingerprint: str, resource_name: str) -> None: ...


@dataclass
class Tx:
    """Repositories sharing one transaction."""

    alloys: AlloyRepository
    lots: LotRepository
    balances: BalanceQueries
    reservations: ReservationRepository
    waiting: WaitingRepository
    custody: CustodyRepository
    events: EventSink
    idempotency: IdempotencyKeys


class UnitOfWork(Protocol):
    def write(self) -> AbstractAsyncContextManager[Tx]:
        """A transaction, committed when the block exits normally; raises WriteConflict on races."""
        ...

    def read(self) -> AbstractAsyncContextManager[Tx]: ...
