"""The SQLAlchemy units of work: repositories bound to one session.

``SqlUnitOfWork`` opens a transaction per ``write()``; ``SqlUnitOfWork.borrow(session)``
works inside a transaction someone else owns (an event consumer's, which already holds
its inbox row): each ``write()`` is a SAVEPOINT, so a use case that retries after a write
race runs its attempt again without losing the rest of the transaction, and nothing is
committed there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.db import Database
from mes_platform.idempotency import IdempotencyStore
from mes_platform.outbox import OutboxWriter
from services.inventory.adapters.codec import event_message
from services.inventory.adapters.custody_repo import SqlCustody
from services.inventory.adapters.reservation_repos import SqlReservations, SqlWaiting
from services.inventory.adapters.stock_repos import SqlAlloys, SqlBalances, SqlLots
from services.inventory.adapters.tables import infra
from services.inventory.domain.events import DomainEvent
from services.inventory.service_layer.ports import Tx, WriteConflict

__all__ = ["PRODUCER", "BorrowedUnitOfWork", "SqlUnitOfWork"]

PRODUCER = "inventory"
#: PostgreSQL: serialization failure, deadlock detected (the transaction may simply be run again).
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


class _OutboxEvents:
    def __init__(self, session: AsyncSession, writer: OutboxWriter) -> None:
        self._session = session
        self._writer = writer

    async def add(self, event: DomainEvent, *, causation_id: str = "") -> str:
        subject, message = event_message(event)
        return await self._writer.add(self._session, subject, message, causation_id=causation_id)


class _Idempotency:
    def __init__(self, session: AsyncSession, store: IdempotencyStore) -> None:
        self._session = session
        self._store = store

    async def lookup(self, scope: str, request_id: str, fingerprint: str) -> str | None:
        return await self._store.lookup(self._session, scope, request_id, fingerprint)

    async def record(self, scope: str, request_id: str, fingerprint: str, resource_name: str) -> None:
        await self._store.record(self._session, scope, request_id, fingerprint, resource_name)


@asynccontextmanager
async def _conflicts_as_write_conflict() -> AsyncIterator[None]:
    try:
        yield
    except IntegrityError as exc:  # a concurrent insert of the same key won
        raise WriteConflict(str(exc.orig)) from exc
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
            raise WriteConflict(str(exc.orig)) from exc
        raise


def _make_tx(session: AsyncSession, outbox: OutboxWriter, idempotency: IdempotencyStore) -> Tx:
    return Tx(
        alloys=SqlAlloys(session),
        lots=SqlLots(session),
        balances=SqlBalances(session),
        reservations=SqlReservations(session),
        waiting=SqlWaiting(session),
        custody=SqlCustody(session),
        events=_OutboxEvents(session, outbox),
        idempotency=_Idempotency(session, idempotency),
    )


class SqlUnitOfWork:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._outbox = OutboxWriter(infra.outbox, PRODUCER)
        self._idempotency = IdempotencyStore(infra.idempotency)

    def _tx(self, session: AsyncSession) -> Tx:
        return _make_tx(session, self._outbox, self._idempotency)

    def borrow(self, session: AsyncSession) -> BorrowedUnitOfWork:
        """A unit of work inside the caller's transaction on ``session`` (never committed here)."""
        return BorrowedUnitOfWork(self._tx(session), session)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        async with _conflicts_as_write_conflict(), self._db.write() as session:
            yield self._tx(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self._db.read() as session:
            yield self._tx(session)


class BorrowedUnitOfWork:
    """``write()``: a SAVEPOINT in the owner's transaction (rolled back alone on error, races
    raise WriteConflict as usual); ``read()``: the same session, which sees its own writes."""

    def __init__(self, tx: Tx, session: AsyncSession) -> None:
        self._tx = tx
        self._session = session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        async with _conflicts_as_write_conflict(), self._session.begin_nested():
            yield self._tx

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        yield self._tx
