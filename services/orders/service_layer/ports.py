"""Ports: what the use cases need from storage and messaging (adapters implement them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.domain.order import Order, StatusChange
from services.orders.domain.partner import ApiKey, Partner
from services.orders.domain.status import OrderStatus

__all__ = [
    "CatalogueRepository",
    "OrderEvents",
    "OrderFilter",
    "OrderRepository",
    "PartnerRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
]

T = TypeVar("T")


@dataclass(frozen=True)
class OrderFilter:
    """Which orders a list or count covers; ``partner_id`` None means every partner."""

    partner_id: str | None
    statuses: Collection[OrderStatus] = ()
    late_only: bool = False


class OrderRepository(Protocol):
    async def get(self, order_id: str, *, partner_id: str | None, for_update: bool = False) -> Order | None:
        """The order (with lines) if it exists and, when ``partner_id`` is set, belongs to it."""

    async def get_many(self, order_ids: Collection[str], *, partner_id: str | None) -> dict[str, Order]: ...

    async def add(self, order: Order) -> None:
        """Insert a new order, its lines and its pending status changes."""

    async def save(self, order: Order, *, expected_version: int) -> None:
        """Conditional update (Conflict when the stored version moved) + pending status changes."""

    async def find(
        self, where: OrderFilter, *, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Order]:
        """Newest first by (create_time, order_id), strictly after the key ``after``."""

    async def count(self, partner_id: str | None, *, now: datetime) -> tuple[dict[OrderStatus, int], int]:
        """(count per status, number of late orders)."""

    async def status_changes(self, order_id: str, *, after_version: int, limit: int) -> list[StatusChange]: ...


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

    async def find(self, *, after: str | None, limit: int) -> list[Partner]: ...

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


class OrderEvents(Protocol):
    """Writes integration events to the outbox, in the unit of work's transaction."""

    async def order_submitted(self, order: Order, *, causation_id: str = "") -> None: ...

    async def status_changed(self, order: Order, change: StatusChange, *, causation_id: str = "") -> None: ...

    async def order_cancelled(self, order: Order, change: StatusChange, *, causation_id: str = "") -> None: ...


class UnitOfWork(Protocol):
    """One transaction: repositories and the event outbox share it."""

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def partners(self) -> PartnerRepository: ...

    @property
    def catalogue(self) -> CatalogueRepository: ...

    @property
    def events(self) -> OrderEvents: ...


class UnitOfWorkFactory(Protocol):
    def write(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work on the writer, committed on clean exit, rolled back on error."""

    def read(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A read-only unit of work (may lag on a replica)."""

    async def idempotent(
        self,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[UnitOfWork], Awaitable[tuple[str, T]]],
        load: Callable[[UnitOfWork, str], Awaitable[T]],
    ) -> tuple[T, bool]:
        """Run ``create`` once per (scope, request_id); returns (result, replayed)."""
