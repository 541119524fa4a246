"""Operations, their weighed attempts, and the loss and load views built on them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from mes_platform.keyset import keyset_after
from mes_platform.sql import first_row, one_of
from services.production.adapters import tables as t
from services.production.adapters.rows import from_row, read_in_transaction, to_values, update_versioned
from services.production.domain.operations import (
    AT_BENCH,
    OPERATION_FIXED,
    OPERATION_PROGRESS,
    AttemptRecord,
    Operation,
    OperationStatus,
)
from services.production.domain.views import BenchFigures, LossGrouping, LossSummary, queued_since
from services.production.service_layer.ports import OperationView

__all__ = ["SqlOperationRepository"]

_op = t.operations
_at = t.operation_attempts
_OPEN = [
    str(s)
    for s in (
        OperationStatus.PENDING,
        OperationStatus.QUEUED,
        OperationStatus.IN_PROGRESS,
        OperationStatus.PAUSED,
        OperationStatus.LOSS_REVIEW,
        OperationStatus.REWORK,
    )
]
_COUNTED = [
    str(s)
    for s in (OperationStatus.QUEUED, OperationStatus.IN_PROGRESS, OperationStatus.PAUSED, OperationStatus.LOSS_REVIEW)
]
_RUNNING = [str(OperationStatus.IN_PROGRESS)]
_AT_BENCH = [str(s) for s in AT_BENCH]
_ATTEMPT_KEY = ("work_order_id", "sequence", "attempt")
#: ``session.info`` key of the open loads a transaction counted (``read_in_transaction``).
_LOADS = "production.open_loads_read"
#: Statements of every order's release (the saga's path), built once and bound per call.
_INSERT = insert(_op)
_OPEN_LOAD = (
    select(_op.c.work_center, func.count())
    .where(_op.c.work_center.in_(bindparam("codes", expanding=True)), _op.c.status.in_(_OPEN))
    .group_by(_op.c.work_center)
)
#: The columns of a read, in the order of the fields of ``OperationView``.
_RECORD = tuple(_op.c.created_at if name == "create_time" else _op.c[name] for name in OperationView._fields)


def operation_from_row(row: Any) -> Operation:
    return from_row(Operation, row, status=OperationStatus(row.status))


def attempt_from_row(row: Any) -> AttemptRecord:
    return from_row(AttemptRecord, row, outcome=OperationStatus(row.outcome))


def attempt_values(attempt: AttemptRecord) -> dict[str, Any]:
    """Everything but the key (work order, sequence, attempt)."""
    names = [f for f in AttemptRecord.__dataclass_fields__ if f not in _ATTEMPT_KEY]
    return {**to_values(attempt, names), "reviewed": attempt.reviewed}


class SqlOperationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, work_order_id: str, sequence: int) -> Operation | None:
        row = await first_row(self._s, _op, _op.c.work_order_id == work_order_id, _op.c.sequence == sequence)
        return operation_from_row(row) if row else None

    async def get_many(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], OperationView]:
        """One query by work order (the primary key's prefix), the sequences picked from its rows."""
        if not keys:
            return {}
        wanted = set(keys)
        query = select(*_RECORD).where(
            one_of(self._s, _op.c.work_order_id, {work_order_id for work_order_id, _ in wanted})
        )
        views = (OperationView(*row) for row in await self._s.execute(query))
        return {key: view for view in views if (key := (view.work_order_id, view.sequence)) in wanted}

    async def _of_work_orders(self, table: Table, work_order_ids: Collection[str], *order_by: Any) -> list[Row[Any]]:
        """The rows of ``table`` of these work orders, by work order then ``order_by`` (no query
        for none)."""
        if not work_order_ids:
            return []
        query = (
            select(table)
            .where(table.c.work_order_id.in_(list(work_order_ids)))
            .order_by(table.c.work_order_id, *order_by)
        )
        return list(await self._s.execute(query))

    async def for_work_orders(self, work_order_ids: Collection[str]) -> list[Operation]:
        return [operation_from_row(row) for row in await self._of_work_orders(_op, work_order_ids, _op.c.sequence)]

    async def list_page(
        self,
        after: tuple[int, datetime, str, int] | None,
        limit: int,
        *,
        work_center: str | None,
        work_order_ids: Sequence[str],
        statuses: Sequence[OperationStatus],
    ) -> list[OperationView]:
        """Queue order: priority (highest first), create time, work order id, sequence."""
        query = (
            select(*_RECORD)
            .order_by(_op.c.priority.desc(), _op.c.created_at, _op.c.work_order_id, _op.c.sequence)
            .limit(limit)
        )
        if work_center is not None:
            query = query.where(_op.c.work_center == work_center)
        if work_order_ids:
            query = query.where(one_of(self._s, _op.c.work_order_id, work_order_ids))
        if statuses:
            query = query.where(_op.c.status.in_([str(s) for s in statuses]))
        if after is not None:
            priority, created, work_order_id, sequence = after
            query = query.where(
                keyset_after(
                    [
                        (_op.c.priority, priority, True),
                        (_op.c.created_at, created, False),
                        (_op.c.work_order_id, work_order_id, False),
                        (_op.c.sequence, sequence, False),
                    ]
                )
            )
        return [OperationView(*row) for row in await self._s.execute(query)]

    async def add_all(self, operations: Sequence[Operation]) -> None:
        if not operations:
            return
        loads = read_in_transaction(self._s, _LOADS)
        for op in operations:
            if op.work_center in loads and str(op.status) in _OPEN:
                loads[op.work_center] += 1
        rows = [to_values(op, (*OPERATION_FIXED, *OPERATION_PROGRESS)) for op in operations]
        await self._s.execute(_INSERT, rows)

    async def update(self, operation: Operation) -> None:
        read_in_transaction(self._s, _LOADS).clear()
        operation.version = await update_versioned(
            self._s,
            _op,
            [_op.c.work_order_id == operation.work_order_id, _op.c.sequence == operation.sequence],
            operation.version,
            to_values(operation, OPERATION_PROGRESS),
        )

    async def open_load(self, codes: Collection[str]) -> dict[str, int]:
        """Counted once per transaction (see ``read_in_transaction``), then kept up to date
        with the operations the transaction adds."""
        if not codes:
            return {}
        loads = read_in_transaction(self._s, _LOADS)
        missing = [code for code in codes if code not in loads]
        if missing:
            found = {code: int(n) for code, n in await self._s.execute(_OPEN_LOAD, {"codes": missing})}
            loads.update((code, found.get(code, 0)) for code in missing)
        return {code: loads[code] for code in codes if loads[code]}

    async def count_in_progress(self, work_center: str, *, with_paused: bool = False) -> int:
        statuses = _AT_BENCH if with_paused else _RUNNING
        query = select(func.count()).where(_op.c.work_center == work_center, _op.c.status.in_(statuses))
        return int((await self._s.execute(query)).scalar_one())

    async def adopt_unassigned(self, work_center_type: str, work_center: str, now: datetime) -> int:
        """Assign open operations that have no work center (none of their type existed)."""
        read_in_transaction(self._s, _LOADS).clear()
        result = await self._s.execute(
            update(_op)
            .where(_op.c.work_center == "", _op.c.work_center_type == work_center_type, _op.c.status.in_(_OPEN))
            .values(work_center=work_center, version=_op.c.version + 1, updated_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def save_attempt(self, attempt: AttemptRecord) -> None:
        values = attempt_values(attempt)
        key = (
            _at.c.work_order_id == attempt.work_order_id,
            _at.c.sequence == attempt.sequence,
            _at.c.attempt == attempt.attempt,
        )
        exists = (await self._s.execute(select(_at.c.attempt).where(*key))).first()
        if exists:
            await self._s.execute(update(_at).where(*key).values(**values))
        else:
            await self._s.execute(
                insert(_at).values(
                    work_order_id=attempt.work_order_id, sequence=attempt.sequence, attempt=attempt.attempt, **values
                )
            )

    async def attempts(self, work_order_ids: Collection[str]) -> list[AttemptRecord]:
        rows = await self._of_work_orders(_at, work_order_ids, _at.c.sequence, _at.c.attempt)
        return [attempt_from_row(row) for row in rows]

    async def loss_summary(self, grouping: LossGrouping, since: datetime | None) -> list[LossSummary]:
        key = _at.c.operation_code if grouping is LossGrouping.OPERATION_CODE else _at.c.finished_by
        query = (
            select(
                key.label("key"),
                func.count().label("operations"),
                func.coalesce(func.sum(_at.c.weigh_in_mg), 0).label("weigh_in"),
                func.coalesce(func.sum(_at.c.loss_mg), 0).label("loss"),
                func.coalesce(func.sum(case((_at.c.reviewed, 1), else_=0)), 0).label("reviews"),
            )
            .group_by(key)
            .order_by(key)
        )
        if since is not None:
            query = query.where(_at.c.finish_time >= since)
        return [
            LossSummary(str(row.key), int(row.operations), int(row.weigh_in), int(row.loss), int(row.reviews))
            for row in await self._s.execute(query)
        ]

    async def center_counts(self, codes: Collection[str], done_since: datetime) -> dict[str, dict[str, int]]:
        """Per center: QUEUED, IN_PROGRESS, PAUSED, LOSS_REVIEW counts and DONE_IN_WINDOW."""
        if not codes:
            return {}
        counts: dict[str, dict[str, int]] = {}
        by_status = (
            select(_op.c.work_center, _op.c.status, func.count())
            .where(_op.c.work_center.in_(list(codes)), _op.c.status.in_(_COUNTED))
            .group_by(_op.c.work_center, _op.c.status)
        )
        for code, status, n in await self._s.execute(by_status):
            counts.setdefault(code, {})[status] = int(n)
        done = (
            select(_op.c.work_center, func.count())
            .where(
                _op.c.work_center.in_(list(codes)),
                _op.c.status == str(OperationStatus.DONE),
                _op.c.finish_time >= done_since,
            )
            .group_by(_op.c.work_center)
        )
        for code, n in await self._s.execute(done):
            counts.setdefault(code, {})["DONE_IN_WINDOW"] = int(n)
        return counts

    async def bench_figures(self, codes: Collection[str]) -> dict[str, BenchFigures]:
        if not codes:
            return {}
        # Two index ranges per center (ix_operations_queue), joined to their work orders by key; the
        # earlier steps' last finish by the operations' key: rows in the hundreds, not the history.
        wo = t.work_orders
        earlier = _op.alias("earlier")
        last_finish = (
            select(func.max(earlier.c.finish_time))
            .where(earlier.c.work_order_id == _op.c.work_order_id, earlier.c.sequence < _op.c.sequence)
            .scalar_subquery()
        )
        queued = (
            select(_op.c.work_center, wo.c.created_at, _op.c.finish_time, last_finish)
            .join(wo, wo.c.id == _op.c.work_order_id)
            .where(_op.c.work_center.in_(list(codes)), _op.c.status == str(OperationStatus.QUEUED))
        )
        oldest: dict[str, datetime] = {}
        for code, created, own, before in await self._s.execute(queued):
            at = queued_since(as_utc(created), *(as_utc(v) if v is not None else None for v in (before, own)))
            if code not in oldest or at < oldest[code]:
                oldest[code] = at
        at_bench = (
            select(_op.c.work_center, _op.c.alloy_code, func.sum(wo.c.quantity), func.sum(_op.c.weigh_in_mg))
            .join(wo, wo.c.id == _op.c.work_order_id)
            .where(_op.c.work_center.in_(list(codes)), _op.c.status.in_(_AT_BENCH))
            .group_by(_op.c.work_center, _op.c.alloy_code)
        )
        bench: dict[str, list[tuple[str, int, int]]] = {}
        for code, alloy, pieces, gross in await self._s.execute(at_bench):
            bench.setdefault(code, []).append((alloy, int(pieces or 0), int(gross or 0)))
        return {code: BenchFigures.of(oldest.get(code), bench.get(code, ())) for code in {*oldest, *bench}}
