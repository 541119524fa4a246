"""The unit-of-work port (:mod:`mes_kernel.uow`) on SQLAlchemy: the same for every service.

A service declares its unit of work as a subclass of :class:`SqlUnitOfWork` that adds its
repositories (built on ``self.session``), and an encoder of its domain events::

    class OrdersUnitOfWork(SqlUnitOfWork):
        def __init__(self, session: AsyncSession, emitter: OutboxEmitter) -> None:
            super().__init__(session, emitter)
            self.orders = SqlOrderRepository(session)

    uows = SqlUnitOfWorkFactory(db, infra, producer="orders", make=OrdersUnitOfWork, encode=encode_event)

Writes race as :class:`~mes_kernel.uow.WriteConflict` (a unique key taken meanwhile, a
PostgreSQL serialization failure or deadlock); :meth:`transact` and :meth:`idempotent`
run the use case again when that happens, and when every attempt lost its race the caller
gets :class:`StillConflicting` (ABORTED ``VERSION_CONFLICT``: retry the request).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from copy import copy
from dataclasses import dataclass, replace
from typing import Generic, Self, TypeVar

from google.protobuf.message import Message
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mes_contracts.events import EventType
from mes_kernel.errors import AlreadyExists, Conflict
from mes_kernel.uow import Transaction, WriteConflict
from mes_platform.db import Database
from mes_platform.idempotency import IdempotencyStore
from mes_platform.outbox import OutboxWriter, savepoint
from mes_platform.tables import InfraTables

__all__ = [
    "BorrowedSqlUnitOfWorkFactory",
    "EventEncoder",
    "OutboxEmitter",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "StillConflicting",
    "begin_flat_batch",
    "flat_batch_failed",
    "transact_retrying",
    "write_conflicts",
]

T = TypeVar("T")
U = TypeVar("U", bound="SqlUnitOfWork")
W = TypeVar("W")

#: A service's domain event -> (its registered event type, the protobuf payload).
EventEncoder = Callable[[object], tuple[EventType[Message], Message]]
#: PostgreSQL: serialization failure, deadlock detected (the transaction may simply run again).
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
#: ``session.info`` keys of a flat batch (:func:`begin_flat_batch`) and of its failure.
_FLAT_BATCH = "mes.flat_batch"
_FLAT_BATCH_FAILED = "mes.flat_batch_failed"


class StillConflicting(Conflict, WriteConflict):
    """Every attempt lost a write race: ABORTED ``VERSION_CONFLICT`` for the caller (a
    :class:`~mes_kernel.errors.Conflict`), still a WriteConflict to code that catches those."""


@asynccontextmanager
async def write_conflicts() -> AsyncIterator[None]:
    """Races with another writer surface as :class:`WriteConflict`."""
    try:
        yield
    except IntegrityError as exc:  # a concurrent insert of the same key won
        raise WriteConflict(str(exc.orig)) from exc
    except DBAPIError as exc:
        orig = exc.orig
        if (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in _RETRYABLE_SQLSTATES:
            raise WriteConflict(str(orig)) from exc
        raise


@dataclass(frozen=True)
class OutboxEmitter:
    """Writes a service's domain events to its outbox (``causation_id``: the default cause)."""

    writer: OutboxWriter
    encode: EventEncoder
    causation_id: str = ""

    async def emit(self, session: AsyncSession, event: object, causation_id: str | None = None) -> str:
        event_type, message = self.encode(event)
        cause = self.causation_id if causation_id is None else causation_id
        return await self.writer.add(session, event_type, message, causation_id=cause)


class SqlUnitOfWork:
    """Base of the services' units of work: one session, and the outbox on it."""

    def __init__(self, session: AsyncSession, emitter: OutboxEmitter) -> None:
        self.session = session
        self._emitter = emitter

    async def emit(self, event: object, *, causation_id: str | None = None) -> None:
        await self._emitter.emit(self.session, event, causation_id)


async def transact_retrying(
    write: Callable[[], AbstractAsyncContextManager[W]], fn: Callable[[W], Awaitable[T]], *, attempts: int
) -> T:
    """``fn`` in a ``write()`` unit of work, run again (up to ``attempts`` times) when it loses a race
    (:class:`WriteConflict` or :class:`~mes_kernel.errors.Conflict`); a WriteConflict on the last attempt
    becomes :class:`StillConflicting`."""
    for attempt in range(1, attempts + 1):
        try:
            async with write() as uow:
                return await fn(uow)
        except (WriteConflict, Conflict) as exc:
            if attempt == attempts and not isinstance(exc, Conflict):
                raise StillConflicting("the data changed concurrently; retry the request") from exc
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


class _Factory(ABC, Generic[U]):
    _make: Callable[[AsyncSession, OutboxEmitter], U]
    _emitter: OutboxEmitter
    _idempotency: IdempotencyStore

    @abstractmethod
    def write(self) -> AbstractAsyncContextManager[U]: ...

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[U]: ...

    def borrow(self, transaction: Transaction, *, causation_id: str = "") -> BorrowedSqlUnitOfWorkFactory[U]:
        if not isinstance(transaction, AsyncSession):
            raise TypeError(f"expected an AsyncSession, got {type(transaction).__name__}")
        emitter = replace(self._emitter, causation_id=causation_id)
        return BorrowedSqlUnitOfWorkFactory(transaction, self._make, emitter, self._idempotency)

    async def transact(self, fn: Callable[[U], Awaitable[T]], *, attempts: int = 4) -> T:
        return await transact_retrying(self.write, fn, attempts=attempts)

    async def idempotent(
        self,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[U], Awaitable[tuple[str, T]]],
        load: Callable[[U, str], Awaitable[T]],
        attempts: int = 4,
    ) -> tuple[T, bool]:
        async def once(uow: U) -> tuple[T, bool]:
            if request_id:
                existing = await self._idempotency.lookup(uow.session, scope, request_id, fingerprint)
                if existing is not None:
                    return await load(uow, existing), True
            name, result = await create(uow)
            if request_id:
                await self._idempotency.record(uow.session, scope, request_id, fingerprint, name)
            return result, False

        try:
            return await self.transact(once, attempts=attempts)
        except WriteConflict:
            if not request_id:
                raise
        # Still racing: a concurrent duplicate holds the key; answer as it did.
        async with self.write() as uow:
            existing = await self._idempotency.lookup(uow.session, scope, request_id, fingerprint)
            if existing is None:
                raise AlreadyExists("conflicting concurrent request", reason="IDEMPOTENCY_KEY_REUSED")
            return await load(uow, existing), True


class SqlUnitOfWorkFactory(_Factory[U]):
    """Units of work on the service's database: ``write()`` on the writer, ``read()`` on the
    reader engine."""

    def __init__(
        self,
        db: Database,
        infra: InfraTables,
        *,
        producer: str,
        make: Callable[[AsyncSession, OutboxEmitter], U],
        encode: EventEncoder,
    ) -> None:
        self.db = db
        self._make = make
        self._emitter = OutboxEmitter(OutboxWriter(infra.outbox, producer), encode)
        self._idempotency = IdempotencyStore(infra.idempotency)

    def caused_by(self, causation_id: str) -> Self:
        """The same units of work; the events they emit carry ``causation_id`` by default
        (as inside :meth:`borrow`, for work that has a cause but no transaction of its own)."""
        other = copy(self)
        other._emitter = replace(self._emitter, causation_id=causation_id)
        return other

    @asynccontextmanager
    async def write(self) -> AsyncIterator[U]:
        async with write_conflicts(), self.db.write() as session:
            yield self._make(session, self._emitter)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[U]:
        async with self.db.read() as session:
            yield self._make(session, self._emitter)


class BorrowedSqlUnitOfWorkFactory(_Factory[U]):
    """The port inside a transaction the caller owns: ``write()`` is a savepoint (rolled back
    alone on error), ``read()`` the same session (it sees its own writes); nothing commits.

    In a flat batch (:func:`begin_flat_batch`: an event consumer applying a fetched batch in
    one transaction) ``write()`` takes no savepoint and a use case runs once: the first error
    marks the whole transaction failed (:func:`flat_batch_failed`), the consumer rolls it
    back and applies the batch again one event per transaction, with savepoints and retries.
    """

    def __init__(
        self,
        session: AsyncSession,
        make: Callable[[AsyncSession, OutboxEmitter], U],
        emitter: OutboxEmitter,
        idempotency: IdempotencyStore,
    ) -> None:
        self.session = session
        self._make = make
        self._emitter = emitter
        self._idempotency = idempotency
        self._uow = make(session, emitter)

    @property
    def flat(self) -> bool:
        return bool(self.session.info.get(_FLAT_BATCH))

    async def transact(self, fn: Callable[[U], Awaitable[T]], *, attempts: int = 4) -> T:
        return await super().transact(fn, attempts=1 if self.flat else attempts)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[U]:
        if not self.flat:
            async with write_conflicts(), savepoint(self.session):
                yield self._uow
            return
        try:
            async with write_conflicts():
                yield self._uow
        except BaseException:
            # What the use case wrote so far stays in the transaction: only a rollback of all
            # of it is safe, whatever the caller does with the error.
            self.session.info[_FLAT_BATCH_FAILED] = True
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[U]:
        yield self._uow


def begin_flat_batch(session: AsyncSession) -> None:
    """Units of work borrowed from ``session`` from now on run flat (see
    :class:`BorrowedSqlUnitOfWorkFactory`): the caller rolls the whole transaction back when
    :func:`flat_batch_failed` says so, even if every handler returned normally."""
    session.info[_FLAT_BATCH] = True
    session.info.pop(_FLAT_BATCH_FAILED, None)


def flat_batch_failed(session: AsyncSession) -> bool:
    """A unit of work of the flat batch failed: its partial writes are in the transaction."""
    return bool(session.info.get(_FLAT_BATCH_FAILED))
