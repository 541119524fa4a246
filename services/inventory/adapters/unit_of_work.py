"""The inventory's unit of work on SQLAlchemy: its repositories on the session of
:class:`mes_platform.uow.SqlUnitOfWork` (which also writes the outbox)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.uow import OutboxEmitter, SqlUnitOfWork
from services.inventory.adapters.custody_repo import SqlCustody
from services.inventory.adapters.reservation_repos import SqlReservations, SqlWaiting
from services.inventory.adapters.stock_repos import SqlAlloys, SqlBalances, SqlLots
from services.inventory.service_layer.ports import (
    AlloyRepository,
    BalanceQueries,
    CustodyRepository,
    LotRepository,
    ReservationRepository,
    WaitingRepository,
)

__all__ = ["InventoryUnitOfWork"]


class InventoryUnitOfWork(SqlUnitOfWork):
    def __init__(self, session: AsyncSession, emitter: OutboxEmitter) -> None:
        super().__init__(session, emitter)
        self.alloys: AlloyRepository = SqlAlloys(session)
        self.lots: LotRepository = SqlLots(session)
        self.balances: BalanceQueries = SqlBalances(session)
        self.reservations: ReservationRepository = SqlReservations(session)
        self.waiting: WaitingRepository = SqlWaiting(session)
        self.custody: CustodyRepository = SqlCustody(session)
