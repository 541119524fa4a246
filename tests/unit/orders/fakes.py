"""In-memory fakes at the ports of the orders service, for fast tests of its rules.

:class:`FakeUnitsOfWork` is a :class:`mes_kernel.uow.UnitOfWorkFactory` over one
:class:`Tables` (the "database"), the unit-of-work port the services' fakes share
(``tests/_infra/fakes.py``): ``write()`` works on a copy that replaces the tables when the
block exits normally (a rollback is simply dropping the copy), ``read()`` on a throwaway copy,
``borrow(uow)`` inside the open unit of work of someone else (its ``write()`` is a savepoint).
The repositories keep the semantics of the SQL ones (version checks, keyset order, scoping by
partner); ``emit`` records the domain events in the transaction, so events of a rolled-back
unit of work vanish like outbox rows.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from mes_kernel.errors import AlreadyExists, Conflict
from mes_kernel.uow import WriteConflict
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.domain.order import Order, StatusChange
from services.orders.domain.partner import ApiKey, Partner
from services.orders.domain.status import TERMINAL, OrderStatus
from services.orders.service_layer.ports import OrderFilter
from services.orders.service_layer.records import OrderView, order_view
from tests._infra.fakes import Emitted, FakeTables, InMemoryUnitOfWork, InMemoryUnitsOfWork

__all__ = ["Emitted", "FakeUnitOfWork", "FakeUnitsOfWork", "Tables"]

T = TypeVar("T")


@dataclass
class Tables(FakeTables):
    """Everything the service stores, as the SQL schema holds it (and, from ``FakeTables``,
    the idempotency keys and the outbox)."""

    orders: dict[str, Order] = field(default_factory=dict)
    history: dict[str, list[StatusChange]] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    catalogue: dict[tuple[str, str], CatalogueItem] = field(default_factory=dict)


def _copy(value: T) -> T:
    return copy.deepcopy(value)


class FakeOrderRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(self, order_id: str, *, partner_id: str | None, for_update: bool = False) -> Order | None:
        order = self._t.orders.get(order_id)
        return None if order is None or not _in_scope(order, partner_id) else _copy(order)

    async def lock(self, order_id: str) -> Order | None:
        return await self.get(order_id, partner_id=None, for_update=True)

    async def get_many(self, order_ids: Collection[str], *, partner_id: str | None) -> dict[str, OrderView]:
        found = [self._t.orders.get(order_id) for order_id in set(order_ids)]
        return {o.order_id: order_view(o) for o in found if o is not None and _in_scope(o, partner_id)}

    async def add(self, order: Order) -> None:
        if order.order_id in self._t.orders:
            raise WriteConflict(f"duplicate key orders.order_id={order.order_id}")
        self._t.history[order.order_id] = []
        self._store(order)

    async def save(self, order: Order, *, expected_version: int) -> None:
        stored = self._t.orders.get(order.order_id)
        if stored is None or stored.version != expected_version:
            raise Conflict(f"order {order.order_id} was changed concurrently; retry")
        self._store(order)

    def _store(self, order: Order) -> None:
        self._t.history[order.order_id].extend(order.changes)
        order.changes.clear()
        self._t.orders[order.order_id] = _copy(order)

    async def find(
        self, where: OrderFilter, *, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[OrderView]:
        rows = [
            o
            for o in self._t.orders.values()
            if _in_scope(o, where.partner_id)
            and (not where.statuses or o.status in where.statuses)
            and (not where.late_only or o.is_late(now))
            and (after is None or (o.create_time, o.order_id) < after)
        ]
        rows.sort(key=lambda o: (o.create_time, o.order_id), reverse=True)
        return [order_view(o) for o in rows[:limit]]

    async def count(self, partner_id: str | None, *, now: datetime) -> tuple[dict[OrderStatus, int], int]:
        counts: dict[OrderStatus, int] = {}
        late = 0
        for order in self._t.orders.values():
            if _in_scope(order, partner_id):
                counts[order.status] = counts.get(order.status, 0) + 1
                late += order.status not in TERMINAL and order.due_time < now
        return counts, late

    async def status_changes(self, order_id: str, *, after_version: int, limit: int) -> list[StatusChange]:
        return [c for c in self._t.history.get(order_id, []) if c.version > after_version][:limit]


def _in_scope(order: Order, partner_id: str | None) -> bool:
    return partner_id is None or order.partner_id == partner_id


class FakePartnerRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(self, partner_id: str, *, for_update: bool = False) -> Partner | None:
        return _copy(self._t.partners.get(partner_id))

    async def exists(self, partner_id: str) -> bool:
        return partner_id in self._t.partners

    async def add(self, partner: Partner) -> None:
        if partner.partner_id in self._t.partners:
            raise AlreadyExists(f"partner {partner.partner_id} already exists")
        self._t.partners[partner.partner_id] = _stored(partner, partner.api_keys)

    async def save(
        self,
        partner: Partner,
        *,
        expected_version: int,
        added: Sequence[ApiKey] = (),
        revoked: Sequence[ApiKey] = (),
    ) -> None:
        stored = self._t.partners.get(partner.partner_id)
        if stored is None or stored.version != expected_version:
            raise Conflict(f"partner {partner.partner_id} was changed concurrently; retry")
        # Like the SQL rows: the partner's columns, the revocations asked for, the keys added.
        by_id = {key.key_id: key for key in revoked}
        keys = [by_id[k.key_id] if k.key_id in by_id and k.active else k for k in stored.api_keys]
        self._t.partners[partner.partner_id] = _stored(partner, [*keys, *added])

    async def find(self, *, after: str | None, limit: int) -> list[Partner]:
        ids = sorted(p for p in self._t.partners if after is None or p > after)[:limit]
        return [_copy(self._t.partners[p]) for p in ids]

    async def partner_for_key(self, key_hash: str) -> str | None:
        for partner in self._t.partners.values():
            if any(k.key_hash == key_hash and k.active for k in partner.api_keys):
                return partner.partner_id
        return None


def _stored(partner: Partner, keys: list[ApiKey]) -> Partner:
    """The partner as its rows read back: keys by (create time, id), the update time set."""
    ordered = sorted(keys, key=lambda k: (k.create_time, k.key_id))
    return replace(_copy(partner), api_keys=ordered, update_time=partner.update_time or partner.create_time)


class FakeCatalogueRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def active_codes(self, kind: CatalogueKind, codes: Collection[str]) -> set[str]:
        items = (self._t.catalogue.get((kind.name, code)) for code in codes)
        return {item.code for item in items if item is not None and item.active}

    async def get(self, kind: CatalogueKind, code: str) -> CatalogueItem | None:
        return self._t.catalogue.get((kind.name, code))

    async def upsert_if_newer(self, item: CatalogueItem) -> bool:
        stored = self._t.catalogue.get((item.kind.name, item.code))
        if stored is not None and stored.source_version >= item.source_version:
            return False
        self._t.catalogue[(item.kind.name, item.code)] = item
        return True

    async def find(
        self, kind: CatalogueKind | None, *, after: tuple[str, str] | None, limit: int
    ) -> list[CatalogueItem]:
        keys = sorted(
            k for k in self._t.catalogue if (kind is None or k[0] == kind.name) and (after is None or k > after)
        )
        return [self._t.catalogue[k] for k in keys[:limit]]


class FakeUnitOfWork(InMemoryUnitOfWork[Tables]):
    def __init__(self, tables: Tables, causation_id: str = "") -> None:
        super().__init__(tables, causation_id)
        self.orders = FakeOrderRepository(tables)
        self.partners = FakePartnerRepository(tables)
        self.catalogue = FakeCatalogueRepository(tables)


class FakeUnitsOfWork(InMemoryUnitsOfWork[Tables, FakeUnitOfWork]):
    """The unit-of-work port on :class:`Tables` (new empty ones by default)."""

    state_type = Tables
    unit_of_work = FakeUnitOfWork
