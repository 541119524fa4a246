"""SQL implementation of :class:`EndpointRepository` (and the order references)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.keyset import keyset_after
from mes_platform.rows import from_row, row_values
from mes_platform.sql import first_row, update_versioned
from services.webhooks.adapters.tables import deliveries, delivery_log, endpoints, order_refs
from services.webhooks.domain.endpoint import Endpoint, EventType

__all__ = ["SqlEndpointRepository", "SqlOrderRefRepository"]


class SqlEndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, endpoint_id: str, *, for_update: bool = False) -> Endpoint | None:
        row = await first_row(self._session, endpoints, endpoints.c.endpoint_id == endpoint_id, for_update=for_update)
        return _endpoint(row) if row is not None else None

    async def get_many(self, endpoint_ids: Collection[str]) -> dict[str, Endpoint]:
        if not endpoint_ids:
            return {}
        rows = await self._session.execute(select(endpoints).where(endpoints.c.endpoint_id.in_(list(endpoint_ids))))
        return {row.endpoint_id: _endpoint(row) for row in rows}

    async def add(self, endpoint: Endpoint) -> None:
        await self._session.execute(
            insert(endpoints).values(
                endpoint_id=endpoint.endpoint_id,
                partner_id=endpoint.partner_id,
                created_at=endpoint.created_at,
                **_values(endpoint),
            )
        )

    async def save(self, endpoint: Endpoint, *, expected_version: int) -> None:
        await update_versioned(
            self._session,
            endpoints,
            endpoints.c.endpoint_id == endpoint.endpoint_id,
            expected_version,
            _values(endpoint),
            what=f"webhook endpoint {endpoint.endpoint_id}",
        )

    async def set_failing(self, failing_since: Mapping[str, datetime | None]) -> None:
        if not failing_since:
            return
        stmt = (
            update(endpoints)
            .where(endpoints.c.endpoint_id == bindparam("b_id"))
            .values(failing_since=bindparam("b_since"))
        )
        await self._session.execute(stmt, [{"b_id": k, "b_since": v} for k, v in failing_since.items()])

    async def delete(self, endpoint_id: str) -> None:
        await self._session.execute(delete(deliveries).where(deliveries.c.endpoint_id == endpoint_id))
        await self._session.execute(delete(delivery_log).where(delivery_log.c.endpoint_id == endpoint_id))
        await self._session.execute(delete(endpoints).where(endpoints.c.endpoint_id == endpoint_id))

    async def count(self, partner_id: str) -> int:
        found = await self._session.scalar(
            select(func.count()).select_from(endpoints).where(endpoints.c.partner_id == partner_id)
        )
        return int(found or 0)

    async def find(self, partner_id: str | None, *, after: tuple[datetime, str] | None, limit: int) -> list[Endpoint]:
        query = select(endpoints).order_by(endpoints.c.created_at, endpoints.c.endpoint_id).limit(limit)
        if partner_id is not None:
            query = query.where(endpoints.c.partner_id == partner_id)
        if after is not None:
            query = query.where(
                keyset_after([(endpoints.c.created_at, after[0], False), (endpoints.c.endpoint_id, after[1], False)])
            )
        return [_endpoint(row) for row in await self._session.execute(query)]

    async def subscribed(self, partner_id: str, event_type: EventType) -> list[Endpoint]:
        rows = await self._session.execute(_SUBSCRIBED, {"partner_id": partner_id})
        found = (_endpoint(row) for row in rows)
        return [endpoint for endpoint in found if endpoint.subscribes_to(event_type)]


# Built once: every event of the webhooks consumer runs them (executed with parameters, so that
# SQLAlchemy does not rebuild and re-key a statement per event).
_SUBSCRIBED = (
    select(endpoints).where(endpoints.c.partner_id == bindparam("partner_id")).order_by(endpoints.c.created_at)
)
_REMEMBER = {
    True: postgresql.insert(order_refs).on_conflict_do_nothing(),
    False: sqlite.insert(order_refs).on_conflict_do_nothing(),
}


class SqlOrderRefRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(self, order_id: str, partner_id: str, partner_reference: str, at: datetime) -> None:
        row = {"order_id": order_id, "partner_id": partner_id, "partner_reference": partner_reference, "created_at": at}
        await self._session.execute(_REMEMBER[self._session.get_bind().dialect.name == "postgresql"], row)

    async def reference(self, order_id: str) -> str | None:
        found = await self._session.scalar(
            select(order_refs.c.partner_reference).where(order_refs.c.order_id == order_id)
        )
        return None if found is None else str(found)

    async def purge(self, before: datetime, limit: int) -> int:
        refs = order_refs.c
        oldest = select(refs.order_id).where(refs.created_at < before).limit(limit)
        result = await self._session.execute(delete(order_refs).where(refs.order_id.in_(oldest.scalar_subquery())))
        return int(result.rowcount)  # type: ignore[attr-defined]


# -- rows <-> domain ----------------------------------------------------------------------


#: The columns a change of the endpoint may move: not the fixed ones (an insert adds them), nor
#: ``changed`` (not stored); ``event_types`` is written apart (a list).
_CHANGING = tuple(
    f.name
    for f in fields(Endpoint)
    if f.name not in {"endpoint_id", "partner_id", "created_at", "changed", "event_types"}
)


def _values(endpoint: Endpoint) -> dict[str, Any]:
    """The changing columns; the event types as a comma-separated list of their values."""
    return row_values(endpoint, _CHANGING, event_types=",".join(sorted(t.value for t in endpoint.event_types)))


def _event_types(value: str) -> frozenset[EventType]:
    known = {t.value: t for t in EventType}
    return frozenset(known[part] for part in value.split(",") if part in known)


def _endpoint(row: Row[Any]) -> Endpoint:
    return from_row(Endpoint, row, event_types=_event_types(row.event_types))
