"""In-memory fakes of the inventory ports: units of work and repositories.

They keep the SQL adapters' semantics (the contract suite in
``tests/integration/inventory/test_inventory_repository_contract.py`` runs the same tests
against both): a ``write()`` works on a copy of the state and applies it only on a clean
exit, and fails :class:`WriteConflict` when another write committed meanwhile (so
``transact`` runs the use case again); inside a borrowed factory a ``write()`` is a
savepoint of the owner's unit of work. ``emit`` records the events in the state, so they
commit or roll back with it (``state.outbox``), with the factory's cause by default.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Self, TypeVar

from mes_kernel.errors import AlreadyExists, Conflict
from mes_kernel.uow import Transaction, WriteConflict
from mes_platform.uow import StillConflicting
from tests.unit.inventory._fake_repositories import (
    Emitted,
    FakeAlloys,
    FakeBalances,
    FakeCustody,
    FakeLots,
    FakeReservations,
    FakeState,
    FakeWaiting,
)

__all__ = ["Emitted", "FakeState", "FakeUnitOfWork", "FakeUnitOfWorkFactory"]

T = TypeVar("T")


class FakeUnitOfWork:
    """The repositories on one copy of the state, and its outbox."""

    def __init__(self, state: FakeState, causation_id: str = "") -> None:
        self.state = state
        self._cause = causation_id
        self.alloys = FakeAlloys(state)
        self.lots = FakeLots(state)
        self.balances = FakeBalances(state)
        self.reservations = FakeReservations(state)
        self.waiting = FakeWaiting(state)
        self.custody = FakeCustody(state)

    async def emit(self, event: object, *, causation_id: str | None = None) -> None:
        # Copied: the SQL outbox encodes the event as it is when emitted.
        self.state.outbox.append(Emitted(copy.deepcopy(event), self._cause if causation_id is None else causation_id))


class FakeUnitOfWorkFactory:
    """Units of work on ``state`` (a new empty one by default); ``borrow(uow)`` gives units of
    work inside the open unit of work ``uow``, whose writes are savepoints."""

    def __init__(
        self, state: FakeState | None = None, *, causation_id: str = "", owner: FakeUnitOfWork | None = None
    ) -> None:
        self.state = owner.state if owner is not None else (state or FakeState())
        self._cause = causation_id
        self._borrowed = owner is not None

    @property
    def events(self) -> list[object]:
        """The events committed so far, oldest first."""
        return [emitted.event for emitted in self.state.outbox]

    @asynccontextmanager
    async def write(self) -> AsyncIterator[FakeUnitOfWork]:
        seen = self.state.generation
        uow = FakeUnitOfWork(copy.deepcopy(self.state), self._cause)
        yield uow
        if not self._borrowed and self.state.generation != seen:  # another write committed meanwhile
            raise WriteConflict("concurrent write")
        uow.state.generation = seen + 1
        self.state.__dict__.update(uow.state.__dict__)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[FakeUnitOfWork]:
        yield FakeUnitOfWork(self.state if self._borrowed else copy.deepcopy(self.state), self._cause)

    def borrow(self, transaction: Transaction, *, causation_id: str = "") -> FakeUnitOfWorkFactory:
        if not isinstance(transaction, FakeUnitOfWork):
            raise TypeError(f"expected a FakeUnitOfWork, got {type(transaction).__name__}")
        return FakeUnitOfWorkFactory(causation_id=causation_id, owner=transaction)

    def caused_by(self, causation_id: str) -> Self:
        other = copy.copy(self)
        other._cause = causation_id
        return other

    async def transact(self, fn: Callable[[FakeUnitOfWork], Awaitable[T]], *, attempts: int = 4) -> T:
        for attempt in range(1, attempts + 1):
            try:
                async with self.write() as uow:
                    return await fn(uow)
            except (WriteConflict, Conflict) as exc:
                if attempt == attempts and not isinstance(exc, Conflict):
                    raise StillConflicting("the data changed concurrently; retry the request") from exc
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def idempotent(
        self,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[FakeUnitOfWork], Awaitable[tuple[str, T]]],
        load: Callable[[FakeUnitOfWork, str], Awaitable[T]],
    ) -> tuple[T, bool]:
        async def once(uow: FakeUnitOfWork) -> tuple[T, bool]:
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
