"""SQL implementation of :class:`CatalogueRepository` (the read-only catalogue copy)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import utcnow
from mes_platform.keyset import keyset_after
from mes_platform.rows import to_row
from services.orders.adapters.tables import catalogue_items
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind

__all__ = ["SqlCatalogueRepository"]

_t = catalogue_items
_UPDATED = ("display_name", "active", "source_version", "updated_at")


class SqlCatalogueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active_codes(self, kind: CatalogueKind, codes: Collection[str]) -> set[str]:
        if not codes:
            return set()
        rows = await self._session.scalars(
            select(_t.c.code).where(_t.c.kind == kind.name, _t.c.code.in_(set(codes)), _t.c.active.is_(True))
        )
        return set(rows)

    async def get(self, kind: CatalogueKind, code: str) -> CatalogueItem | None:
        row = (await self._session.execute(select(_t).where(_t.c.kind == kind.name, _t.c.code == code))).first()
        return None if row is None else _item(row)

    async def upsert_if_newer(self, item: CatalogueItem) -> bool:
        """Insert, or replace a copy with a lower source version, in one statement (race-free)."""
        postgres = self._session.get_bind().dialect.name == "postgresql"
        statement = (postgresql.insert if postgres else sqlite.insert)(_t).values(**_item_values(item))
        statement = statement.on_conflict_do_update(
            index_elements=[_t.c.kind, _t.c.code],
            set_={column: statement.excluded[column] for column in _UPDATED},
            where=_t.c.source_version < statement.excluded.source_version,
        )
        result = await self._session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def find(
        self, kind: CatalogueKind | None, *, after: tuple[str, str] | None, limit: int
    ) -> list[CatalogueItem]:
        """Ordered by (kind name, code), strictly after ``after``."""
        query = select(_t).order_by(_t.c.kind, _t.c.code).limit(limit)
        if kind is not None:
            query = query.where(_t.c.kind == kind.name)
        if after is not None:
            query = query.where(keyset_after([(_t.c.kind, after[0], False), (_t.c.code, after[1], False)]))
        return [_item(row) for row in (await self._session.execute(query)).all()]


def _item_values(item: CatalogueItem) -> dict[str, Any]:
    """The item's columns; its kind by name."""
    return to_row(item, _t, kind=item.kind.name, updated_at=utcnow())


def _item(row: Row[Any]) -> CatalogueItem:
    return CatalogueItem(CatalogueKind[row.kind], row.code, row.display_name, row.active, row.source_version)
