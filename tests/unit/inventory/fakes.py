"""In-memory fakes of the inventory ports: units of work and repositories.

They keep the SQL adapters' semantics (the contract suite in
``tests/integration/inventory/test_inventory_repository_contract.py`` runs the same tests
against both); the unit-of-work port itself (write, read, borrow, transact, idempotent) is the
one the services' fakes share (``tests/_infra/fakes.py``).
"""

from __future__ import annotations

from tests._infra.fakes import Emitted, InMemoryUnitOfWork, InMemoryUnitsOfWork
from tests.unit.inventory._fake_repositories import (
    FakeAlloys,
    FakeBalances,
    FakeCustody,
    FakeLots,
    FakeReservations,
    FakeState,
    FakeWaiting,
)

__all__ = ["Emitted", "FakeState", "FakeUnitOfWork", "FakeUnitOfWorkFactory"]


class FakeUnitOfWork(InMemoryUnitOfWork[FakeState]):
    """The repositories on one copy of the state, and its outbox."""

    def __init__(self, state: FakeState, causation_id: str = "") -> None:
        super().__init__(state, causation_id)
        self.alloys = FakeAlloys(state)
        self.lots = FakeLots(state)
        self.balances = FakeBalances(state)
        self.reservations = FakeReservations(state)
        self.waiting = FakeWaiting(state)
        self.custody = FakeCustody(state)


class FakeUnitOfWorkFactory(InMemoryUnitsOfWork[FakeState, FakeUnitOfWork]):
    """Units of work on a ``FakeState`` (a new empty one by default)."""

    state_type = FakeState
    unit_of_work = FakeUnitOfWork
