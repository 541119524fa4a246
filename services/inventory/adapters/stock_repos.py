"""Alloys, lots and balances on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, and_, func, insert, literal, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from services.inventory.adapters.keyset import iso, key_parts, keyset_after, page_of, parse_time
from services.inventory.adapters.tables import alloys, lots
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.lots import LotSnapshot, MaterialLot
from services.inventory.domain.materials import MaterialKey, MaterialKind, Metal
from services.inventory.service_layer.ports import Key, Page

__all__ = ["SqlAlloys", "SqlBalances", "SqlLots"]


def _alloy(row: Row[Any]) -> Alloy:
    return Alloy(
        code=row.code,
        metal=Metal(row.metal),
        fineness=row.fineness,
        colour=row.colour,
        density_mg_per_cm3=row.density_mg_per_cm3,
        display_name=row.display_name,
        active=bool(row.active),
        version=row.version,
        create_time=as_utc(row.create_time),
        update_time=as_utc(row.update_time),
    )


def _alloy_values(alloy: Alloy) -> dict[str, Any]:
    return {
        "code": alloy.code,
        "metal": alloy.metal.value,
        "fineness": alloy.fineness,
        "colour": alloy.colour,
        "density_mg_per_cm3": alloy.density_mg_per_cm3,
        "display_name": alloy.display_name,
        "active": alloy.active,
        "version": alloy.version,
        "create_time": alloy.create_time,
        "update_time": alloy.update_time,
    }


class SqlAlloys:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, code: str) -> Alloy | None:
        row = (await self._s.execute(select(alloys).where(alloys.c.code == code))).first()
        return _alloy(row) if row else None

    async def get_many(self, codes: Collection[str]) -> dict[str, Alloy]:
        if not codes:
            return {}
        rows = (await self._s.execute(select(alloys).where(alloys.c.code.in_(list(codes))))).all()
        return {row.code: _alloy(row) for row in rows}

    async def add(self, alloy: Alloy) -> None:
        await self._s.execute(insert(alloys).values(_alloy_values(alloy)))

    async def update(self, alloy: Alloy, expected_version: int) -> bool:
        result = await self._s.execute(
            update(alloys)
            .where(alloys.c.code == alloy.code, alloys.c.version == expected_version)
            .values(_alloy_values(alloy))
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def page(self, after: Key | None, limit: int) -> Page[Alloy]:
        stmt = select(alloys).order_by(alloys.c.code).limit(limit + 1)
        if after is not None:
            (code,) = key_parts(after, [str])
            stmt = stmt.where(alloys.c.code > code)
        rows = (await self._s.execute(stmt)).all()
        return page_of(rows, limit, _alloy, lambda r: [r.code])


def _lot(row: Row[Any]) -> MaterialLot:
    return MaterialLot(
        lot_id=row.lot_id,
        kind=MaterialKind(row.kind),
        material_code=row.material_code,
        received_mg=row.received_mg,
        on_hand_mg=row.on_hand_mg,
        reserved_mg=row.reserved_mg,
        received_pieces=row.received_pieces,
        on_hand_pieces=row.on_hand_pieces,
        reserved_pieces=row.reserved_pieces,
        weight_points=row.weight_points,
        supplier_reference=row.supplier_reference,
        receive_time=as_utc(row.receive_time),
        version=row.version,
    )


def _counters(kind: MaterialKind) -> tuple[Any, Any]:
    if kind is MaterialKind.METAL:
        return lots.c.on_hand_mg, lots.c.reserved_mg
    return lots.c.on_hand_pieces, lots.c.reserved_pieces


class SqlLots:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, lot: MaterialLot) -> None:
        values = {column.name: getattr(lot, column.name) for column in lots.c}
        values["kind"] = lot.kind.value
        await self._s.execute(insert(lots).values(values))

    async def get(self, lot_id: str) -> MaterialLot | None:
        row = (await self._s.execute(select(lots).where(lots.c.lot_id == lot_id))).first()
        return _lot(row) if row else None

    async def get_many(self, lot_ids: Collection[str]) -> dict[str, MaterialLot]:
        if not lot_ids:
            return {}
        rows = (await self._s.execute(select(lots).where(lots.c.lot_id.in_(list(lot_ids))))).all()
        return {row.lot_id: _lot(row) for row in rows}

    async def page(self, material_code: str, after: Key | None, limit: int) -> Page[MaterialLot]:
        stmt = select(lots).order_by(lots.c.receive_time, lots.c.lot_id).limit(limit + 1)
        if material_code:
            stmt = stmt.where(lots.c.material_code == material_code)
        if after is not None:
            time_s, lot_id = key_parts(after, [str, str])
            stmt = stmt.where(
                keyset_after([(lots.c.receive_time, parse_time(time_s), False), (lots.c.lot_id, lot_id, False)])
            )
        rows = (await self._s.execute(stmt)).all()
        return page_of(rows, limit, _lot, lambda r: [iso(r.receive_time), r.lot_id])

    async def free_lots(self, keys: Collection[MaterialKey], *, lock: bool) -> list[LotSnapshot]:
        if not keys:
            return []
        stmt = select(lots).where(
            lots.c.material_code.in_(sorted({code for _kind, code in keys})),
            or_(
                and_(lots.c.kind == MaterialKind.METAL.value, lots.c.on_hand_mg > lots.c.reserved_mg),
                and_(lots.c.kind == MaterialKind.STONE.value, lots.c.on_hand_pieces > lots.c.reserved_pieces),
            ),
        )
        if lock:  # lock in one stable order so that concurrent reservations cannot deadlock
            stmt = stmt.order_by(lots.c.lot_id).with_for_update()
        rows = (await self._s.execute(stmt)).all()
        wanted = set(keys)
        return [lot.snapshot() for lot in map(_lot, rows) if lot.key in wanted]

    async def _change(self, lot_id: str, kind: MaterialKind, condition: Any | None, values: dict[Any, Any]) -> bool:
        values[lots.c.version] = lots.c.version + 1
        where = [lots.c.lot_id == lot_id, lots.c.kind == kind.value]
        if condition is not None:
            where.append(condition)
        stmt = update(lots).where(*where).values(values)
        result = await self._s.execute(stmt)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def reserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        on_hand, reserved = _counters(kind)
        return await self._change(lot_id, kind, on_hand - reserved >= quantity, {reserved: reserved + quantity})

    async def unreserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        _on_hand, reserved = _counters(kind)
        return await self._change(lot_id, kind, reserved >= quantity, {reserved: reserved - quantity})

    async def issue(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        on_hand, reserved = _counters(kind)
        return await self._change(
            lot_id, kind, reserved >= quantity, {on_hand: on_hand - quantity, reserved: reserved - quantity}
        )

    async def put_back(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        on_hand, _reserved = _counters(kind)
        return await self._change(lot_id, kind, None, {on_hand: on_hand + quantity})


_SUMS = (
    func.coalesce(func.sum(lots.c.on_hand_mg), 0).label("on_hand_mg"),
    func.coalesce(func.sum(lots.c.reserved_mg), 0).label("reserved_mg"),
    func.coalesce(func.sum(lots.c.on_hand_pieces), 0).label("on_hand_pieces"),
    func.coalesce(func.sum(lots.c.reserved_pieces), 0).label("reserved_pieces"),
)


class SqlBalances:
    """Balances summed over lots on read (no hot balance row to contend on)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def balances(self, codes: Collection[str]) -> dict[str, Balance]:
        if not codes:
            return {}
        wanted = sorted(codes)
        sums = (
            await self._s.execute(
                select(lots.c.material_code, lots.c.kind, *_SUMS)
                .where(lots.c.material_code.in_(wanted))
                .group_by(lots.c.material_code, lots.c.kind)
                .order_by(lots.c.material_code, lots.c.kind)
            )
        ).all()
        fineness = await self._fineness(wanted)
        found: dict[str, Balance] = {
            code: Balance(code, MaterialKind.METAL, fineness=f) for code, f in fineness.items()
        }
        for row in sums:
            if row.material_code not in found or row.kind == MaterialKind.METAL.value:
                found[row.material_code] = self._balance(row, fineness)
        return found

    async def page(self, kind: MaterialKind | None, after: Key | None, limit: int) -> Page[Balance]:
        keys = union(
            select(lots.c.material_code.label("code"), lots.c.kind.label("kind")),
            select(alloys.c.code.label("code"), literal(MaterialKind.METAL.value).label("kind")),
        ).subquery()
        stmt = select(keys.c.code, keys.c.kind).order_by(keys.c.code, keys.c.kind).limit(limit + 1)
        if kind is not None:
            stmt = stmt.where(keys.c.kind == kind.value)
        if after is not None:
            code, kind_s = key_parts(after, [str, str])
            stmt = stmt.where(keyset_after([(keys.c.code, code, False), (keys.c.kind, kind_s, False)]))
        key_rows = (await self._s.execute(stmt)).all()
        codes = sorted({r.code for r in key_rows})
        sums = (
            {
                (row.material_code, row.kind): row
                for row in (
                    await self._s.execute(
                        select(lots.c.material_code, lots.c.kind, *_SUMS)
                        .where(lots.c.material_code.in_(codes))
                        .group_by(lots.c.material_code, lots.c.kind)
                    )
                ).all()
            }
            if codes
            else {}
        )
        fineness = await self._fineness(codes)

        def convert(r: Any) -> Balance:
            row = sums.get((r.code, r.kind))
            if row is None:
                return Balance(r.code, MaterialKind(r.kind), fineness=fineness.get(r.code, 0))
            return self._balance(row, fineness)

        return page_of(key_rows, limit, convert, lambda r: [r.code, r.kind])

    async def _fineness(self, codes: Collection[str]) -> dict[str, int]:
        if not codes:
            return {}
        rows = (
            await self._s.execute(select(alloys.c.code, alloys.c.fineness).where(alloys.c.code.in_(list(codes))))
        ).all()
        return {row.code: row.fineness for row in rows}

    @staticmethod
    def _balance(row: Any, fineness: dict[str, int]) -> Balance:
        kind = MaterialKind(row.kind)
        return Balance(
            material_code=row.material_code,
            kind=kind,
            on_hand_mg=int(row.on_hand_mg),
            reserved_mg=int(row.reserved_mg),
            on_hand_pieces=int(row.on_hand_pieces),
            reserved_pieces=int(row.reserved_pieces),
            fineness=fineness.get(row.material_code, 0) if kind is MaterialKind.METAL else 0,
        )
