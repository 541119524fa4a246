"""SQL implementation of :class:`DeliveryRepository` and :class:`LogRepository`.

A repository that made deliveries due (new ones, resumed, replayed) calls ``on_commit`` once
its transaction commits: the dispatcher of the same process looks for them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, event, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from mes_platform.rows import from_row, row_values
from services.webhooks.adapters.tables import deliveries, delivery_log
from services.webhooks.domain.delivery import Delivery, DeliveryState
from services.webhooks.domain.log import LogEntry
from services.webhooks.service_layer.ports import Completion, DeliveryFilter

__all__ = ["SqlDeliveryRepository", "SqlLogRepository"]

_WAKE = "mes.webhooks.wake"
_PENDING = DeliveryState.PENDING.value
_D = deliveries.c


class SqlDeliveryRepository:
    def __init__(self, session: AsyncSession, on_commit: Callable[[], None] | None = None) -> None:
        self._session = session
        self._on_commit = on_commit

    def _due_after_commit(self) -> None:
        if self._on_commit is None or self._session.info.get(_WAKE):
            return
        self._session.info[_WAKE] = True
        callback = self._on_commit

        def committed(session: Session) -> None:
            session.info.pop(_WAKE, None)
            callback()

        event.listen(self._session.sync_session, "after_commit", committed, once=True)

    async def add_many(self, items: Sequence[Delivery]) -> int:
        if not items:
            return 0
        # One statement for any number of rows (executemany, cached once compiled).
        keys = [_D.endpoint_id, _D.event_id]
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(deliveries).on_conflict_do_nothing(index_elements=keys).returning(_D.seq)
        result = await self._session.execute(stmt, [_row(d) for d in items])
        added = len(result.all())
        if added and any(d.state is DeliveryState.PENDING for d in items):
            self._due_after_commit()
        return added

    async def get(self, delivery_id: str) -> Delivery | None:
        row = (await self._session.execute(select(deliveries).where(_D.delivery_id == delivery_id))).first()
        return _delivery(row) if row is not None else None

    async def find(self, where: DeliveryFilter, *, before: int | None, limit: int) -> list[Delivery]:
        query = select(deliveries).order_by(_D.seq.desc()).limit(limit)
        if where.endpoint_id is not None:
            query = query.where(_D.endpoint_id == where.endpoint_id)
        if where.partner_id is not None:
            query = query.where(_D.partner_id == where.partner_id)
        if where.states:
            query = query.where(_D.state.in_([s.value for s in where.states]))
        if before is not None:
            query = query.where(_D.seq < before)
        return [_delivery(row) for row in await self._session.execute(query)]

    async def due(self, *, now: datetime, limit: int, skip_endpoints: Collection[str]) -> list[Delivery]:
        earlier = deliveries.alias("earlier")
        blocked = exists().where(
            earlier.c.endpoint_id == _D.endpoint_id,
            earlier.c.order_id == _D.order_id,
            earlier.c.state == _PENDING,
            or_(
                earlier.c.order_version < _D.order_version,
                and_(earlier.c.order_version == _D.order_version, earlier.c.seq < _D.seq),
            ),
        )
        query = (
            select(deliveries)
            .where(
                _D.state == _PENDING,
                _D.next_attempt_at <= now,
                or_(_D.lease_until.is_(None), _D.lease_until < now),
                ~blocked,
            )
            .order_by(_D.next_attempt_at, _D.seq)
            .limit(limit)
        )
        if skip_endpoints:
            query = query.where(_D.endpoint_id.not_in(list(skip_endpoints)))
        return [_delivery(row) for row in await self._session.execute(query)]

    async def lease(self, seqs: Collection[int], *, owner: str, until: datetime, now: datetime) -> set[int]:
        if not seqs:
            return set()
        stmt = (
            update(deliveries)
            .where(
                _D.seq.in_(list(seqs)),
                _D.state == _PENDING,
                or_(_D.lease_until.is_(None), _D.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=until)
            .returning(_D.seq)
        )
        return {int(row[0]) for row in await self._session.execute(stmt)}

    async def complete(self, completions: Sequence[Completion], *, owner: str) -> None:
        delivered = [c for c in completions if c.state is DeliveryState.DELIVERED]
        tried = [c for c in completions if c.state is not DeliveryState.DELIVERED and c.attempted]
        untried = [c for c in completions if not c.attempted]
        common = {"lease_owner": None, "lease_until": None}
        if delivered:
            stmt = (
                update(deliveries)
                .where(_D.seq == bindparam("b_seq"), _D.state != DeliveryState.DELIVERED.value)
                .values(
                    state=DeliveryState.DELIVERED.value,
                    attempts=_D.attempts + 1,
                    last_attempt_at=bindparam("b_at"),
                    last_http_status=bindparam("b_status"),
                    last_error="",
                    delivered_at=bindparam("b_at"),
                    window_start=bindparam("b_window"),
                    next_attempt_at=None,
                    **common,
                )
            )
            await self._session.execute(stmt, [_params(c) for c in delivered])
        if tried:
            stmt = (
                update(deliveries)
                .where(_D.seq == bindparam("b_seq"), _D.state == _PENDING, _D.lease_owner == owner)
                .values(
                    state=bindparam("b_state"),
                    attempts=_D.attempts + 1,
                    last_attempt_at=bindparam("b_at"),
                    last_http_status=bindparam("b_status"),
                    last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"),
                    window_start=bindparam("b_window"),
                    **common,
                )
            )
            await self._session.execute(stmt, [_params(c) for c in tried])
        if untried:
            stmt = (
                update(deliveries)
                .where(_D.seq == bindparam("b_seq"), _D.state == _PENDING, _D.lease_owner == owner)
                .values(state=bindparam("b_state"), **common)
            )
            await self._session.execute(stmt, [{"b_seq": c.seq, "b_state": c.state.value} for c in untried])

    async def hold_pending(self, endpoint_id: str) -> int:
        result = await self._session.execute(
            update(deliveries)
            .where(_D.endpoint_id == endpoint_id, _D.state == _PENDING)
            .values(state=DeliveryState.HELD.value, lease_owner=None, lease_until=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def resume_held(self, endpoint_id: str, now: datetime) -> int:
        result = await self._session.execute(
            update(deliveries)
            .where(_D.endpoint_id == endpoint_id, _D.state == DeliveryState.HELD.value)
            .values(state=_PENDING, next_attempt_at=now, window_start=None)
        )
        resumed = int(result.rowcount)  # type: ignore[attr-defined]
        if resumed:
            self._due_after_commit()
        return resumed

    async def purge_delivered(self, before: datetime, limit: int) -> int:
        oldest = (
            select(_D.seq)
            .where(_D.state == DeliveryState.DELIVERED.value, _D.delivered_at < before)
            .order_by(_D.seq)
            .limit(limit)
        )
        result = await self._session.execute(delete(deliveries).where(_D.seq.in_(oldest.scalar_subquery())))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def replay_dead(self, endpoint_id: str, delivery_ids: Collection[str] | None, now: datetime) -> list[str]:
        query = (
            select(_D.delivery_id)
            .where(_D.endpoint_id == endpoint_id, _D.state == DeliveryState.DEAD.value)
            .order_by(_D.seq)
            .limit(1000)
        )
        if delivery_ids is not None:
            query = query.where(_D.delivery_id.in_(list(delivery_ids)))
        ids = [str(row[0]) for row in await self._session.execute(query)]
        if ids:
            await self._session.execute(
                update(deliveries)
                .where(_D.delivery_id.in_(ids), _D.state == DeliveryState.DEAD.value)
                .values(state=_PENDING, next_attempt_at=now, window_start=None, lease_owner=None, lease_until=None)
            )
            self._due_after_commit()
        return ids


class SqlLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, entries: Sequence[LogEntry]) -> None:
        if entries:
            await self._session.execute(delivery_log.insert(), [_log_row(e) for e in entries])

    async def find(self, endpoint_id: str, *, before: int | None, limit: int) -> list[LogEntry]:
        query = (
            select(delivery_log)
            .where(delivery_log.c.endpoint_id == endpoint_id)
            .order_by(delivery_log.c.seq.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(delivery_log.c.seq < before)
        return [_log_entry(row) for row in await self._session.execute(query)]

    async def purge(self, before: datetime, limit: int) -> int:
        log = delivery_log.c
        oldest = select(log.seq).where(log.logged_at < before).order_by(log.seq).limit(limit)
        result = await self._session.execute(delete(delivery_log).where(log.seq.in_(oldest.scalar_subquery())))
        return int(result.rowcount)  # type: ignore[attr-defined]


# -- rows <-> domain ----------------------------------------------------------------------


def _params(c: Completion) -> dict[str, Any]:
    return {
        "b_seq": c.seq,
        "b_state": c.state.value,
        "b_at": c.attempted_at,
        "b_status": c.http_status,
        "b_error": c.error[:500],
        "b_next": c.next_attempt_at,
        "b_window": c.window_start,
    }


#: A new delivery's columns: it has been neither tried nor delivered, and storage assigns ``seq``.
_INSERTED = tuple(f.name for f in fields(Delivery) if f.name not in {"last_attempt_at", "delivered_at", "seq"})
_LOGGED = tuple(f.name for f in fields(LogEntry) if f.name != "seq")


def _row(d: Delivery) -> dict[str, Any]:
    return row_values(d, _INSERTED)


def _delivery(row: Row[Any]) -> Delivery:
    return from_row(Delivery, row)


def _log_row(e: LogEntry) -> dict[str, Any]:
    return row_values(e, _LOGGED, event_type=e.event_type.value if e.event_type else "")


def _log_entry(row: Row[Any]) -> LogEntry:
    return from_row(LogEntry, row)
