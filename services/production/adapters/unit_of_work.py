"""The production unit of work on SQLAlchemy: the shared one (session and outbox) plus the
production repositories on its session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.uow import OutboxEmitter, SqlUnitOfWork
from services.production.adapters.calendar_repository import SqlFloorOutputRepository, SqlShiftCalendarRepository
from services.production.adapters.catalog_repository import (
    SqlOperatorRepository,
    SqlStyleRepository,
    SqlWorkCenterRepository,
)
from services.production.adapters.operation_repository import SqlOperationRepository
from services.production.adapters.sign_in_repository import (
    SqlCredentialRepository,
    SqlSessionRepository,
    SqlSignInFailureRepository,
)
from services.production.adapters.work_order_repository import SqlOrderSpecRepository, SqlWorkOrderRepository
from services.production.service_layer.ports import (
    CredentialRepository,
    FloorOutputRepository,
    OperationRepository,
    OperatorRepository,
    OrderSpecRepository,
    SessionRepository,
    ShiftCalendarRepository,
    SignInFailureRepository,
    StyleRepository,
    WorkCenterRepository,
    WorkOrderRepository,
)

__all__ = ["ProductionUnitOfWork"]


class ProductionUnitOfWork(SqlUnitOfWork):
    def __init__(self, session: AsyncSession, emitter: OutboxEmitter) -> None:
        super().__init__(session, emitter)
        self.styles: StyleRepository = SqlStyleRepository(session)
        self.work_centers: WorkCenterRepository = SqlWorkCenterRepository(session)
        self.operators: OperatorRepository = SqlOperatorRepository(session)
        self.work_orders: WorkOrderRepository = SqlWorkOrderRepository(session)
        self.operations: OperationRepository = SqlOperationRepository(session)
        self.order_specs: OrderSpecRepository = SqlOrderSpecRepository(session)
        self.credentials: CredentialRepository = SqlCredentialRepository(session)
        self.sessions: SessionRepository = SqlSessionRepository(session)
        self.sign_in_failures: SignInFailureRepository = SqlSignInFailureRepository(session)
        self.calendars: ShiftCalendarRepository = SqlShiftCalendarRepository(session)
        self.floor_output: FloorOutputRepository = SqlFloorOutputRepository(session)
