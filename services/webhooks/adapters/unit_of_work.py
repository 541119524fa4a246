"""The webhooks unit of work on SQL: the shared :class:`SqlUnitOfWork` with the service's
repositories; ``on_due`` is called after a commit that made deliveries due."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.uow import OutboxEmitter, SqlUnitOfWork
from services.webhooks.adapters.delivery_repository import SqlDeliveryRepository, SqlLogRepository
from services.webhooks.adapters.endpoint_repository import SqlEndpointRepository, SqlOrderRefRepository
from services.webhooks.service_layer.ports import (
    DeliveryRepository,
    EndpointRepository,
    LogRepository,
    OrderRefRepository,
)

__all__ = ["WebhooksUnitOfWork", "unit_of_work_maker"]


class WebhooksUnitOfWork(SqlUnitOfWork):
    def __init__(self, session: AsyncSession, emitter: OutboxEmitter, on_due: Callable[[], None] | None = None) -> None:
        super().__init__(session, emitter)
        self.endpoints: EndpointRepository = SqlEndpointRepository(session)
        self.deliveries: DeliveryRepository = SqlDeliveryRepository(session, on_due)
        self.log: LogRepository = SqlLogRepository(session)
        self.order_refs: OrderRefRepository = SqlOrderRefRepository(session)


def unit_of_work_maker(on_due: Callable[[], None]) -> Callable[[AsyncSession, OutboxEmitter], WebhooksUnitOfWork]:
    """The ``make`` of the unit-of-work factory, with the dispatcher's wake-up."""

    def make(session: AsyncSession, emitter: OutboxEmitter) -> WebhooksUnitOfWork:
        return WebhooksUnitOfWork(session, emitter, on_due)

    return make
