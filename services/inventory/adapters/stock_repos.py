"""Alloys, lots and balances on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, func, insert, literal, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.keyset import keyset_after
from mes_platform.rows import from_row, to_row
from services.inventory.adapters.tables import alloys, lots
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.lots import LotSnapshot, MaterialLot
from services.inventory.domain.materials import MaterialKey, MaterialKind
from services.inventory.service_layer.ports import BalanceKey, LotKey

__all__ = ["SqlAlloys", "SqlBalances", "SqlLots", "changed"]


def changed(result: Any) -> bool:
    """True when a conditional UPDATE or DELETE hit exactly one row."""
    return bool(result.rowcount == 1)


class SqlAlloys:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, code: str) -> Alloy | None:
        return (await self.get_many([code])).get(code)

    async def get_many(self, codes: Collection[str]) -> dict[str, Alloy]:
        if not codes:
            return {}
        rows = await self._s.execute(select(alloys).where(alloys.c.code.in_(list(codes))))
        return {row.code: from_row(Alloy, row) for row in rows}

    async def add(self, alloy: Alloy) -> None:
        await self._s.execute(insert(alloys).values(to_row(alloy, alloys)))

    async def update(self, alloy: Alloy, expected_version: int) -> bool:
        stmt = update(alloys).where(alloys.c.code == alloy.code, alloys.c.version == expected_version)
        return changed(await self._s.execute(stmt.values(to_row(alloy, alloys))))

    async def find(self, after: str | None, limit: int) -> list[Alloy]:
        stmt = select(alloys).order_by(alloys.c.code).limit(limit)
        if after is not None:
            stmt = stmt.where(alloys.c.code > after)
        return [from_row(Alloy, row) for row in await self._s.execute(stmt)]


def _counters(kind: MaterialKind) -> tuple[Any, Any]:
    if kind is MaterialKind.METAL:
        return lots.c.on_hand_mg, lots.c.reserved_mg
    return lots.c.on_hand_pieces, lots.c.reserved_pieces


_QTY: BindParameter[int] = bindparam("qty")


def _lot_changes() -> dict[tuple[str, MaterialKind], Any]:
    """The conditional updates of a lot's counters, per (change, kind), built once: the lot and
    quantity are bound at each call (``lot``, ``qty``)."""
    built: dict[tuple[str, MaterialKind], Any] = {}
    for kind in MaterialKind:
        on_hand, reserved = _counters(kind)
        changes: dict[str, tuple[Any, dict[Any, Any]]] = {
            "reserve": (on_hand - reserved >= _QTY, {reserved: reserved + _QTY}),
            "unreserve": (reserved >= _QTY, {reserved: reserved - _QTY}),
            "issue": (reserved >= _QTY, {on_hand: on_hand - _QTY, reserved: reserved - _QTY}),
            "put_back": (None, {on_hand: on_hand + _QTY}),
        }
        for name, (condition, values) in changes.items():
            where = [lots.c.lot_id == bindparam("lot"), lots.c.kind == kind.value]
            if condition is not None:
                where.append(condition)
            built[(name, kind)] = update(lots).where(*where).values({**values, lots.c.version: lots.c.version + 1})
    return built


_LOT_CHANGES = _lot_changes()
_HAS_FREE = or_(
    and_(lots.c.kind == MaterialKind.METAL.value, lots.c.on_hand_mg > lots.c.reserved_mg),
    and_(lots.c.kind == MaterialKind.STONE.value, lots.c.on_hand_pieces > lots.c.reserved_pieces),
)
#: Lots of the given material codes with something free.
_FREE = select(lots).where(lots.c.material_code.in_(bindparam("codes", expanding=True)), _HAS_FREE)
_ANY_FREE = select(lots.c.lot_id).where(_HAS_FREE).limit(1)
#: The same, locked in one stable order so that concurrent reservations cannot deadlock.
_FREE_LOCKED = _FREE.order_by(lots.c.lot_id).with_for_update()


class SqlLots:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, lot: MaterialLot) -> None:
        await self._s.execute(insert(lots).values(to_row(lot, lots)))

    async def get(self, lot_id: str) -> MaterialLot | None:
        row = (await self._s.execute(select(lots).where(lots.c.lot_id == lot_id))).first()
        return from_row(MaterialLot, row) if row else None

    async def find(self, material_code: str, after: LotKey | None, limit: int) -> list[MaterialLot]:
        stmt = select(lots).order_by(lots.c.receive_time, lots.c.lot_id).limit(limit)
        if material_code:
            stmt = stmt.where(lots.c.material_code == material_code)
        if after is not None:
            stmt = stmt.where(keyset_after([(lots.c.receive_time, after[0], False), (lots.c.lot_id, after[1], False)]))
        return [from_row(MaterialLot, row) for row in await self._s.execute(stmt)]

    async def free_lots(self, keys: Collection[MaterialKey], *, lock: bool) -> list[LotSnapshot]:
        if not keys:
            return []
        stmt = _FREE_LOCKED if lock else _FREE
        rows = await self._s.execute(stmt, {"codes": sorted({code for _kind, code in keys})})
        found = [from_row(MaterialLot, row) for row in rows]
        wanted = set(keys)
        return [lot.snapshot() for lot in found if lot.key in wanted]

    async def any_free(self) -> bool:
        return (await self._s.execute(_ANY_FREE)).first() is not None

    async def _change(self, change: str, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        stmt = _LOT_CHANGES[(change, kind)]
        return changed(await self._s.execute(stmt, {"lot": lot_id, "qty": quantity}))

    async def reserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return await self._change("reserve", lot_id, kind, quantity)

    async def unreserve(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return await self._change("unreserve", lot_id, kind, quantity)

    async def issue(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return await self._change("issue", lot_id, kind, quantity)

    async def put_back(self, lot_id: str, kind: MaterialKind, quantity: int) -> bool:
        return await self._change("put_back", lot_id, kind, quantity)


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
        found: dict[str, Balance] = {}
        for balance in await self._sums(sorted(codes)):
            if balance.material_code not in found or balance.kind is MaterialKind.METAL:
                found[balance.material_code] = balance
        return found

    async def find(self, kind: MaterialKind | None, after: BalanceKey | None, limit: int) -> list[Balance]:
        keys = union(
            select(lots.c.material_code.label("code"), lots.c.kind.label("kind")),
            select(alloys.c.code.label("code"), literal(MaterialKind.METAL.value).label("kind")),
        ).subquery()
        stmt = select(keys.c.code, keys.c.kind).order_by(keys.c.code, keys.c.kind).limit(limit)
        if kind is not None:
            stmt = stmt.where(keys.c.kind == kind.value)
        if after is not None:
            stmt = stmt.where(keyset_after([(keys.c.code, after[0], False), (keys.c.kind, after[1], False)]))
        key_rows = (await self._s.execute(stmt)).all()
        sums = {(b.material_code, b.kind): b for b in await self._sums(sorted({r.code for r in key_rows}))}
        return [sums[(r.code, MaterialKind(r.kind))] for r in key_rows]

    async def _sums(self, codes: list[str]) -> list[Balance]:
        """Per (material, kind) with lots, summed; an alloy without lots: zero metal balances."""
        if not codes:
            return []
        rows = await self._s.execute(
            select(lots.c.material_code, lots.c.kind, *_SUMS)
            .where(lots.c.material_code.in_(codes))
            .group_by(lots.c.material_code, lots.c.kind)
            .order_by(lots.c.material_code, lots.c.kind)
        )
        fineness = dict(
            (await self._s.execute(select(alloys.c.code, alloys.c.fineness).where(alloys.c.code.in_(codes)))).all()
        )
        found = {(row.material_code, MaterialKind(row.kind)): row for row in rows}
        balances = [
            from_row(Balance, row, fineness=fineness.get(code, 0) if kind is MaterialKind.METAL else 0)
            for (code, kind), row in found.items()
        ]
        balances += [
            Balance(code, MaterialKind.METAL, fineness=f)
            for code, f in fineness.items()
            if (code, MaterialKind.METAL) not in found
        ]
        return sorted(balances, key=lambda b: (b.material_code, b.kind.value if b.kind else ""))
