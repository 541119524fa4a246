"""In-memory fakes of the production ports: units of work and repositories.

They keep the SQL adapters' semantics (the contract suite in
``tests/integration/production/test_production_repository_contract.py`` runs the same tests
against both): updates are conditional on the version (``Conflict``); inserting a key twice is
a ``WriteConflict``; listings come in keyset order strictly after the key. The unit-of-work
port itself (write, read, borrow, transact, idempotent) is the one the services' fakes share
(``tests/_infra/fakes.py``).
"""

from __future__ import annotations

from tests._infra.fakes import Emitted, InMemoryUnitOfWork, InMemoryUnitsOfWork
from tests.unit.production._fake_repositories import (
    FakeOperationRepository,
    FakeOperatorRepository,
    FakeOrderSpecRepository,
    FakeState,
    FakeStyleRepository,
    FakeWorkCenterRepository,
    FakeWorkOrderRepository,
)
from tests.unit.production._fake_shifts import FakeFloorOutputRepository, FakeShiftCalendarRepository
from tests.unit.production._fake_sign_in import (
    FakeCredentialRepository,
    FakeSessionRepository,
    FakeSignInFailureRepository,
)

__all__ = ["Emitted", "FakeState", "FakeUnitOfWork", "FakeUnitOfWorkFactory"]


class FakeUnitOfWork(InMemoryUnitOfWork[FakeState]):
    """The repositories on one copy of the state, and its outbox."""

    def __init__(self, state: FakeState, causation_id: str = "") -> None:
        super().__init__(state, causation_id)
        self.styles = FakeStyleRepository(state)
        self.work_centers = FakeWorkCenterRepository(state)
        self.operators = FakeOperatorRepository(state)
        self.work_orders = FakeWorkOrderRepository(state)
        self.operations = FakeOperationRepository(state)
        self.order_specs = FakeOrderSpecRepository(state)
        self.credentials = FakeCredentialRepository(state)
        self.sessions = FakeSessionRepository(state)
        self.sign_in_failures = FakeSignInFailureRepository(state)
        self.calendars = FakeShiftCalendarRepository(state)
        self.floor_output = FakeFloorOutputRepository(state)


class FakeUnitOfWorkFactory(InMemoryUnitsOfWork[FakeState, FakeUnitOfWork]):
    """Units of work on a ``FakeState`` (a new empty one by default)."""

    state_type = FakeState
    unit_of_work = FakeUnitOfWork
