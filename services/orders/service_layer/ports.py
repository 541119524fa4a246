"""Ports: what the use cases need from storage (the adapters implement them).

The unit of work is the shared port of :mod:`mes_kernel.uow` (one transaction; domain
events go to the outbox with ``uow.emit``) with the service's repositories added.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias

from mes_kernel import uow
from mes_kernel.deps import Deps
from mes_kernel.uow import UnitOfWorkFactory
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.domain.order import Order, StatusChange
from services.orders.domain.partner import ApiKey, Partner
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.records import LineView, OrderView

__all__ = [
    "CatalogueRepository",
    "LineView",
    "OrderFilter",
    "OrderRepository",
    "OrderView",
    "OrdersDeps",
    "PartnerRepository",
    "UnitOfWork",
    "UnitsOfWork",
]


@dataclass(frozen=True)
class OrderFilter:
    """Which orders a list or count covers; ``partner_id`` None means every partner."""

    partner_id: str | None
    statuses: Collection[OrderStatus] = ()
    late_only: bool = False


class OrderRepository(Protocol):
    async def get(self, order_id: str, *, partner_id: str | None, for_update: bool = False) -> Order | None:
        """The order (with lines) if it exists and, when ``partner_id`` is set, belongs to it."""

    async def get_many(self, order_ids: Collection[str], *, partner_id: str | None) -> dict[str, OrderView]:
        """Records of the orders that exist (in the partner's scope when ``partner_id`` is set)."""

    async def lock(self, order_id: str) -> Order | None:
        """The order with its lines, locked until the transaction ends (to change it), in one read."""

    async def add(self, order: Order) -> None:
        """Insert a new order, its lines and its pending status changes."""

    async def save(self, order: Order, *, expected_version: int) -> None:
        """Conditional update (Conflict when the stored version moved) + pending status changes."""

    async def find(
        self, where: OrderFilter, *, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[OrderView]:
        """Newest first by (create_time, order_id), strictly after the key ``after``."""

    async def count(self, partner_id: str | None, *, now: datetime) -> tuple[dict[OrderStatus, int], int]:
        """(count per status present, number of late orders)."""

    async def status_changes(self, order_id: str, *, after_version: int, limit: int) -> list[StatusChange]:
        """The history of an order, oldest first, after the version ``after_version``."""


class PartnerRepository(Protocol):
    async def get(self, partner_id: str, *, for_update: bool = False) -> Partner | None: ...

    async def exists(self, partner_id: str) -> bool: ...

    async def add(self, partner: Partner) -> None:
        """Insert a partner and its keys; AlreadyExists when the id is taken."""

    async def save(
        self,
        partner: Partner,
        *,
        expected_version: int,
        added: Sequence[ApiKey] = (),
        revoked: Sequence[ApiKey] = (),
    ) -> None:
        """Conditional update (Conflict when the stored version moved); stores the keys
        ``added`` and the revocations in ``revoked``."""

    async def find(self, *, after: str | None, limit: int) -> list[Partner]:
        """Ordered by partner id, strictly after ``after``."""

    async def partner_for_key(self, key_hash: str) -> str | None:
        """The partner id of the active key with this hash."""


class CatalogueRepository(Protocol):
    async def active_codes(self, kind: CatalogueKind, codes: Collection[str]) -> set[str]: ...

    async def get(self, kind: CatalogueKind, code: str) -> CatalogueItem | None: ...

    async def upsert_if_newer(self, item: CatalogueItem) -> bool:
        """Store ``item`` unless a copy with the same or a higher source version exists."""

    async def find(
        self, kind: CatalogueKind | None, *, after: tuple[str, str] | None, limit: int
    ) -> list[CatalogueItem]:
        """Ordered by (kind name, code), strictly after ``after``."""


class UnitOfWork(uow.UnitOfWork, Protocol):
    """One transaction: the repositories and the outbox (``emit``) share it."""

    orders: OrderRepository
    partners: PartnerRepository
    catalogue: CatalogueRepository


#: The units of work of the service (the port's factory of its unit of work).
UnitsOfWork: TypeAlias = UnitOfWorkFactory[UnitOfWork]
#: What the use cases receive: units of work, the page-token signer, the clock.
OrdersDeps: TypeAlias = Deps[UnitsOfWork]
