"""The orders unit of work on SQL: the shared :class:`SqlUnitOfWork` (one session and the
outbox on it) with the service's repositories."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.uow import OutboxEmitter, SqlUnitOfWork
from services.orders.adapters.catalogue_repository import SqlCatalogueRepository
from services.orders.adapters.order_repository import SqlOrderRepository
from services.orders.adapters.partner_repository import SqlPartnerRepository
from services.orders.service_layer.ports import CatalogueRepository, OrderRepository, PartnerRepository

__all__ = ["OrdersUnitOfWork"]


class OrdersUnitOfWork(SqlUnitOfWork):
    def __init__(self, session: AsyncSession, emitter: OutboxEmitter) -> None:
        super().__init__(session, emitter)
        self.orders: OrderRepository = SqlOrderRepository(session)
        self.partners: PartnerRepository = SqlPartnerRepository(session)
        self.catalogue: CatalogueRepository = SqlCatalogueRepository(session)
