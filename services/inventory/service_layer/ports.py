"""Ports: what the use cases need from storage, as protocols (the adapters implement them).

The unit of work is the shared port (:mod:`mes_kernel.uow`: ``write()``, ``read()``,
``borrow()``, ``transact()``, ``idempotent()`` and ``uow.emit(event)``) with the
inventory's repositories on it. A listing (``find``) returns at most ``limit`` rows in its
sort order, strictly after the sort key ``after`` (None: from the start).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from mes_kernel import uow
from mes_kernel.deps import Deps
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.lots import LotSnapshot, MaterialLot
from services.inventory.domain.materials import MaterialKey, MaterialKind
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.domain.waiting import Shortage, WaitingOrder
from services.inventory.service_layer.records import ReservationItemView, ReservationView

__all__ = [
    "AlloyRepository",
    "BalanceKey",
    "BalanceQueries",
    "CustodyFilter",
    "CustodyRepository",
    "InventoryDeps",
    "LotKey",
    "LotRepository",
    "OrderStanding",
    "ReservationItemView",
    "ReservationKey",
    "ReservationRepository",
    "ReservationView",
    "ShortageKey",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WaitingKey",
    "WaitingRepository",
]

#: Sort keys of the listings: (receive_time, lot_id), (create_time, reservation_id),
#: (priority, since_time, order_id, kind, material_code), (material_code, kind).
LotKey = tuple[datetime, str]
ReservationKey = tuple[datetime, str]
ShortageKey = tuple[int, datetime, str, str, str]
#: (priority, submit_time, order_id): a waiting order's place in the serve order.
WaitingKey = tuple[int, datetime, str]
BalanceKey = tuple[str, str]


class AlloyRepository(Protocol):
    async def get(self, code: str) -> Alloy | None: ...
    async def get_many(self, codes: Collection[str]) -> dict[str, Alloy]: ...
    async def add(self, alloy: Alloy) -> None: ...
    async def update(self, alloy: Alloy, expected_version: int) -> bool:
        """Store ``alloy`` if the stored one is still at ``expected_version``."""
        ...

    async def find(self, after: str | None, limit: int) -> list[Alloy]:
        """By code."""
        ...


class LotRepository(Protocol):
    async def add(self, lot: MaterialLot) -> None: ...
    async def get(self, lot_id: str) -> MaterialLot | None: ...
    async def find(self, material_code: str, after: LotKey | None, limit: int) -> list[MaterialLot]:
        """By (receive_time, lot_id), of one material when ``material_code`` is set."""
        ...

    async def free_lots(self, keys: Collection[MaterialKey], *, lock: bool) -> list[LotSnapshot]:
        """Lots of these materials with something free; ``lock`` locks them (in lot id order)."""
        ...

    async def any_free(self) -> bool:
        """Whether any lot has something not reserved."""
        ...

    async def reserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        """reserved += q only if on_hand - reserved >= q; False when it did not fit."""
        ...

    async def unreserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        """reserved -= q only if reserved >= q."""
        ...

    async def issue(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        """on_hand -= q and reserved -= q only if reserved >= q (reserved material leaves stores)."""
        ...

    async def put_back(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        """on_hand += q (material returned to stores); False when the lot is missing."""
        ...


class BalanceQueries(Protocol):
    async def balances(self, codes: Collection[str]) -> dict[str, Balance]:
        """Known materials among ``codes`` (an alloy without lots has zero balances)."""
        ...

    async def find(self, kind: MaterialKind | None, after: BalanceKey | None, limit: int) -> list[Balance]:
        """Every material with an alloy or lots, by (material_code, kind)."""
        ...


class OrderStanding(NamedTuple):
    """Where an order stands in inventory, read in one go before reserving for it."""

    #: Its active reservation, else its latest one (None: it never had one).
    reservation_id: str | None
    #: Whether that reservation is active (HELD or COMMITTED).
    active: bool
    #: Why it was closed (released) in inventory; None while it is open.
    closed_reason: str | None
    #: Whether it is on the waiting list.
    waiting: bool


class ReservationRepository(Protocol):
    async def add(self, reservation: Reservation) -> None: ...
    async def get(self, reservation_id: str) -> Reservation | None: ...
    async def get_many(self, reservation_ids: Collection[str]) -> dict[str, ReservationView]: ...
    async def active_for_order(self, order_id: str) -> Reservation | None: ...
    async def latest_for_order(self, order_id: str) -> Reservation | None: ...
    async def for_order(self, order_id: str) -> Reservation | None:
        """The order's active reservation, else its latest one (None: it never had one)."""
        ...

    async def standing(self, order_id: str) -> OrderStanding:
        """Its reservation (``for_order``'s), whether it was closed and whether it waits."""
        ...

    async def update(self, reservation: Reservation, expected_version: int) -> bool:
        """Store the new state if the stored reservation is still at ``expected_version``."""
        ...

    async def find(
        self, order_ids: Sequence[str], states: Sequence[ReservationState], after: ReservationKey | None, limit: int
    ) -> list[ReservationView]:
        """By (create_time, reservation_id); ``order_ids`` and ``states`` filter when not empty."""
        ...


class WaitingRepository(Protocol):
    async def get(self, order_id: str) -> WaitingOrder | None: ...
    async def save(self, waiting: WaitingOrder) -> None: ...
    async def remove(self, order_id: str) -> bool: ...
    async def in_serve_order(self, limit: int, after: WaitingKey | None = None) -> list[WaitingOrder]:
        """By priority (highest first), submit time, order id; strictly after ``after``
        ((priority, submit_time, order_id) of the last one of the previous page)."""
        ...

    async def shortages(self, after: ShortageKey | None, limit: int) -> list[Shortage]:
        """Waiting orders' shortages by (priority desc, since_time, order_id, kind, material_code)."""
        ...

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
    async def add_many(self, entries: Sequence[CustodyEntry]) -> None:
        """Append entries in this order (one statement)."""
        ...

    async def get(self, entry_id: str) -> CustodyEntry | None: ...
    async def batch(self, batch_id: str) -> list[CustodyEntry]:
        """The entries of one batch, in the order they were added."""
        ...

    async def find(self, where: CustodyFilter, after: int | None, limit: int) -> list[tuple[int, CustodyEntry]]:
        """(position in the ledger, entry), newest first."""
        ...

    async def issued_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]: ...
    async def returned_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]: ...
    async def lost(self, order_id: str, kind: MaterialKind, material_code: str) -> int: ...


class UnitOfWork(uow.UnitOfWork, Protocol):
    """The inventory's repositories on one transaction; ``emit`` writes a domain event in it."""

    alloys: AlloyRepository
    lots: LotRepository
    balances: BalanceQueries
    reservations: ReservationRepository
    waiting: WaitingRepository
    custody: CustodyRepository


UnitOfWorkFactory = uow.UnitOfWorkFactory[UnitOfWork]
#: What every use case receives: the units of work, the page-token signer and the clock.
InventoryDeps = Deps[UnitOfWorkFactory]
