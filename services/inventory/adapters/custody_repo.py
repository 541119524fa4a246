"""The custody ledger table: insert and read only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from services.inventory.adapters.keyset import key_parts, page_of
from services.inventory.adapters.tables import custody_entries
from services.inventory.domain.custody import CustodyEntry, CustodyKind, order_holder
from services.inventory.domain.materials import MaterialKind
from services.inventory.service_layer.ports import CustodyFilter, Key, Page

__all__ = ["SqlCustody"]

c = custody_entries.c


def _entry(row: Row[Any]) -> CustodyEntry:
    return CustodyEntry(
        entry_id=row.entry_id,
        kind=CustodyKind(row.kind),
        holder=row.holder,
        material_code=row.material_code,
        lot_id=row.lot_id,
        weight_mg=row.weight_mg,
        pieces=row.pieces,
        reference=row.reference,
        operator_code=row.operator_code,
        create_time=as_utc(row.create_time),
        batch_id=row.batch_id,
    )


def _amount(kind: MaterialKind) -> Any:
    return c.weight_mg if kind is MaterialKind.METAL else c.pieces


class SqlCustody:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, entry: CustodyEntry) -> None:
        await self._s.execute(
            insert(custody_entries).values(
                entry_id=entry.entry_id,
                kind=entry.kind.value,
                holder=entry.holder,
                material_code=entry.material_code,
                lot_id=entry.lot_id,
                weight_mg=entry.weight_mg,
                pieces=entry.pieces,
                reference=entry.reference,
                operator_code=entry.operator_code,
                create_time=entry.create_time,
                batch_id=entry.batch_id,
            )
        )

    async def get(self, entry_id: str) -> CustodyEntry | None:
        row = (await self._s.execute(select(custody_entries).where(c.entry_id == entry_id))).first()
        return _entry(row) if row else None

    async def batch(self, batch_id: str) -> list[CustodyEntry]:
        rows = await self._s.execute(select(custody_entries).where(c.batch_id == batch_id).order_by(c.seq))
        return [_entry(row) for row in rows]

    async def page(self, where: CustodyFilter, after: Key | None, limit: int) -> Page[CustodyEntry]:
        stmt = select(custody_entries).order_by(c.seq.desc()).limit(limit + 1)
        if where.holder:
            stmt = stmt.where(c.holder == where.holder)
        if where.material_code:
            stmt = stmt.where(c.material_code == where.material_code)
        if where.reference:
            stmt = stmt.where(c.reference == where.reference)
        if after is not None:
            (seq,) = key_parts(after, [int])
            stmt = stmt.where(c.seq < seq)
        rows = (await self._s.execute(stmt)).all()
        return page_of(rows, limit, _entry, lambda r: [r.seq])

    async def _by_lot(self, kind: MaterialKind, *where: Any) -> dict[str, int]:
        amount = _amount(kind)
        rows = await self._s.execute(
            select(c.lot_id, func.sum(amount).label("total")).where(*where).group_by(c.lot_id).order_by(c.lot_id)
        )
        return {row.lot_id: int(row.total) for row in rows if row.lot_id}

    async def issued_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]:
        return await self._by_lot(
            kind,
            c.kind == CustodyKind.ISSUE.value,
            c.holder == order_holder(order_id),
            c.material_code == material_code,
        )

    async def returned_by_lot(self, order_id: str, kind: MaterialKind, material_code: str) -> dict[str, int]:
        return await self._by_lot(
            kind,
            c.kind == CustodyKind.RETURN.value,
            c.reference == order_holder(order_id),
            c.material_code == material_code,
        )

    async def lost(self, order_id: str, kind: MaterialKind, material_code: str) -> int:
        total = await self._s.scalar(
            select(func.coalesce(func.sum(_amount(kind)), 0)).where(
                c.kind == CustodyKind.LOSS.value,
                c.holder == order_holder(order_id),
                c.material_code == material_code,
            )
        )
        return int(total or 0)
