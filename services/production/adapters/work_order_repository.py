"""Work orders and order specs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert, null, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.errors import Conflict
from mes_platform.keyset import keyset_after
from mes_platform.sql import first_row, one_of
from services.production.adapters import tables as t
from services.production.adapters.rows import (
    from_row,
    lines_from_json,
    records_to_json,
    routing_from_json,
    to_values,
    update_versioned,
)
from services.production.domain.order_specs import OrderSpec, OrderSpecStatus
from services.production.domain.work_orders import MetalBalance, WorkOrder, WorkOrderStatus
from services.production.service_layer.ports import WorkOrderView

__all__ = ["SqlOrderSpecRepository", "SqlWorkOrderRepository"]

_wo = t.work_orders
_SPEC_COLUMNS = ("order_id", "priority", "submit_time", "status", "version", "create_time", "update_time")
_WORK_ORDER_FIXED = (
    "id",
    "order_id",
    "line_number",
    "style_sku",
    "alloy_code",
    "size",
    "engraving",
    "quantity",
    "priority",
    "routing_version",
    "version",
    "create_time",
)


def _read_columns(with_routing: bool) -> tuple[ColumnElement[Any], ...]:
    """The columns of ``WorkOrderView`` in its order; the routing snapshot (JSON, the costly
    part) only when asked for."""
    columns: dict[str, ColumnElement[Any]] = {c.name: c for c in _wo.c}
    columns.update(create_time=_wo.c.created_at, update_time=_wo.c.updated_at)
    if not with_routing:
        columns["routing_snapshot"] = null().label("routing_snapshot")
    return tuple(columns[name] for name in WorkOrderView._fields)


_READ = {True: _read_columns(True), False: _read_columns(False)}


def _work_order(row: Any) -> WorkOrder:
    return from_row(
        WorkOrder,
        row,
        routing_snapshot=routing_from_json(row.routing_snapshot),
        status=WorkOrderStatus(row.status),
        metal=MetalBalance(row.issued_mg, row.finished_mg, row.loss_mg, row.scrap_returned_mg),
    )


def _mutable(wo: WorkOrder) -> dict[str, Any]:
    return {**to_values(wo, ("status", "update_time")), **asdict(wo.metal)}


class SqlWorkOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, work_order_id: str, *, for_update: bool = False) -> WorkOrder | None:
        row = await first_row(self._s, _wo, _wo.c.id == work_order_id, for_update=for_update)
        return _work_order(row) if row else None

    async def get_many(self, ids: Collection[str], *, with_routing: bool = True) -> dict[str, WorkOrderView]:
        if not ids:
            return {}
        rows = await self._s.execute(select(*_READ[with_routing]).where(one_of(self._s, _wo.c.id, ids)))
        return {view.id: view for view in (WorkOrderView(*row) for row in rows)}

    async def for_order(self, order_id: str, *, for_update: bool = False) -> list[WorkOrder]:
        query = select(_wo).where(_wo.c.order_id == order_id).order_by(_wo.c.line_number)
        if for_update:
            query = query.with_for_update()
        return [_work_order(row) for row in await self._s.execute(query)]

    async def list_page(
        self,
        after: tuple[datetime, str, int] | None,
        limit: int,
        *,
        order_ids: Sequence[str],
        statuses: Sequence[WorkOrderStatus],
        with_routing: bool = True,
    ) -> list[WorkOrderView]:
        """Oldest first; the work orders of one order in line order."""
        query = select(*_READ[with_routing]).order_by(_wo.c.created_at, _wo.c.order_id, _wo.c.line_number).limit(limit)
        if order_ids:
            query = query.where(one_of(self._s, _wo.c.order_id, order_ids))
        if statuses:
            query = query.where(_wo.c.status.in_([str(s) for s in statuses]))
        if after is not None:
            created, order_id, line_number = after
            query = query.where(
                keyset_after(
                    [
                        (_wo.c.created_at, created, False),
                        (_wo.c.order_id, order_id, False),
                        (_wo.c.line_number, line_number, False),
                    ]
                )
            )
        return [WorkOrderView(*row) for row in await self._s.execute(query)]

    async def add(self, work_order: WorkOrder) -> None:
        await self.add_all([work_order])

    async def add_all(self, work_orders: Sequence[WorkOrder]) -> None:
        if work_orders:
            await self._s.execute(_INSERT_WORK_ORDER, [_insert_values(wo) for wo in work_orders])

    async def update(self, work_order: WorkOrder) -> None:
        """Status and metal only: everything else, the routing snapshot included, is immutable."""
        work_order.version = await update_versioned(
            self._s, _wo, [_wo.c.id == work_order.id], work_order.version, _mutable(work_order)
        )


def _spec(row: Any) -> OrderSpec:
    return from_row(OrderSpec, row, lines=lines_from_json(row.lines), status=OrderSpecStatus(row.status))


_spec_c = t.order_specs.c
#: The statements of the saga's path (run for every order), built once and bound per call.
_GET_SPEC = select(t.order_specs).where(_spec_c.order_id == bindparam("order_id"))
_LOCK_SPEC = _GET_SPEC.with_for_update()
_INSERT_SPEC = insert(t.order_specs)
_UPDATE_SPEC = (
    update(t.order_specs)
    .where(_spec_c.order_id == bindparam("id"), _spec_c.version == bindparam("expected"))
    .values(status=bindparam("new_status"), updated_at=bindparam("new_time"), version=bindparam("new_version"))
)
_INSERT_WORK_ORDER = insert(_wo)


def _insert_values(work_order: WorkOrder) -> dict[str, Any]:
    return {
        **to_values(work_order, _WORK_ORDER_FIXED),
        "routing_snapshot": records_to_json(work_order.routing_snapshot),
        **_mutable(work_order),
    }


class SqlOrderSpecRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, order_id: str, *, for_update: bool = False) -> OrderSpec | None:
        query = _LOCK_SPEC if for_update else _GET_SPEC
        row = (await self._s.execute(query, {"order_id": order_id})).first()
        return _spec(row) if row else None

    async def add(self, spec: OrderSpec) -> None:
        values = to_values(spec, _SPEC_COLUMNS)
        await self._s.execute(_INSERT_SPEC, {**values, "lines": records_to_json(spec.lines)})

    async def update(self, spec: OrderSpec) -> None:
        """Only the status moves; the lines a spec was submitted with never change. A spec
        changed meanwhile: ABORTED (VERSION_CONFLICT), retried by the unit of work."""
        values = {
            "id": spec.order_id,
            "expected": spec.version,
            "new_status": str(spec.status),
            "new_time": spec.update_time,
            "new_version": spec.version + 1,
        }
        result = await self._s.execute(_UPDATE_SPEC, values)
        if not isinstance(result, CursorResult) or result.rowcount != 1:
            raise Conflict("order_specs row changed concurrently; retry")
        spec.version += 1
