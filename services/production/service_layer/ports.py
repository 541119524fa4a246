"""Ports: what the use cases need from storage. The SQLAlchemy adapters implement them
(``adapters/``), and so do the in-memory fakes of the unit tests."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

import mes_kernel.uow
from mes_kernel.deps import Deps
from services.production.domain.operations import AttemptRecord, Operation, OperationStatus
from services.production.domain.order_specs import OrderSpec
from services.production.domain.people import Credential, Session, SignInFailure
from services.production.domain.resources import Operator, WorkCenter
from services.production.domain.shifts import ShiftCalendar, WorkSpan
from services.production.domain.styles import Style
from services.production.domain.views import BenchFigures, LossGrouping, LossSummary
from services.production.domain.work_orders import WorkOrder, WorkOrderStatus
from services.production.service_layer.records import OperationView, WorkOrderView

__all__ = [
    "CredentialRepository",
    "FloorOutputRepository",
    "OperationKey",
    "OperationRepository",
    "OperationView",
    "OperatorRepository",
    "OrderSpecRepository",
    "ProductionDeps",
    "QueueKey",
    "SessionRepository",
    "ShiftCalendarRepository",
    "SignInFailureRepository",
    "StyleRepository",
    "UnitOfWork",
    "Uows",
    "WorkCenterRepository",
    "WorkOrderKey",
    "WorkOrderRepository",
    "WorkOrderView",
]

OperationKey = tuple[str, int]
#: Sort key of the work-order listing: (create time, order id, line number).
WorkOrderKey = tuple[datetime, str, int]
#: Sort key of the operation queue: (priority, create time, work order id, sequence).
QueueKey = tuple[int, datetime, str, int]


class StyleRepository(Protocol):
    async def get(self, sku: str) -> Style | None: ...
    async def get_many(self, skus: Collection[str]) -> dict[str, Style]: ...
    async def list_page(self, after: str | None, limit: int) -> list[Style]:
        """By SKU, strictly after ``after``."""
        ...

    async def add(self, style: Style) -> None:
        """Insert the style and its first routing version."""
        ...

    async def update(self, style: Style, *, new_routing_version: bool) -> None:
        """Conditional on ``style.version`` (Conflict otherwise), which it then increments."""
        ...


class WorkCenterRepository(Protocol):
    async def get(self, code: str, *, for_update: bool = False) -> WorkCenter | None: ...
    async def get_many(self, codes: Collection[str]) -> dict[str, WorkCenter]: ...
    async def list_page(self, after: str | None, limit: int) -> list[WorkCenter]: ...
    async def of_types(self, types: Collection[str]) -> list[WorkCenter]: ...
    async def add(self, center: WorkCenter) -> None: ...
    async def update(self, center: WorkCenter) -> None: ...


class OperatorRepository(Protocol):
    async def get(self, code: str) -> Operator | None: ...
    async def list_page(self, after: str | None, limit: int) -> list[Operator]: ...
    async def add(self, operator: Operator) -> None: ...
    async def update(self, operator: Operator) -> None: ...


class CredentialRepository(Protocol):
    async def get(self, operator_code: str) -> Credential | None: ...
    async def save(self, credential: Credential) -> None:
        """Insert or replace the operator's password."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...
    async def find(self, token_hash: str) -> tuple[Session, Operator] | None:
        """The session and its operator (one lookup by the token's hash), open or not."""
        ...

    async def end(self, token_hash: str, now: datetime) -> bool:
        """End the session if it is not ended yet; whether it was."""
        ...

    async def end_all(self, operator_code: str, now: datetime) -> int:
        """End every session of the operator that is not ended yet; how many."""
        ...

    async def prune(self, expired_before: datetime) -> int:
        """Delete the sessions that expired before ``expired_before``; how many."""
        ...


class SignInFailureRepository(Protocol):
    async def add(self, failure: SignInFailure) -> None: ...
    async def latest(
        self, since: datetime, limit: int, *, operator_code: str | None = None, client_address: str | None = None
    ) -> list[datetime]:
        """Times of the newest failures after ``since`` of the code (or of the address), newest
        first, at most ``limit``."""
        ...

    async def prune(self, before: datetime) -> int:
        """Delete the failures older than ``before``; how many."""
        ...


class WorkOrderRepository(Protocol):
    async def get(self, work_order_id: str, *, for_update: bool = False) -> WorkOrder | None: ...
    async def get_many(self, ids: Collection[str], *, with_routing: bool = True) -> dict[str, WorkOrderView]:
        """Records of the work orders that exist (``routing_snapshot`` None unless ``with_routing``)."""
        ...

    async def for_order(self, order_id: str, *, for_update: bool = False) -> list[WorkOrder]:
        """The order's work orders in line order."""
        ...

    async def list_page(
        self,
        after: WorkOrderKey | None,
        limit: int,
        *,
        order_ids: Sequence[str],
        statuses: Sequence[WorkOrderStatus],
        with_routing: bool = True,
    ) -> list[WorkOrderView]:
        """Oldest first (create time, order id, line number), strictly after ``after``
        (``routing_snapshot`` None unless ``with_routing``)."""
        ...

    async def add(self, work_order: WorkOrder) -> None: ...
    async def add_all(self, work_orders: Sequence[WorkOrder]) -> None:
        """Insert several (one statement)."""
        ...

    async def update(self, work_order: WorkOrder) -> None:
        """Status and metal only (the rest is immutable); conditional on the version."""
        ...


class OperationRepository(Protocol):
    async def get(self, work_order_id: str, sequence: int) -> Operation | None: ...
    async def get_many(self, keys: Collection[OperationKey]) -> dict[OperationKey, OperationView]: ...
    async def for_work_orders(self, work_order_ids: Collection[str]) -> list[Operation]: ...
    async def list_page(
        self,
        after: QueueKey | None,
        limit: int,
        *,
        work_center: str | None,
        work_order_ids: Sequence[str],
        statuses: Sequence[OperationStatus],
    ) -> list[OperationView]:
        """Queue order: priority (highest first), create time, work order id, sequence."""
        ...

    async def add_all(self, operations: Sequence[Operation]) -> None: ...
    async def update(self, operation: Operation) -> None: ...
    async def open_load(self, codes: Collection[str]) -> dict[str, int]:
        """Open (not terminal) operations per work center."""
        ...

    async def count_in_progress(self, work_center: str, *, with_paused: bool = False) -> int:
        """IN_PROGRESS operations at the work center (and PAUSED ones, which keep their place,
        when ``with_paused``)."""
        ...

    async def adopt_unassigned(self, work_center_type: str, work_center: str, now: datetime) -> int:
        """Assign the open operations of the type that have no work center; how many."""
        ...

    async def save_attempt(self, attempt: AttemptRecord) -> None:
        """Insert or replace the attempt (work order, sequence, attempt)."""
        ...

    async def attempts(self, work_order_ids: Collection[str]) -> list[AttemptRecord]: ...
    async def loss_summary(self, grouping: LossGrouping, since: datetime | None) -> list[LossSummary]: ...
    async def center_counts(self, codes: Collection[str], done_since: datetime) -> dict[str, dict[str, int]]:
        """Per center: QUEUED, IN_PROGRESS, LOSS_REVIEW counts and DONE_IN_WINDOW."""
        ...

    async def bench_figures(self, codes: Collection[str]) -> dict[str, BenchFigures]:
        """Per center with anything queued or at the bench: since when its longest-waiting queued
        operation waits (``queued_since``), and the pieces and metal of its operations in progress
        or paused."""
        ...


class ShiftCalendarRepository(Protocol):
    async def get(self, work_center: str, *, for_update: bool = False) -> ShiftCalendar | None: ...
    async def get_many(self, work_centers: Collection[str]) -> dict[str, ShiftCalendar]: ...
    async def add(self, calendar: ShiftCalendar) -> None: ...
    async def update(self, calendar: ShiftCalendar) -> None:
        """Conditional on ``calendar.version`` (Conflict otherwise), which it then increments."""
        ...


class FloorOutputRepository(Protocol):
    """What the work centers' output figures are computed from (one query each, for all centers)."""

    async def finish_times(
        self, work_centers: Collection[str], since: datetime, until: datetime
    ) -> list[tuple[str, datetime]]:
        """(work center, finish time) of every weighed attempt finished in [since, until]."""
        ...

    async def work_spans(self, work_centers: Collection[str], since: datetime, until: datetime) -> list[WorkSpan]:
        """The operations at the centers that were in progress at some time in [since, until)."""
        ...


class OrderSpecRepository(Protocol):
    async def get(self, order_id: str, *, for_update: bool = False) -> OrderSpec | None: ...
    async def add(self, spec: OrderSpec) -> None: ...
    async def update(self, spec: OrderSpec) -> None:
        """Only the status moves; conditional on the version."""
        ...


class UnitOfWork(mes_kernel.uow.UnitOfWork, Protocol):
    """Repositories bound to one transaction, and ``emit`` to its outbox."""

    styles: StyleRepository
    work_centers: WorkCenterRepository
    operators: OperatorRepository
    work_orders: WorkOrderRepository
    operations: OperationRepository
    order_specs: OrderSpecRepository
    credentials: CredentialRepository
    sessions: SessionRepository
    sign_in_failures: SignInFailureRepository
    calendars: ShiftCalendarRepository
    floor_output: FloorOutputRepository


#: The units of work of the production service.
Uows = mes_kernel.uow.UnitOfWorkFactory[UnitOfWork]
#: What every production use case receives.
ProductionDeps = Deps[Uows]
