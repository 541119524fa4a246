"""Styles (with their routing versions), work centers and operators."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from services.production.adapters import tables as t
from services.production.adapters.rows import (
    bom_from_json,
    bom_to_json,
    routing_from_json,
    routing_to_json,
    update_versioned,
)
from services.production.domain.resources import Operator, OperatorRole, WorkCenter
from services.production.domain.styles import Style, StyleCategory

__all__ = ["SqlOperatorRepository", "SqlStyleRepository", "SqlWorkCenterRepository"]


def _style(row: Any) -> Style:
    return Style(
        sku=row.sku,
        display_name=row.display_name,
        category=StyleCategory(row.category),
        routing_version=row.routing_version,
        routing=routing_from_json(row.routing),
        bill_of_materials=bom_from_json(row.bill_of_materials),
        active=row.active,
        create_time=as_utc(row.created_at),
        update_time=as_utc(row.updated_at),
        version=row.version,
    )


class SqlStyleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, sku: str) -> Style | None:
        row = (await self._s.execute(select(t.styles).where(t.styles.c.sku == sku))).first()
        return _style(row) if row else None

    async def get_many(self, skus: Collection[str]) -> dict[str, Style]:
        if not skus:
            return {}
        rows = await self._s.execute(select(t.styles).where(t.styles.c.sku.in_(list(skus))))
        return {row.sku: _style(row) for row in rows}

    async def list_page(self, after: str | None, limit: int) -> list[Style]:
        query = select(t.styles).order_by(t.styles.c.sku).limit(limit)
        if after is not None:
            query = query.where(t.styles.c.sku > after)
        return [_style(row) for row in await self._s.execute(query)]

    async def add(self, style: Style) -> None:
        await self._s.execute(
            insert(t.styles).values(
                **self._values(style), sku=style.sku, version=style.version, created_at=style.create_time
            )
        )
        await self._add_version(style)

    async def update(self, style: Style, *, new_routing_version: bool) -> None:
        style.version = await update_versioned(
            self._s, t.styles, [t.styles.c.sku == style.sku], style.version, self._values(style)
        )
        if new_routing_version:
            await self._add_version(style)

    async def _add_version(self, style: Style) -> None:
        await self._s.execute(
            insert(t.style_versions).values(
                sku=style.sku,
                routing_version=style.routing_version,
                routing=routing_to_json(style.routing),
                bill_of_materials=bom_to_json(style.bill_of_materials),
                created_at=style.update_time,
            )
        )

    @staticmethod
    def _values(style: Style) -> dict[str, Any]:
        return {
            "display_name": style.display_name,
            "category": str(style.category),
            "routing_version": style.routing_version,
            "routing": routing_to_json(style.routing),
            "bill_of_materials": bom_to_json(style.bill_of_materials),
            "active": style.active,
            "updated_at": style.update_time,
        }


def _center(row: Any) -> WorkCenter:
    return WorkCenter(
        code=row.code,
        work_center_type=row.work_center_type,
        display_name=row.display_name,
        capacity=row.capacity,
        active=row.active,
        create_time=as_utc(row.created_at),
        update_time=as_utc(row.updated_at),
        version=row.version,
    )


class SqlWorkCenterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, code: str, *, for_update: bool = False) -> WorkCenter | None:
        query = select(t.work_centers).where(t.work_centers.c.code == code)
        if for_update:
            query = query.with_for_update()
        row = (await self._s.execute(query)).first()
        return _center(row) if row else None

    async def get_many(self, codes: Collection[str]) -> dict[str, WorkCenter]:
        if not codes:
            return {}
        rows = await self._s.execute(select(t.work_centers).where(t.work_centers.c.code.in_(list(codes))))
        return {row.code: _center(row) for row in rows}

    async def list_page(self, after: str | None, limit: int) -> list[WorkCenter]:
        query = select(t.work_centers).order_by(t.work_centers.c.code).limit(limit)
        if after is not None:
            query = query.where(t.work_centers.c.code > after)
        return [_center(row) for row in await self._s.execute(query)]

    async def of_types(self, types: Collection[str]) -> list[WorkCenter]:
        if not types:
            return []
        query = (
            select(t.work_centers)
            .where(t.work_centers.c.work_center_type.in_(list(types)))
            .order_by(t.work_centers.c.code)
        )
        return [_center(row) for row in await self._s.execute(query)]

    async def add(self, center: WorkCenter) -> None:
        await self._s.execute(
            insert(t.work_centers).values(
                **self._values(center), code=center.code, version=center.version, created_at=center.create_time
            )
        )

    async def update(self, center: WorkCenter) -> None:
        center.version = await update_versioned(
            self._s, t.work_centers, [t.work_centers.c.code == center.code], center.version, self._values(center)
        )

    @staticmethod
    def _values(center: WorkCenter) -> dict[str, Any]:
        return {
            "work_center_type": center.work_center_type,
            "display_name": center.display_name,
            "capacity": center.capacity,
            "active": center.active,
            "updated_at": center.update_time,
        }


def _operator(row: Any) -> Operator:
    return Operator(
        code=row.code,
        display_name=row.display_name,
        role=OperatorRole(row.role),
        active=row.active,
        create_time=as_utc(row.created_at),
        update_time=as_utc(row.updated_at),
        version=row.version,
    )


class SqlOperatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, code: str) -> Operator | None:
        row = (await self._s.execute(select(t.operators).where(t.operators.c.code == code))).first()
        return _operator(row) if row else None

    async def list_page(self, after: str | None, limit: int) -> list[Operator]:
        query = select(t.operators).order_by(t.operators.c.code).limit(limit)
        if after is not None:
            query = query.where(t.operators.c.code > after)
        return [_operator(row) for row in await self._s.execute(query)]

    async def add(self, operator: Operator) -> None:
        await self._s.execute(
            insert(t.operators).values(
                code=operator.code,
                display_name=operator.display_name,
                role=str(operator.role),
                active=operator.active,
                version=operator.version,
                created_at=operator.create_time,
                updated_at=operator.update_time,
            )
        )

    async def update(self, operator: Operator) -> None:
        operator.version = await update_versioned(
            self._s,
            t.operators,
            [t.operators.c.code == operator.code],
            operator.version,
            {
                "display_name": operator.display_name,
                "role": str(operator.role),
                "active": operator.active,
                "updated_at": operator.update_time,
            },
        )
