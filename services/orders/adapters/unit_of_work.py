"""SQL units of work: one session (transaction) shared by repositories and the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.db import Database
from mes_platform.idempotency import IdempotencyStore
from mes_platform.outbox import OutboxWriter
from services.orders.adapters.catalogue_repository import SqlCatalogueRepository
from services.orders.adapters.order_repository import SqlOrderRepository
from services.orders.adapters.outbox_events import OutboxOrderEvents
from services.orders.adapters.partner_repository import SqlPartnerRepository
from services.orders.adapters.tables import infra
from services.orders.service_layer.ports import UnitOfWork

__all__ = ["SqlUnitOfWork", "SqlUnitOfWorkFactory"]

T = TypeVar("T")
PRODUCER = "orders"


class SqlUnitOfWork:
    """Repositories and the outbox on one session; ``session`` is exposed so that an
    event consumer can insert its inbox row in the same transaction."""

    def __init__(self, session: AsyncSession, *, postgres: bool, outbox: OutboxWriter) -> None:
        self.session = session
        self.orders = SqlOrderRepository(session)
        self.partners = SqlPartnerRepository(session)
        self.catalogue = SqlCatalogueRepository(session, postgres=postgres)
        self.events = OutboxOrderEvents(session, outbox)


class SqlUnitOfWorkFactory:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._outbox = OutboxWriter(infra.outbox, PRODUCER)
        self._idempotency = IdempotencyStore(infra.idempotency)

    def _uow(self, session: AsyncSession) -> SqlUnitOfWork:
        return SqlUnitOfWork(session, postgres=self.db.is_postgres, outbox=self._outbox)

    def borrow(self, session: AsyncSession) -> SqlUnitOfWork:
        """A unit of work on a transaction someone else owns (an event consumer's, with its
        inbox row): it neither commits nor rolls back; its outbox rows join that transaction."""
        return self._uow(session)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self.db.write() as session:
            yield self._uow(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self.db.read() as session:
            yield self._uow(session)

    async def idempotent(
        self,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[UnitOfWork], Awaitable[tuple[str, T]]],
        load: Callable[[UnitOfWork, str], Awaitable[T]],
    ) -> tuple[T, bool]:
        return await self._idempotency.run(
            self.db,
            scope=scope,
            request_id=request_id,
            fingerprint=fingerprint,
            create=lambda session: create(self._uow(session)),
            load=lambda session, name: load(self._uow(session), name),
        )
