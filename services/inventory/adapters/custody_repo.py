"""The custody ledger table: insert and read only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.rows import from_row, to_row
from services.inventory.adapters.tables import custody_entries
from services.inventory.domain.custody import CustodyEntry, CustodyKind, order_holder
from services.inventory.domain.materials import MaterialKind
from services.inventory.service_layer.ports import CustodyFilter

__all__ = ["SqlCustody"]

c = custody_entries.c
_INSERT = insert(custody_entries)


def _amount(kind: MaterialKind) -> Any:
    return c.weight_mg if kind is MaterialKind.METAL else c.pieces


def _of_order(kind: CustodyKind, party: Any, order_id: str, material_code: str) -> tuple[Any, ...]:
    """The entries of ``kind`` for one material whose ``party`` column (holder or reference) is the order."""
    return (c.kind == kind.value, party == order_holder(order_id), c.material_code == material_code)


class SqlCustody:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, entry: CustodyEntry) -> None:
        await self.add_many([entry])

    async def add_many(self, entries: Sequence[CustodyEntry]) -> None:
        if entries:
            await self._s.execute(_INSERT, [to_row(entry, custody_entries) for entry in entries])

    async def get(self, entry_id: str) -> CustodyEntry | None:
        row = (await self._s.execute(select(custody_entries).where(c.entry_id == entry_id))).first()
        return from_row(CustodyEntry, row) if row else None

    async def batch(self, batch_id: str) -> list[CustodyEntry]:
        rows = await self._s.execute(select(custody_entries).where(c.batch_id == batch_id).order_by(c.seq))
        return [from_row(CustodyEntry, row) for row in rows]

    async def find(self, where: CustodyFilter, after: int | None, limit: int) -> list[tuple[int, CustodyEntry]]:
        stmt = select(custody_entries).order_by(c.seq.desc()).limit(limit)
        for column, value in (
            (c.holder, where.holder),
            (c.material_code, where.material_code),
            (c.reference, where.reference),
        ):
            if value:
                stmt = stmt.where(column == value)
        if after is not None:
            stmt = stmt.where(c.seq < after)
        return [(row.seq, from_row(CustodyEntry, row)) for row in await self._s.execute(stmt)]

    async def _by_lot(self, kind: MaterialKind, *where: Any) -> dict[str, int]:
        stmt = select(c.lot_id, func.sum(_amount(kind)).label("total")).where(*where).group_by(c.lot_id)
        return {row.lot_id: int(row.total) for row in await self._s.execute(stmt.order_by(c.lot_id)) if row.lot_id}

    async def issued_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]:
        return await self._by_lot(kind, *_of_order(CustodyKind.ISSUE, c.holder, order_id, material_code))

    async def returned_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]:
        return await self._by_lot(kind, *_of_order(CustodyKind.RETURN, c.reference, order_id, material_code))

    async def lost(self, order_id: str, kind: MaterialKind, material_code: str) -> int:
        total = await self._s.scalar(
            select(func.coalesce(func.sum(_amount(kind)), 0)).where(
                *_of_order(CustodyKind.LOSS, c.holder, order_id, material_code)
            )
        )
        return int(total or 0)
