"""Reservations, waiting orders (with their shortages) and closed orders."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import utcnow
from mes_platform.keyset import keyset_after
from mes_platform.rows import from_row, to_row
from mes_platform.sql import one_of
from services.inventory.adapters import reservation_statements as stmts
from services.inventory.adapters.stock_repos import changed
from services.inventory.adapters.tables import (
    closed_orders,
    reservation_items,
    reservations,
    waiting_orders,
    waiting_shortages,
)
from services.inventory.domain.allocation import Requirement, ShortageLine
from services.inventory.domain.reservations import ACTIVE_STATES, Reservation, ReservationItem, ReservationState
from services.inventory.domain.waiting import Shortage, WaitingOrder
from services.inventory.service_layer.ports import (
    OrderStanding,
    ReservationItemView,
    ReservationKey,
    ReservationView,
    ShortageKey,
    WaitingKey,
)

__all__ = ["SqlReservations", "SqlWaiting"]

_ACTIVE = sorted(s.value for s in ACTIVE_STATES)
r, items_c = reservations.c, reservation_items.c
#: The columns of the reads, in the order of the views' fields (a reservation's items apart).
_VIEW = tuple(r[name] for name in ReservationView._fields[:-1])
_ITEM_VIEW = (items_c.reservation_id, *(items_c[name] for name in ReservationItemView._fields))
_ITEM_ORDER = (items_c.reservation_id, items_c.position)


class SqlReservations:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, reservation: Reservation) -> None:
        await self._s.execute(stmts.INSERT_RESERVATION, to_row(reservation, reservations))
        await self._s.execute(
            stmts.INSERT_ITEMS,
            [
                to_row(item, reservation_items, reservation_id=reservation.reservation_id, position=position)
                for position, item in enumerate(reservation.items)
            ],
        )

    async def _hydrate(self, rows: Sequence[Row[Any]]) -> list[Reservation]:
        if not rows:
            return []
        items: dict[str, list[ReservationItem]] = {row.reservation_id: [] for row in rows}
        stmt = select(reservation_items).where(items_c.reservation_id.in_(list(items))).order_by(*_ITEM_ORDER)
        for item in await self._s.execute(stmt):
            items[item.reservation_id].append(from_row(ReservationItem, item))
        return [from_row(Reservation, row, items=tuple(items[row.reservation_id])) for row in rows]

    async def _one(self, *where: Any) -> Reservation | None:
        stmt = select(reservations).where(*where).order_by(r.create_time.desc(), r.reservation_id.desc())
        found = await self._hydrate((await self._s.execute(stmt.limit(1))).all())
        return found[0] if found else None

    async def get(self, reservation_id: str) -> Reservation | None:
        return await self._one(r.reservation_id == reservation_id)

    async def _views(self, stmt: Any) -> list[ReservationView]:
        """Views of the reservations ``stmt`` selects (``_VIEW``), their items in one more query."""
        rows = (await self._s.execute(stmt)).all()
        if not rows:
            return []
        items: dict[str, list[ReservationItemView]] = {row[0]: [] for row in rows}
        stmt = select(*_ITEM_VIEW).where(one_of(self._s, items_c.reservation_id, items)).order_by(*_ITEM_ORDER)
        for reservation_id, *item in await self._s.execute(stmt):
            items[reservation_id].append(ReservationItemView(*item))
        return [
            ReservationView(reservation_id, order_id, state, created, updated, version, items[reservation_id])
            for reservation_id, order_id, state, created, updated, version in rows
        ]

    async def get_many(self, reservation_ids: Collection[str]) -> dict[str, ReservationView]:
        if not reservation_ids:
            return {}
        found = await self._views(select(*_VIEW).where(one_of(self._s, r.reservation_id, reservation_ids)))
        return {view.reservation_id: view for view in found}

    async def active_for_order(self, order_id: str) -> Reservation | None:
        return await self._one(r.order_id == order_id, r.state.in_(_ACTIVE))

    async def latest_for_order(self, order_id: str) -> Reservation | None:
        return await self._one(r.order_id == order_id)

    async def for_order(self, order_id: str) -> Reservation | None:
        return stmts.reservation_of((await self._s.execute(stmts.FOR_ORDER, {"order_id": order_id})).all())

    async def standing(self, order_id: str) -> OrderStanding:
        row = (await self._s.execute(stmts.STANDING, {"order_id": order_id})).one()
        active = row.state is not None and ReservationState(row.state) in ACTIVE_STATES
        return OrderStanding(row.reservation_id, active, row.closed, bool(row.waiting))

    async def update(self, reservation: Reservation, expected_version: int) -> bool:
        values = {
            "id": reservation.reservation_id,
            "expected": expected_version,
            "new_state": reservation.state.value,
            "new_reason": reservation.release_reason,
            "new_time": reservation.update_time,
            "new_version": reservation.version,
        }
        return changed(await self._s.execute(stmts.UPDATE_STATE, values))

    async def find(
        self, order_ids: Sequence[str], states: Sequence[ReservationState], after: ReservationKey | None, limit: int
    ) -> list[ReservationView]:
        stmt = select(*_VIEW).order_by(r.create_time, r.reservation_id).limit(limit)
        if order_ids:
            stmt = stmt.where(one_of(self._s, r.order_id, order_ids))
        if states:
            stmt = stmt.where(r.state.in_([s.value for s in states]))
        if after is not None:
            stmt = stmt.where(keyset_after([(r.create_time, after[0], False), (r.reservation_id, after[1], False)]))
        return await self._views(stmt)


def _requirements_json(requirements: Sequence[Requirement]) -> str:
    """JSON list of {"kind", "material_code", "quantity", "line_number"}."""
    return json.dumps([asdict(req) for req in requirements], separators=(",", ":"))


def _requirements(blob: str) -> tuple[Requirement, ...]:
    return tuple(from_row(Requirement, d) for d in json.loads(blob))


w, short_c = waiting_orders.c, waiting_shortages.c
_DELETE_SHORTAGES = delete(waiting_shortages).where(short_c.order_id == bindparam("order_id"))
_DELETE_WAITING = delete(waiting_orders).where(w.order_id == bindparam("order_id"))


class SqlWaiting:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _load(self, rows: Sequence[Row[Any]]) -> list[WaitingOrder]:
        if not rows:
            return []
        lines: dict[str, list[ShortageLine]] = {row.order_id: [] for row in rows}
        stmt = (
            select(waiting_shortages)
            .where(short_c.order_id.in_(list(lines)))
            .order_by(short_c.order_id, short_c.kind, short_c.material_code)
        )
        for line in await self._s.execute(stmt):
            lines[line.order_id].append(from_row(ShortageLine, line))
        return [
            from_row(
                WaitingOrder,
                row,
                requirements=_requirements(row.requirements),
                shortages=tuple(lines[row.order_id]),
            )
            for row in rows
        ]

    async def get(self, order_id: str) -> WaitingOrder | None:
        found = await self._load((await self._s.execute(select(waiting_orders).where(w.order_id == order_id))).all())
        return found[0] if found else None

    async def save(self, waiting: WaitingOrder) -> None:
        values = to_row(
            waiting, waiting_orders, requirements=_requirements_json(waiting.requirements), updated_at=utcnow()
        )
        await self._s.execute(delete(waiting_shortages).where(short_c.order_id == waiting.order_id))
        result = await self._s.execute(update(waiting_orders).where(w.order_id == waiting.order_id).values(values))
        if not changed(result):
            await self._s.execute(insert(waiting_orders).values(values))
        lines = sorted(waiting.shortages, key=lambda line: (line.kind.value, line.material_code))
        if lines:
            await self._s.execute(
                insert(waiting_shortages),
                [
                    to_row(
                        line,
                        waiting_shortages,
                        order_id=waiting.order_id,
                        priority=waiting.priority,
                        since_time=waiting.submit_time,
                    )
                    for line in lines
                ],
            )

    async def remove(self, order_id: str) -> bool:
        await self._s.execute(_DELETE_SHORTAGES, {"order_id": order_id})
        return changed(await self._s.execute(_DELETE_WAITING, {"order_id": order_id}))

    async def in_serve_order(self, limit: int, after: WaitingKey | None = None) -> list[WaitingOrder]:
        stmt = select(waiting_orders).order_by(w.priority.desc(), w.submit_time, w.order_id).limit(limit)
        if after is not None:
            columns = (w.priority, w.submit_time, w.order_id)
            stmt = stmt.where(keyset_after(list(zip(columns, after, (True, False, False), strict=True))))
        return await self._load((await self._s.execute(stmt)).all())

    async def shortages(self, after: ShortageKey | None, limit: int) -> list[Shortage]:
        stmt = (
            select(waiting_shortages)
            .order_by(
                short_c.priority.desc(), short_c.since_time, short_c.order_id, short_c.kind, short_c.material_code
            )
            .limit(limit)
        )
        if after is not None:
            columns = (short_c.priority, short_c.since_time, short_c.order_id, short_c.kind, short_c.material_code)
            descending = (True, False, False, False, False)
            stmt = stmt.where(keyset_after(list(zip(columns, after, descending, strict=True))))
        return [from_row(Shortage, row) for row in await self._s.execute(stmt)]

    async def closed_reason(self, order_id: str) -> str | None:
        stmt = select(closed_orders.c.reason).where(closed_orders.c.order_id == order_id)
        reason = (await self._s.execute(stmt)).scalar()
        return None if reason is None else str(reason)

    async def close(self, order_id: str, reason: str, now: datetime) -> None:
        await self._s.execute(insert(closed_orders).values(order_id=order_id, reason=reason, closed_at=now))
