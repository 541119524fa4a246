"""The SQLAlchemy unit of work: repositories and outbox on one session, retried on races.

``SqlUnitOfWorkFactory`` runs each use case in its own transaction.
``SqlUnitOfWorkFactory.borrow(session)`` runs them inside a transaction someone else owns
(an event consumer's, holding its inbox row): every ``write`` is a SAVEPOINT, retried alone
on races, and nothing is committed there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.errors import Conflict
from mes_platform.db import Database
from mes_platform.idempotency import IdempotencyStore
from mes_platform.outbox import OutboxWriter
from services.production.adapters.catalog_repository import (
    SqlOperatorRepository,
    SqlStyleRepository,
    SqlWorkCenterRepository,
)
from services.production.adapters.messages import encode_event
from services.production.adapters.operation_repository import SqlOperationRepository
from services.production.adapters.tables import infra
from services.production.adapters.work_order_repository import SqlOrderSpecRepository, SqlWorkOrderRepository
from services.production.domain.events import Event
from services.production.service_layer.ports import UnitOfWork

__all__ = ["BorrowedUnitOfWorkFactory", "SqlUnitOfWork", "SqlUnitOfWorkFactory"]

T = TypeVar("T")
#: PostgreSQL serialization failure and deadlock: the transaction may simply be run again.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


class SqlUnitOfWork:
    def __init__(self, session: AsyncSession, outbox: OutboxWriter) -> None:
        self.session = session
        self._outbox = outbox
        self.styles = SqlStyleRepository(session)
        self.work_centers = SqlWorkCenterRepository(session)
        self.operators = SqlOperatorRepository(session)
        self.work_orders = SqlWorkOrderRepository(session)
        self.operations = SqlOperationRepository(session)
        self.order_specs = SqlOrderSpecRepository(session)

    async def emit(self, event: Event, *, causation_id: str = "") -> None:
        subject, message = encode_event(event)
        await self._outbox.add(self.session, subject, message, causation_id=causation_id)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, Conflict | IntegrityError):
        return True
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return state in _RETRYABLE_SQLSTATES
    return False


class SqlUnitOfWorkFactory:
    def __init__(self, db: Database, *, producer: str = "production", attempts: int = 4) -> None:
        self._db = db
        self._outbox = OutboxWriter(infra.outbox, producer)
        self._idempotency = IdempotencyStore(infra.idempotency)
        self._attempts = attempts

    def borrow(self, session: AsyncSession) -> BorrowedUnitOfWorkFactory:
        """Units of work inside the caller's transaction on ``session`` (never committed here)."""
        return BorrowedUnitOfWorkFactory(session, self._outbox, self._idempotency, attempts=self._attempts)

    async def write(self, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                async with self._db.write() as session:
                    return await fn(SqlUnitOfWork(session, self._outbox))
            except Exception as exc:
                if attempt == self._attempts or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")

    async def read(self, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self._db.read() as session:
            return await fn(SqlUnitOfWork(session, self._outbox))

    async def idempotent(
        self,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[UnitOfWork], Awaitable[tuple[str, T]]],
        load: Callable[[UnitOfWork, str], Awaitable[T]],
    ) -> T:
        async def _create(session: AsyncSession) -> tuple[str, T]:
            return await create(SqlUnitOfWork(session, self._outbox))

        async def _load(session: AsyncSession, name: str) -> T:
            return await load(SqlUnitOfWork(session, self._outbox), name)

        for attempt in range(1, self._attempts + 1):
            try:
                result, _replayed = await self._idempotency.run(
                    self._db, scope=scope, request_id=request_id, fingerprint=fingerprint, create=_create, load=_load
                )
                return result
            except Exception as exc:
                # IntegrityError on the idempotency key is handled by the store; here: races
                # on the aggregates themselves.
                if attempt == self._attempts or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")


class BorrowedUnitOfWorkFactory:
    """The :class:`UnitOfWorkFactory` port on a session whose transaction belongs to the caller."""

    def __init__(
        self, session: AsyncSession, outbox: OutboxWriter, idempotency: IdempotencyStore, *, attempts: int = 4
    ) -> None:
        self._session = session
        self._uow = SqlUnitOfWork(session, outbox)
        self._idempotency = idempotency
        self._attempts = attempts

    async def write(self, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                async with self._session.begin_nested():
                    return await fn(self._uow)
            except Exception as exc:
                if attempt == self._attempts or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")

    async def read(self, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await fn(self._uow)

    async def idempotent(
        self,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[UnitOfWork], Awaitable[tuple[str, T]]],
        load: Callable[[UnitOfWork, str], Awaitable[T]],
    ) -> T:
        async def run(uow: UnitOfWork) -> T:
            if request_id:
                existing = await self._idempotency.lookup(self._session, scope, request_id, fingerprint)
                if existing is not None:
                    return await load(uow, existing)
            name, result = await create(uow)
            if request_id:
                await self._idempotency.record(self._session, scope, request_id, fingerprint, name)
            return result

        return await self.write(run)
