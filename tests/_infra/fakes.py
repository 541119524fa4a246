"""The in-memory unit-of-work port the three services' fakes share (``tests/unit/<service>/fakes.py``).

A service's fakes subclass :class:`FakeTables` (its tables, next to the idempotency keys, the
outbox and a write generation), :class:`InMemoryUnitOfWork` (its repositories on one copy of
the tables) and :class:`InMemoryUnitsOfWork` (naming that unit of work in ``unit_of_work``).
They keep the SQL adapters' semantics (each service's repository contract suite runs the same
tests against both):

* ``write()`` works on a copy of the tables and applies it only on a clean exit; it fails
  :class:`WriteConflict` when another write committed meanwhile (so ``transact`` runs the use
  case again, and gives up with :class:`StillConflicting` like ``SqlUnitOfWorkFactory``);
* ``read()`` reads a throw-away copy;
* ``borrow(uow)`` gives units of work inside the open unit of work ``uow`` (an event consumer's
  transaction): nothing commits there, each ``write()`` is a savepoint;
* ``emit`` records the events in the tables, so they commit or roll back with them (``outbox``),
  with the factory's cause by default;
* ``idempotent`` runs a mutation once per ``request_id``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

from mes_kernel.errors import AlreadyExists
from mes_kernel.uow import Transaction, WriteConflict
from mes_platform.uow import transact_retrying

__all__ = ["Emitted", "FakeTables", "InMemoryUnitOfWork", "InMemoryUnitsOfWork"]

T = TypeVar("T")
S = TypeVar("S", bound="FakeTables")
U = TypeVar("U", bound="InMemoryUnitOfWork[Any]")


@dataclass(frozen=True)
class Emitted:
    """An event in the outbox, with its cause."""

    event: object
    causation_id: str


@dataclass
class FakeTables:
    """What every service stores next to its own tables (a subclass adds them)."""

    #: (scope, request id) -> (fingerprint, resource name)
    idempotency: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    outbox: list[Emitted] = field(default_factory=list)
    #: Bumped by every committed write (how a write sees that another one committed meanwhile).
    generation: int = 0


class InMemoryUnitOfWork(Generic[S]):
    """One copy of the tables (a subclass adds its repositories on ``state``), and its outbox."""

    def __init__(self, state: S, causation_id: str = "") -> None:
        self.state = state
        self._cause = causation_id

    async def emit(self, event: object, *, causation_id: str | None = None) -> None:
        # Copied: the SQL outbox encodes the event as it is when emitted.
        cause = self._cause if causation_id is None else causation_id
        self.state.outbox.append(Emitted(copy.deepcopy(event), cause))


class InMemoryUnitsOfWork(Generic[S, U]):
    """The unit-of-work port on ``state`` (new empty ``state_type`` by default); a subclass names
    its tables in ``state_type`` and its unit of work in ``unit_of_work``."""

    state_type: ClassVar[type[FakeTables]]
    unit_of_work: ClassVar[type[InMemoryUnitOfWork[Any]]]

    def __init__(self, state: S | None = None, *, causation_id: str = "") -> None:
        self.state: S = self.state_type() if state is None else state  # type: ignore[assignment]  # the subclass's S
        self._cause = causation_id
        self._borrowed = False

    def _open(self, state: S) -> U:
        return self.unit_of_work(state, self._cause)  # type: ignore[return-value]  # the subclass's U

    @property
    def events(self) -> list[object]:
        """The events committed so far, oldest first."""
        return [emitted.event for emitted in self.state.outbox]

    @asynccontextmanager
    async def write(self) -> AsyncIterator[U]:
        seen = self.state.generation
        uow = self._open(copy.deepcopy(self.state))
        yield uow
        if not self._borrowed and self.state.generation != seen:  # another write committed meanwhile
            raise WriteConflict("concurrent write")
        uow.state.generation = seen + 1
        self.state.__dict__.update(uow.state.__dict__)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[U]:
        yield self._open(self.state if self._borrowed else copy.deepcopy(self.state))

    def borrow(self, transaction: Transaction, *, causation_id: str = "") -> Self:
        """Units of work inside the open unit of work ``transaction`` (its writes are savepoints)."""
        if not isinstance(transaction, InMemoryUnitOfWork) or not isinstance(transaction.state, type(self.state)):
            raise TypeError(f"expected a unit of work of these fakes, got {type(transaction).__name__}")
        other = copy.copy(self)
        other.state, other._cause, other._borrowed = transaction.state, causation_id, True
        return other

    def caused_by(self, causation_id: str) -> Self:
        """The same units of work; what they emit carries ``causation_id`` by default."""
        other = copy.copy(self)
        other._cause = causation_id
        return other

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
    ) -> tuple[T, bool]:
        async def once(uow: U) -> tuple[T, bool]:
            if request_id:
                existing = uow.state.idempotency.get((scope, request_id))
                if existing is not None:
                    if existing[0] != fingerprint:
                        raise AlreadyExists(
                            "request_id was already used with a different request",
                            reason="IDEMPOTENCY_KEY_REUSED",
                            metadata={"request_id": request_id},
                        )
                    return await load(uow, existing[1]), True
            name, result = await create(uow)
            if request_id:
                uow.state.idempotency[(scope, request_id)] = (fingerprint, name)
            return result, False

        return await self.transact(once)
