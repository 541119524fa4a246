"""The analytics unit of work on SQL: the shared :class:`SqlUnitOfWork` with the service's
store, reader and rebuild log."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.uow import OutboxEmitter, SqlUnitOfWork
from services.analytics.adapters.fact_reader import SqlFactReader
from services.analytics.adapters.fact_store import SqlFactStore
from services.analytics.adapters.rebuild_log import SqlRebuildLog
from services.analytics.service_layer.ports import FactReader, FactStore, RebuildLog

__all__ = ["AnalyticsUnitOfWork"]


class AnalyticsUnitOfWork(SqlUnitOfWork):
    def __init__(self, session: AsyncSession, emitter: OutboxEmitter) -> None:
        super().__init__(session, emitter)
        self.facts: FactStore = SqlFactStore(session)
        self.reader: FactReader = SqlFactReader(session)
        self.rebuilds: RebuildLog = SqlRebuildLog(session)
