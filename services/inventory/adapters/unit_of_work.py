"""The SQLAlchemy unit of work: one session per transaction, repositories bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.inventory.adapters.codec import event_message
from services.inventory.adapters.custody_repo import SqlCustody
from services.inventory.adapters.reservation_repos import SqlReservations, SqlWaiting
from services.inventory.adapters.stock_repos import SqlAlloys, SqlBalances, SqlLots
from services.inventory.adapters.tables import infra
from services.inventory.domain.events import DomainEvent
from services.inventory.service_layer.ports import Tx, WriteConflict
from services.shared.db import Database
from services.shared.idempotency import IdempotencyStore
from services.shared.outbox import OutboxWriter

__all__ = ["PRODUCER", "SqlUnitOfWork"]

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


class SqlUnitOfWork:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._outbox = OutboxWriter(infra.outbox, PRODUCER)
        self._idempotency = IdempotencyStore(infra.idempotency)

    def _tx(self, session: AsyncSession) -> Tx:
        return Tx(
            alloys=SqlAlloys(session),
            lots=SqlLots(session),
            balances=SqlBalances(session),
            reservations=SqlReservations(session),
            waiting=SqlWaiting(session),
            custody=SqlCustody(session),
            events=_OutboxEvents(session, self._outbox),
            idempotency=_Idempotency(session, self._idempotency),
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        try:
            async with self._db.write() as session:
                yield self._tx(session)
        except IntegrityError as exc:  # a concurrent insert of the same key won
            raise WriteConflict(str(exc.orig)) from exc
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
                raise WriteConflict(str(exc.orig)) from exc
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self._db.read() as session:
            yield self._tx(session)
