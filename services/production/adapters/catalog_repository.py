"""Styles (with their routing versions), work centers and operators."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.sql import first_row
from services.production.adapters import tables as t
from services.production.adapters.rows import (
    bom_from_json,
    from_row,
    read_in_transaction,
    records_to_json,
    routing_from_json,
    to_values,
    update_versioned,
)
from services.production.domain.floor import WorkCenterState
from services.production.domain.resources import Operator, OperatorRole, WorkCenter
from services.production.domain.styles import Style, StyleCategory

__all__ = ["SqlOperatorRepository", "SqlStyleRepository", "SqlWorkCenterRepository"]

_OPERATOR_MUTABLE = ("display_name", "role", "active", "update_time")
#: ``session.info`` keys of what a transaction read of the catalogue (``read_in_transaction``).
_STYLES, _CENTERS = "production.styles_read", "production.centers_read"
#: Reads of every order's release (the saga's path), built once and bound per call.
_STYLES_BY_SKU = select(t.styles).where(t.styles.c.sku.in_(bindparam("skus", expanding=True)))
_CENTERS_OF_TYPES = (
    select(t.work_centers)
    .where(t.work_centers.c.work_center_type.in_(bindparam("types", expanding=True)))
    .order_by(t.work_centers.c.code)
)


def _center(row: Any) -> WorkCenter:
    return from_row(WorkCenter, row, state=WorkCenterState(row.state))


def _style(row: Any) -> Style:
    return from_row(
        Style,
        row,
        category=StyleCategory(row.category),
        routing=routing_from_json(row.routing),
        bill_of_materials=bom_from_json(row.bill_of_materials),
    )


class SqlStyleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, sku: str) -> Style | None:
        row = await first_row(self._s, t.styles, t.styles.c.sku == sku)
        return _style(row) if row else None

    async def get_many(self, skus: Collection[str]) -> dict[str, Style]:
        """Read once per transaction (see ``read_in_transaction``): do not change what it returns."""
        if not skus:
            return {}
        cache = read_in_transaction(self._s, _STYLES)
        missing = [sku for sku in skus if sku not in cache]
        if missing:
            for row in await self._s.execute(_STYLES_BY_SKU, {"skus": missing}):
                cache[row.sku] = _style(row)
        return {sku: cache[sku] for sku in skus if sku in cache}

    async def list_page(self, after: str | None, limit: int) -> list[Style]:
        query = select(t.styles).order_by(t.styles.c.sku).limit(limit)
        if after is not None:
            query = query.where(t.styles.c.sku > after)
        return [_style(row) for row in await self._s.execute(query)]

    async def add(self, style: Style) -> None:
        read_in_transaction(self._s, _STYLES).pop(style.sku, None)
        await self._s.execute(
            insert(t.styles).values(
                **self._values(style), sku=style.sku, version=style.version, created_at=style.create_time
            )
        )
        await self._add_version(style)

    async def update(self, style: Style, *, new_routing_version: bool) -> None:
        read_in_transaction(self._s, _STYLES).pop(style.sku, None)
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
                routing=records_to_json(style.routing),
                bill_of_materials=records_to_json(style.bill_of_materials),
                created_at=style.update_time,
            )
        )

    @staticmethod
    def _values(style: Style) -> dict[str, Any]:
        values = to_values(style, ("display_name", "category", "routing_version", "active", "update_time"))
        values["routing"] = records_to_json(style.routing)
        values["bill_of_materials"] = records_to_json(style.bill_of_materials)
        return values


class SqlWorkCenterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, code: str, *, for_update: bool = False) -> WorkCenter | None:
        row = await first_row(self._s, t.work_centers, t.work_centers.c.code == code, for_update=for_update)
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
        """Read once per transaction (see ``read_in_transaction``): do not change what it returns."""
        if not types:
            return []
        cache = read_in_transaction(self._s, _CENTERS)
        key = tuple(sorted(set(types)))
        if key not in cache:
            rows = await self._s.execute(_CENTERS_OF_TYPES, {"types": list(key)})
            cache[key] = [_center(row) for row in rows]
        return list(cache[key])

    async def add(self, center: WorkCenter) -> None:
        read_in_transaction(self._s, _CENTERS).clear()
        await self._s.execute(
            insert(t.work_centers).values(
                **self._values(center), code=center.code, version=center.version, created_at=center.create_time
            )
        )

    async def update(self, center: WorkCenter) -> None:
        read_in_transaction(self._s, _CENTERS).clear()
        center.version = await update_versioned(
            self._s, t.work_centers, [t.work_centers.c.code == center.code], center.version, self._values(center)
        )

    @staticmethod
    def _values(center: WorkCenter) -> dict[str, Any]:
        names = ("work_center_type", "display_name", "capacity", "active", "update_time")
        return to_values(center, (*names, "state", "state_reason", "state_time", "state_by"))


class SqlOperatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, code: str) -> Operator | None:
        row = await first_row(self._s, t.operators, t.operators.c.code == code)
        return from_row(Operator, row, role=OperatorRole(row.role)) if row else None

    async def list_page(self, after: str | None, limit: int) -> list[Operator]:
        query = select(t.operators).order_by(t.operators.c.code).limit(limit)
        if after is not None:
            query = query.where(t.operators.c.code > after)
        return [from_row(Operator, row, role=OperatorRole(row.role)) for row in await self._s.execute(query)]

    async def add(self, operator: Operator) -> None:
        await self._s.execute(
            insert(t.operators).values(**to_values(operator, ("code", "version", "create_time", *_OPERATOR_MUTABLE)))
        )

    async def update(self, operator: Operator) -> None:
        operator.version = await update_versioned(
            self._s,
            t.operators,
            [t.operators.c.code == operator.code],
            operator.version,
            to_values(operator, _OPERATOR_MUTABLE),
        )
