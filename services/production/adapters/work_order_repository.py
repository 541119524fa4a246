"""Work orders and order specs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc, as_utc_or_none
from services.production.adapters import tables as t
from services.production.adapters.rows import (
    lines_from_json,
    lines_to_json,
    routing_from_json,
    routing_to_json,
    update_versioned,
)
from services.production.domain.order_specs import OrderSpec, OrderSpecStatus
from services.production.domain.work_orders import MetalBalance, WorkOrder, WorkOrderStatus

__all__ = ["SqlOrderSpecRepository", "SqlWorkOrderRepository"]

_wo = t.work_orders


def _work_order(row: Any) -> WorkOrder:
    return WorkOrder(
        id=row.id,
        order_id=row.order_id,
        line_number=row.line_number,
        style_sku=row.style_sku,
        alloy_code=row.alloy_code,
        size=row.size,
        engraving=row.engraving,
        quantity=row.quantity,
        priority=row.priority,
        routing_version=row.routing_version,
        routing_snapshot=routing_from_json(row.routing_snapshot),
        create_time=as_utc(row.created_at),
        update_time=as_utc(row.updated_at),
        status=WorkOrderStatus(row.status),
        metal=MetalBalance(row.issued_mg, row.finished_mg, row.loss_mg, row.scrap_returned_mg),
        version=row.version,
    )


def _mutable(wo: WorkOrder) -> dict[str, Any]:
    return {
        "status": str(wo.status),
        "issued_mg": wo.metal.issued_mg,
        "finished_mg": wo.metal.finished_mg,
        "loss_mg": wo.metal.loss_mg,
        "scrap_returned_mg": wo.metal.scrap_returned_mg,
        "updated_at": wo.update_time,
    }


class SqlWorkOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, work_order_id: str, *, for_update: bool = False) -> WorkOrder | None:
        query = select(_wo).where(_wo.c.id == work_order_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._s.execute(query)).first()
        return _work_order(row) if row else None

    async def get_many(self, ids: Collection[str]) -> dict[str, WorkOrder]:
        if not ids:
            return {}
        rows = await self._s.execute(select(_wo).where(_wo.c.id.in_(list(ids))))
        return {row.id: _work_order(row) for row in rows}

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
    ) -> list[WorkOrder]:
        """Oldest first; the work orders of one order in line order."""
        query = select(_wo).order_by(_wo.c.created_at, _wo.c.order_id, _wo.c.line_number).limit(limit)
        if order_ids:
            query = query.where(_wo.c.order_id.in_(list(order_ids)))
        if statuses:
            query = query.where(_wo.c.status.in_([str(s) for s in statuses]))
        if after is not None:
            created, order_id, line_number = after
            query = query.where(
                or_(
                    _wo.c.created_at > created,
                    and_(
                        _wo.c.created_at == created,
                        or_(
                            _wo.c.order_id > order_id,
                            and_(_wo.c.order_id == order_id, _wo.c.line_number > line_number),
                        ),
                    ),
                )
            )
        return [_work_order(row) for row in await self._s.execute(query)]

    async def add(self, work_order: WorkOrder) -> None:
        await self._s.execute(
            insert(_wo).values(
                id=work_order.id,
                order_id=work_order.order_id,
                line_number=work_order.line_number,
                style_sku=work_order.style_sku,
                alloy_code=work_order.alloy_code,
                size=work_order.size,
                engraving=work_order.engraving,
                quantity=work_order.quantity,
                priority=work_order.priority,
                routing_version=work_order.routing_version,
                routing_snapshot=routing_to_json(work_order.routing_snapshot),
                version=work_order.version,
                created_at=work_order.create_time,
                **_mutable(work_order),
            )
        )

    async def update(self, work_order: WorkOrder) -> None:
        """Status and metal only: everything else, the routing snapshot included, is immutable."""
        work_order.version = await update_versioned(
            self._s, _wo, [_wo.c.id == work_order.id], work_order.version, _mutable(work_order)
        )


def _spec(row: Any) -> OrderSpec:
    return OrderSpec(
        order_id=row.order_id,
        priority=row.priority,
        lines=lines_from_json(row.lines),
        submit_time=as_utc_or_none(row.submit_time),
        status=OrderSpecStatus(row.status),
        create_time=as_utc(row.created_at),
        update_time=as_utc(row.updated_at),
        version=row.version,
    )


class SqlOrderSpecRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, order_id: str, *, for_update: bool = False) -> OrderSpec | None:
        query = select(t.order_specs).where(t.order_specs.c.order_id == order_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._s.execute(query)).first()
        return _spec(row) if row else None

    async def add(self, spec: OrderSpec) -> None:
        await self._s.execute(
            insert(t.order_specs).values(
                order_id=spec.order_id,
                priority=spec.priority,
                lines=lines_to_json(spec.lines),
                submit_time=spec.submit_time,
                status=str(spec.status),
                version=spec.version,
                created_at=spec.create_time,
                updated_at=spec.update_time,
            )
        )

    async def update(self, spec: OrderSpec) -> None:
        """Only the status moves; the lines a spec was submitted with never change."""
        spec.version = await update_versioned(
            self._s,
            t.order_specs,
            [t.order_specs.c.order_id == spec.order_id],
            spec.version,
            {"status": str(spec.status), "updated_at": spec.update_time},
        )
