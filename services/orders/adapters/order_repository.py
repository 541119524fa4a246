"""SQL implementation of :class:`OrderRepository` (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from mes_kernel.errors import Conflict
from mes_platform.keyset import keyset_after
from mes_platform.outbox import defer_insert
from mes_platform.rows import from_row, row_values, to_row
from mes_platform.sql import first_row, one_of
from services.orders.adapters.tables import order_lines, order_status_changes, orders
from services.orders.adapters.tables import order_terminal_counts as _closed
from services.orders.domain.order import Order, OrderLine, Priority, StatusChange
from services.orders.domain.status import TERMINAL, OrderStatus
from services.orders.service_layer.ports import LineView, OrderFilter, OrderView

__all__ = ["SqlOrderRepository"]

_OPEN = [s.value for s in OrderStatus if s not in TERMINAL]
_PRIORITY = {p.name: int(p) for p in Priority}
#: The columns of the reads, in the order of the views' fields (an order's lines apart).
_VIEW = (
    *(orders.c[name] for name in OrderView._fields[:8]),
    orders.c.created_at,
    orders.c.updated_at,
)
_LINE_VIEW = (order_lines.c.order_id, *(order_lines.c[name] for name in LineView._fields))
_LINE_ORDER = (order_lines.c.order_id, order_lines.c.line_number)


#: The statements of a status change (the saga changes every order a few times), built once.
_LOCK = (
    select(
        orders,
        *(order_lines.c[name] for name in ("line_number", "style_code", "alloy_code", "quantity", "size", "engraving")),
    )
    .select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.order_id))
    .where(orders.c.order_id == bindparam("order_id"))
    .order_by(order_lines.c.line_number)
    .with_for_update(of=orders)
)
_SAVE = (
    update(orders)
    .where(orders.c.order_id == bindparam("id"), orders.c.version == bindparam("expected"))
    .values(
        {
            name: bindparam(f"new_{name}")
            for name in ("status", "status_reason", "tracking_reference", "version", "updated_at")
        }
    )
)


def _late(now: datetime) -> ColumnElement[bool]:
    return and_(orders.c.status.in_(_OPEN), orders.c.due_time < now)


class SqlOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, order_id: str, *, partner_id: str | None, for_update: bool = False) -> Order | None:
        row = await first_row(
            self._session, orders, orders.c.order_id == order_id, *_scope(partner_id), for_update=for_update
        )
        return None if row is None else (await self._with_lines([row]))[0]

    async def get_many(self, order_ids: Collection[str], *, partner_id: str | None) -> dict[str, OrderView]:
        if not order_ids:
            return {}
        query = select(*_VIEW).where(one_of(self._session, orders.c.order_id, set(order_ids)), *_scope(partner_id))
        return {view.order_id: view for view in await self._views(query)}

    async def add(self, order: Order) -> None:
        fixed = {
            "order_id": order.order_id,
            "partner_id": order.partner_id,
            "partner_reference": order.partner_reference,
            "priority": order.priority.name,
            "due_time": order.due_time,
            "created_at": order.create_time,
        }
        await self._session.execute(insert(orders).values(**fixed, **_order_values(order)))
        lines = [to_row(line, order_lines, order_id=order.order_id) for line in order.lines]
        await self._session.execute(insert(order_lines), lines)
        await self._flush_changes(order)

    async def lock(self, order_id: str) -> Order | None:
        rows = (await self._session.execute(_LOCK, {"order_id": order_id})).all()
        if not rows:
            return None
        lines = [
            OrderLine(r.line_number, r.style_code, r.alloy_code, r.quantity, r.size, r.engraving)
            for r in rows
            if r.line_number is not None
        ]
        return _order(rows[0], lines)

    async def save(self, order: Order, *, expected_version: int) -> None:
        values = {f"new_{name}": value for name, value in _order_values(order).items()}
        result = await self._session.execute(_SAVE, {"id": order.order_id, "expected": expected_version, **values})
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"order {order.order_id} was changed concurrently; retry")
        await self._flush_changes(order)

    async def _flush_changes(self, order: Order) -> None:
        """The history records go in with the transaction's commit (one statement for all of them)."""
        for change in order.changes:
            defer_insert(self._session, order_status_changes, _change_values(change))
        order.changes.clear()

    async def find(
        self, where: OrderFilter, *, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[OrderView]:
        query = select(*_VIEW).where(*_scope(where.partner_id))
        if where.statuses:
            query = query.where(orders.c.status.in_([s.value for s in where.statuses]))
        if where.late_only:
            query = query.where(_late(now))
        if after is not None:
            query = query.where(
                keyset_after([(orders.c.created_at, after[0], True), (orders.c.order_id, after[1], True)])
            )
        query = query.order_by(orders.c.created_at.desc(), orders.c.order_id.desc()).limit(limit)
        return await self._views(query)

    async def count(self, partner_id: str | None, *, now: datetime) -> tuple[dict[OrderStatus, int], int]:
        """The open orders counted (late ones with them, in one pass over the status index),
        the closed ones read from ``order_terminal_counts``."""
        open_orders = (
            select(orders.c.status, func.count(), func.count().filter(orders.c.due_time < now))
            .where(*_scope(partner_id), orders.c.status.in_(_OPEN))
            .group_by(orders.c.status)
        )
        counts: dict[OrderStatus, int] = {}
        late = 0
        for status, n, overdue in await self._session.execute(open_orders):
            counts[OrderStatus(status)] = int(n)
            late += int(overdue)
        closed = _closed.c
        closed_orders = select(closed.status, func.sum(closed.order_count)).group_by(closed.status)
        if partner_id is not None:
            closed_orders = closed_orders.where(closed.partner_id == partner_id)
        for status, n in await self._session.execute(closed_orders):
            if n:
                counts[OrderStatus(status)] = int(n)
        return counts, late

    async def status_changes(self, order_id: str, *, after_version: int, limit: int) -> list[StatusChange]:
        t = order_status_changes
        rows = await self._session.execute(
            select(t).where(t.c.order_id == order_id, t.c.version > after_version).order_by(t.c.version).limit(limit)
        )
        return [_change(row) for row in rows]

    async def _views(self, query: Any) -> list[OrderView]:
        """Views of the orders ``query`` selects (``_VIEW``), the lines of all of them in one more query."""
        rows = (await self._session.execute(query)).all()
        if not rows:
            return []
        lines: dict[str, list[LineView]] = {row[0]: [] for row in rows}
        line_query = (
            select(*_LINE_VIEW).where(one_of(self._session, order_lines.c.order_id, lines)).order_by(*_LINE_ORDER)
        )
        for order_id, *line in await self._session.execute(line_query):
            lines[order_id].append(LineView(*line))
        return [
            OrderView(
                order_id,
                partner,
                reference,
                _PRIORITY[priority],
                due,
                status,
                reason,
                version,
                created,
                updated,
                lines[order_id],
            )
            for order_id, partner, reference, priority, due, status, reason, version, created, updated in rows
        ]

    async def _with_lines(self, rows: Sequence[Row[Any]]) -> list[Order]:
        """Orders from rows, with their lines loaded in one query."""
        if not rows:
            return []
        ids = [row.order_id for row in rows]
        line_rows = await self._session.execute(
            select(order_lines)
            .where(order_lines.c.order_id.in_(ids))
            .order_by(order_lines.c.order_id, order_lines.c.line_number)
        )
        lines: dict[str, list[OrderLine]] = {order_id: [] for order_id in ids}
        for line in line_rows:
            lines[line.order_id].append(
                OrderLine(line.line_number, line.style_code, line.alloy_code, line.quantity, line.size, line.engraving)
            )
        return [_order(row, lines[row.order_id]) for row in rows]


def _scope(partner_id: str | None) -> list[ColumnElement[bool]]:
    return [] if partner_id is None else [orders.c.partner_id == partner_id]


# -- rows <-> domain ----------------------------------------------------------------------


def _order_values(order: Order) -> dict[str, Any]:
    """The columns a change of the order may move (an insert adds the fixed ones)."""
    return row_values(order, ("status", "status_reason", "tracking_reference", "version"), updated_at=order.update_time)


def _order(row: Row[Any], lines: list[OrderLine]) -> Order:
    return Order(
        order_id=row.order_id,
        partner_id=row.partner_id,
        partner_reference=row.partner_reference,
        priority=Priority[row.priority],
        due_time=as_utc(row.due_time),
        lines=lines,
        status=OrderStatus(row.status),
        create_time=as_utc(row.created_at),
        update_time=as_utc(row.updated_at),
        status_reason=row.status_reason,
        version=row.version,
        tracking_reference=row.tracking_reference,
    )


def _change_values(change: StatusChange) -> dict[str, Any]:
    return to_row(change, order_status_changes, changed_at=change.change_time)


def _change(row: Row[Any]) -> StatusChange:
    return from_row(StatusChange, row, change_time=as_utc(row.changed_at))
