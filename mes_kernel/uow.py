"""The unit-of-work port: one transaction shared by a use case's repositories and events.

Every service speaks this vocabulary (its own unit of work adds its repositories):

* ``async with uows.write() as uow`` — a transaction, committed when the block exits
  normally, rolled back on an exception; a race with another writer raises
  :class:`WriteConflict`, and :meth:`UnitOfWorkFactory.transact` runs a whole use case
  again when it does;
* ``async with uows.read() as uow`` — a read-only unit of work (it may read a replica);
* ``uows.borrow(transaction, causation_id=...)`` — the same port inside a transaction that
  someone else owns (an event consumer's, which already holds its inbox row): nothing is
  committed there, each ``write()`` is a savepoint, and the events emitted carry the
  handled event's id as their cause;
* ``await uow.emit(event)`` — write a domain event to the outbox, in the transaction;
* ``await uows.idempotent(...)`` — run a retryable mutation once per ``request_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

__all__ = ["Transaction", "UnitOfWork", "UnitOfWorkFactory", "WriteConflict"]

T = TypeVar("T")
U = TypeVar("U", bound="UnitOfWork", covariant=True)

#: A transaction owned by the caller, as the adapter that opened it knows it (opaque here).
Transaction = object


class WriteConflict(Exception):
    """A concurrent transaction changed what this one read; the whole use case may run again."""


class UnitOfWork(Protocol):
    async def emit(self, event: object, *, causation_id: str | None = None) -> None:
        """Write a domain event to the outbox in this unit of work's transaction."""
        ...


class UnitOfWorkFactory(Protocol[U]):
    def write(self) -> AbstractAsyncContextManager[U]:
        """A unit of work on the writer: committed on a clean exit, rolled back on error."""
        ...

    def read(self) -> AbstractAsyncContextManager[U]:
        """A read-only unit of work (it may lag on a replica)."""
        ...

    def borrow(self, transaction: Transaction, *, causation_id: str = "") -> UnitOfWorkFactory[U]:
        """Units of work inside ``transaction``, which the caller commits."""
        ...

    async def transact(self, fn: Callable[[U], Awaitable[T]], *, attempts: int = 4) -> T:
        """``fn`` in a write unit of work, run again (up to ``attempts`` times) on WriteConflict."""
        ...

    async def idempotent(
        self,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[U], Awaitable[tuple[str, T]]],
        load: Callable[[U, str], Awaitable[T]],
    ) -> tuple[T, bool]:
        """Run ``create`` once per (scope, request_id); returns (result, replayed).

        ``create`` returns (resource name, result) and commits with the idempotency record;
        a repeat with the same fingerprint returns ``load(uow, name)``; another fingerprint
        fails ALREADY_EXISTS ``IDEMPOTENCY_KEY_REUSED``. Without a request id, ``create``
        simply runs.
        """
        ...
