"""Rebuild requests already carried out, in the service's idempotency table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.idempotency import IdempotencyStore
from services.analytics.adapters.tables import infra

__all__ = ["SqlRebuildLog"]

_SCOPE = "analytics:Rebuild"


class SqlRebuildLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._store = IdempotencyStore(infra.idempotency)

    async def seen(self, request_id: str, fingerprint: str) -> bool:
        return await self._store.lookup(self._session, _SCOPE, request_id, fingerprint) is not None

    async def record(self, request_id: str, fingerprint: str) -> None:
        await self._store.record(self._session, _SCOPE, request_id, fingerprint, f"rebuilds/{request_id}")
