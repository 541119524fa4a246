"""In-memory repositories of the inventory ports over one :class:`FakeState` (see ``fakes``).

Same semantics as the SQL repositories: inserting a key twice (or a second active
reservation of an order) is a :class:`WriteConflict`, conditional updates answer False
when their condition (version, free quantity) does not hold, listings come in the SQL
sort order strictly after the key, and what is stored or returned is a copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from mes_kernel.uow import WriteConflict
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import CustodyEntry, CustodyKind, order_holder
from services.inventory.domain.lots import LotSnapshot, MaterialLot
from services.inventory.domain.materials import MaterialKey, MaterialKind
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.domain.waiting import Shortage, WaitingOrder
from services.inventory.service_layer.ports import (
    BalanceKey,
    CustodyFilter,
    LotKey,
    OrderStanding,
    ReservationKey,
    ShortageKey,
    WaitingKey,
)
from services.inventory.service_layer.records import ReservationView, reservation_view
from tests._infra.fakes import FakeTables

__all__ = [
    "FakeAlloys",
    "FakeBalances",
    "FakeCustody",
    "FakeLots",
    "FakeReservations",
    "FakeState",
    "FakeWaiting",
]

T = TypeVar("T")


@dataclass
class FakeState(FakeTables):
    """Every table of the service (and, from ``FakeTables``, the idempotency keys and the outbox)."""

    alloys: dict[str, Alloy] = field(default_factory=dict)
    lots: dict[str, MaterialLot] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    waiting: dict[str, WaitingOrder] = field(default_factory=dict)
    closed: dict[str, str] = field(default_factory=dict)
    #: The ledger in insertion order: an entry's position + 1 is its ``seq``.
    custody: list[CustodyEntry] = field(default_factory=list)


def _page(rows: Iterable[T], sort: Callable[[T], Any], after: Any | None, limit: int) -> list[T]:
    """``rows`` by ``sort``, strictly after the sort key ``after``, at most ``limit``."""
    ordered = sorted(rows, key=sort)
    return [row for row in ordered if after is None or sort(row) > after][:limit]


def _insert(table: dict[str, T], key: str, value: T) -> None:
    if key in table:
        raise WriteConflict(f"duplicate key {key!r}")
    table[key] = copy.deepcopy(value)


class _Repository:
    def __init__(self, state: FakeState) -> None:
        self._state = state


class FakeAlloys(_Repository):
    async def get(self, code: str) -> Alloy | None:
        return self._state.alloys.get(code)

    async def get_many(self, codes: Collection[str]) -> dict[str, Alloy]:
        return {code: self._state.alloys[code] for code in codes if code in self._state.alloys}

    async def add(self, alloy: Alloy) -> None:
        _insert(self._state.alloys, alloy.code, alloy)

    async def update(self, alloy: Alloy, expected_version: int) -> bool:
        stored = self._state.alloys.get(alloy.code)
        if stored is None or stored.version != expected_version:
            return False
        self._state.alloys[alloy.code] = alloy
        return True

    async def find(self, after: str | None, limit: int) -> list[Alloy]:
        return _page(self._state.alloys.values(), lambda a: a.code, after, limit)


class FakeLots(_Repository):
    async def add(self, lot: MaterialLot) -> None:
        _insert(self._state.lots, lot.lot_id, lot)

    async def get(self, lot_id: str) -> MaterialLot | None:
        return self._state.lots.get(lot_id)

    async def find(self, material_code: str, after: LotKey | None, limit: int) -> list[MaterialLot]:
        lots = [lot for lot in self._state.lots.values() if not material_code or lot.material_code == material_code]
        return _page(lots, lambda lot: (lot.receive_time, lot.lot_id), after, limit)

    async def free_lots(self, keys: Collection[MaterialKey], *, lock: bool) -> list[LotSnapshot]:
        lots = sorted(self._state.lots.values(), key=lambda lot: lot.lot_id)
        return [lot.snapshot() for lot in lots if lot.key in set(keys) and lot.available > 0]

    async def any_free(self) -> bool:
        return any(lot.available > 0 for lot in self._state.lots.values())

    def _change(
        self, lot_id: str, kind: MaterialKind, ok: Callable[[MaterialLot], bool], on_hand: int, reserved: int
    ) -> bool:
        lot = self._state.lots.get(lot_id)
        if lot is None or lot.kind is not kind or not ok(lot):
            return False
        metal = kind is MaterialKind.METAL
        self._state.lots[lot_id] = replace(
            lot,
            on_hand_mg=lot.on_hand_mg + (on_hand if metal else 0),
            reserved_mg=lot.reserved_mg + (reserved if metal else 0),
            on_hand_pieces=lot.on_hand_pieces + (0 if metal else on_hand),
            reserved_pieces=lot.reserved_pieces + (0 if metal else reserved),
            version=lot.version + 1,
        )
        return True

    async def reserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return self._change(lot_id, kind, lambda lot: lot.available >= quantity, 0, quantity)

    async def unreserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return self._change(lot_id, kind, lambda lot: lot.reserved >= quantity, 0, -quantity)

    async def issue(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return self._change(lot_id, kind, lambda lot: lot.reserved >= quantity, -quantity, -quantity)

    async def put_back(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return self._change(lot_id, kind, lambda lot: True, quantity, 0)


class FakeBalances(_Repository):
    def _balance(self, code: str, kind: MaterialKind) -> Balance:
        lots = [lot for lot in self._state.lots.values() if lot.key == (kind, code)]
        alloy = self._state.alloys.get(code)
        return Balance(
            code,
            kind,
            on_hand_mg=sum(lot.on_hand_mg for lot in lots),
            reserved_mg=sum(lot.reserved_mg for lot in lots),
            on_hand_pieces=sum(lot.on_hand_pieces for lot in lots),
            reserved_pieces=sum(lot.reserved_pieces for lot in lots),
            fineness=alloy.fineness if alloy and kind is MaterialKind.METAL else 0,
        )

    def _keys(self) -> set[tuple[str, MaterialKind]]:
        keys = {(lot.material_code, lot.kind) for lot in self._state.lots.values()}
        return keys | {(code, MaterialKind.METAL) for code in self._state.alloys}

    async def balances(self, codes: Collection[str]) -> dict[str, Balance]:
        found: dict[str, Balance] = {}
        for code, kind in sorted(k for k in self._keys() if k[0] in codes):
            if code not in found or kind is MaterialKind.METAL:  # an alloy's metal before its stones
                found[code] = self._balance(code, kind)
        return found

    async def find(self, kind: MaterialKind | None, after: BalanceKey | None, limit: int) -> list[Balance]:
        keys = [(code, k.value) for code, k in self._keys() if kind is None or k is kind]
        return [self._balance(code, MaterialKind(k)) for code, k in _page(keys, lambda key: key, after, limit)]


class FakeReservations(_Repository):
    async def add(self, reservation: Reservation) -> None:
        if reservation.active and await self.active_for_order(reservation.order_id) is not None:
            raise WriteConflict(f"order {reservation.order_id} already has an active reservation")
        _insert(self._state.reservations, reservation.reservation_id, reservation)

    async def get(self, reservation_id: str) -> Reservation | None:
        return copy.deepcopy(self._state.reservations.get(reservation_id))

    async def get_many(self, reservation_ids: Collection[str]) -> dict[str, ReservationView]:
        reservations = self._state.reservations
        return {i: reservation_view(reservations[i]) for i in reservation_ids if i in reservations}

    def _latest(self, order_id: str, *states: ReservationState) -> Reservation | None:
        mine = [
            r for r in self._state.reservations.values() if r.order_id == order_id and (not states or r.state in states)
        ]
        latest = max(mine, key=lambda r: (r.create_time, r.reservation_id), default=None)
        return copy.deepcopy(latest)

    async def active_for_order(self, order_id: str) -> Reservation | None:
        return self._latest(order_id, ReservationState.HELD, ReservationState.COMMITTED)

    async def latest_for_order(self, order_id: str) -> Reservation | None:
        return self._latest(order_id)

    async def for_order(self, order_id: str) -> Reservation | None:
        return await self.active_for_order(order_id) or self._latest(order_id)

    async def standing(self, order_id: str) -> OrderStanding:
        found = await self.for_order(order_id)
        return OrderStanding(
            found.reservation_id if found else None,
            bool(found and found.active),
            self._state.closed.get(order_id),
            order_id in self._state.waiting,
        )

    async def update(self, reservation: Reservation, expected_version: int) -> bool:
        stored = self._state.reservations.get(reservation.reservation_id)
        if stored is None or stored.version != expected_version:
            return False
        self._state.reservations[reservation.reservation_id] = copy.deepcopy(reservation)
        return True

    async def find(
        self, order_ids: Sequence[str], states: Sequence[ReservationState], after: ReservationKey | None, limit: int
    ) -> list[ReservationView]:
        rows = [
            r
            for r in self._state.reservations.values()
            if (not order_ids or r.order_id in order_ids) and (not states or r.state in states)
        ]
        return [reservation_view(r) for r in _page(rows, lambda r: (r.create_time, r.reservation_id), after, limit)]


def _serve_key(shortage: Shortage) -> tuple[int, datetime, str, str, str]:
    return (-shortage.priority, shortage.since_time, shortage.order_id, shortage.kind.value, shortage.material_code)


class FakeWaiting(_Repository):
    async def get(self, order_id: str) -> WaitingOrder | None:
        return self._state.waiting.get(order_id)

    async def save(self, waiting: WaitingOrder) -> None:
        lines = tuple(sorted(waiting.shortages, key=lambda s: (s.kind.value, s.material_code)))
        self._state.waiting[waiting.order_id] = replace(waiting, shortages=lines)

    async def remove(self, order_id: str) -> bool:
        return self._state.waiting.pop(order_id, None) is not None

    async def in_serve_order(self, limit: int, after: WaitingKey | None = None) -> list[WaitingOrder]:
        start = None if after is None else (-after[0], after[1], after[2])
        return _page(self._state.waiting.values(), lambda w: w.serve_key(), start, limit)

    async def shortages(self, after: ShortageKey | None, limit: int) -> list[Shortage]:
        rows = [s for w in self._state.waiting.values() for s in w.shortage_rows()]
        start = None if after is None else (-after[0], *after[1:])
        return _page(rows, _serve_key, start, limit)

    async def closed_reason(self, order_id: str) -> str | None:
        return self._state.closed.get(order_id)

    async def close(self, order_id: str, reason: str, now: datetime) -> None:
        _insert(self._state.closed, order_id, reason)


class FakeCustody(_Repository):
    async def add(self, entry: CustodyEntry) -> None:
        if any(e.entry_id == entry.entry_id for e in self._state.custody):
            raise WriteConflict(f"duplicate custody entry {entry.entry_id}")
        self._state.custody.append(entry)

    async def add_many(self, entries: Sequence[CustodyEntry]) -> None:
        for entry in entries:
            await self.add(entry)

    async def get(self, entry_id: str) -> CustodyEntry | None:
        return next((e for e in self._state.custody if e.entry_id == entry_id), None)

    async def batch(self, batch_id: str) -> list[CustodyEntry]:
        return [e for e in self._state.custody if e.batch_id == batch_id]

    async def find(self, where: CustodyFilter, after: int | None, limit: int) -> list[tuple[int, CustodyEntry]]:
        rows = [
            (seq, e)
            for seq, e in enumerate(self._state.custody, start=1)
            if (not where.holder or e.holder == where.holder)
            and (not where.material_code or e.material_code == where.material_code)
            and (not where.reference or e.reference == where.reference)
        ]
        return _page(rows, lambda row: -row[0], None if after is None else -after, limit)

    def _by_lot(self, kind: MaterialKind, ok: Callable[[CustodyEntry], bool]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for e in self._state.custody:
            if e.lot_id and ok(e):
                totals[e.lot_id] = totals.get(e.lot_id, 0) + (e.weight_mg if kind is MaterialKind.METAL else e.pieces)
        return dict(sorted(totals.items()))

    async def issued_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]:
        holder = order_holder(order_id)
        return self._by_lot(
            kind, lambda e: (e.kind, e.holder, e.material_code) == (CustodyKind.ISSUE, holder, material_code)
        )

    async def returned_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]:
        reference = order_holder(order_id)
        return self._by_lot(
            kind, lambda e: (e.kind, e.reference, e.material_code) == (CustodyKind.RETURN, reference, material_code)
        )

    async def lost(self, order_id: str, kind: MaterialKind, material_code: str) -> int:
        holder = order_holder(order_id)
        return sum(
            e.weight_mg if kind is MaterialKind.METAL else e.pieces
            for e in self._state.custody
            if (e.kind, e.holder, e.material_code) == (CustodyKind.LOSS, holder, material_code)
        )
