"""Reservations, waiting orders (with their shortages) and closed orders."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from services.inventory.adapters.keyset import iso, key_parts, keyset_after, page_of, parse_time
from services.inventory.adapters.tables import (
    closed_orders,
    reservation_items,
    reservations,
    waiting_orders,
    waiting_shortages,
)
from services.inventory.domain.allocation import Requirement, ShortageLine
from services.inventory.domain.materials import MaterialKind, Priority
from services.inventory.domain.reservations import ACTIVE_STATES, Reservation, ReservationItem, ReservationState
from services.inventory.domain.waiting import Shortage, WaitingOrder
from services.inventory.service_layer.ports import Key, Page

__all__ = ["SqlReservations", "SqlWaiting"]

_ACTIVE = sorted(s.value for s in ACTIVE_STATES)


def _item(row: Row[Any]) -> ReservationItem:
    return ReservationItem(
        lot_id=row.lot_id,
        kind=MaterialKind(row.kind),
        material_code=row.material_code,
        weight_mg=row.weight_mg,
        pieces=row.pieces,
        line_number=row.line_number,
    )


class SqlReservations:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, reservation: Reservation) -> None:
        await self._s.execute(
            insert(reservations).values(
                reservation_id=reservation.reservation_id,
                order_id=reservation.order_id,
                state=reservation.state.value,
                priority=int(reservation.priority),
                release_reason=reservation.release_reason,
                create_time=reservation.create_time,
                update_time=reservation.update_time,
                version=reservation.version,
            )
        )
        await self._s.execute(
            insert(reservation_items),
            [
                {
                    "reservation_id": reservation.reservation_id,
                    "position": position,
                    "lot_id": item.lot_id,
                    "kind": item.kind.value,
                    "material_code": item.material_code,
                    "weight_mg": item.weight_mg,
                    "pieces": item.pieces,
                    "line_number": item.line_number,
                }
                for position, item in enumerate(reservation.items)
            ],
        )

    async def _hydrate(self, rows: Sequence[Row[Any]]) -> list[Reservation]:
        if not rows:
            return []
        ids = [row.reservation_id for row in rows]
        items: dict[str, list[ReservationItem]] = {i: [] for i in ids}
        item_rows = await self._s.execute(
            select(reservation_items)
            .where(reservation_items.c.reservation_id.in_(ids))
            .order_by(reservation_items.c.reservation_id, reservation_items.c.position)
        )
        for item_row in item_rows:
            items[item_row.reservation_id].append(_item(item_row))
        return [
            Reservation(
                reservation_id=row.reservation_id,
                order_id=row.order_id,
                state=ReservationState(row.state),
                items=tuple(items[row.reservation_id]),
                priority=Priority(row.priority),
                create_time=as_utc(row.create_time),
                update_time=as_utc(row.update_time),
                version=row.version,
                release_reason=row.release_reason,
            )
            for row in rows
        ]

    async def _one(self, *where: Any) -> Reservation | None:
        stmt = (
            select(reservations)
            .where(*where)
            .order_by(reservations.c.create_time.desc(), reservations.c.reservation_id.desc())
        )
        found = await self._hydrate((await self._s.execute(stmt.limit(1))).all())
        return found[0] if found else None

    async def get(self, reservation_id: str) -> Reservation | None:
        return await self._one(reservations.c.reservation_id == reservation_id)

    async def get_many(self, reservation_ids: Collection[str]) -> dict[str, Reservation]:
        if not reservation_ids:
            return {}
        rows = (
            await self._s.execute(select(reservations).where(reservations.c.reservation_id.in_(list(reservation_ids))))
        ).all()
        return {r.reservation_id: r for r in await self._hydrate(rows)}

    async def active_for_order(self, order_id: str) -> Reservation | None:
        return await self._one(reservations.c.order_id == order_id, reservations.c.state.in_(_ACTIVE))

    async def latest_for_order(self, order_id: str) -> Reservation | None:
        return await self._one(reservations.c.order_id == order_id)

    async def update(self, reservation: Reservation, expected_version: int) -> bool:
        result = await self._s.execute(
            update(reservations)
            .where(
                reservations.c.reservation_id == reservation.reservation_id,
                reservations.c.version == expected_version,
            )
            .values(
                state=reservation.state.value,
                release_reason=reservation.release_reason,
                update_time=reservation.update_time,
                version=reservation.version,
            )
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def page(
        self, order_ids: Sequence[str], states: Sequence[ReservationState], after: Key | None, limit: int
    ) -> Page[Reservation]:
        c = reservations.c
        stmt = select(reservations).order_by(c.create_time, c.reservation_id).limit(limit + 1)
        if order_ids:
            stmt = stmt.where(c.order_id.in_(list(order_ids)))
        if states:
            stmt = stmt.where(c.state.in_([s.value for s in states]))
        if after is not None:
            time_s, reservation_id = key_parts(after, [str, str])
            stmt = stmt.where(
                keyset_after([(c.create_time, parse_time(time_s), False), (c.reservation_id, reservation_id, False)])
            )
        rows = (await self._s.execute(stmt)).all()
        hydrated = {r.reservation_id: r for r in await self._hydrate(rows)}
        return page_of(
            rows, limit, lambda r: hydrated[r.reservation_id], lambda r: [iso(r.create_time), r.reservation_id]
        )


def _requirements_json(requirements: Sequence[Requirement]) -> str:
    return json.dumps(
        [
            {
                "kind": r.kind.value,
                "material_code": r.material_code,
                "quantity": r.quantity,
                "line_number": r.line_number,
            }
            for r in requirements
        ],
        separators=(",", ":"),
    )


def _requirements(blob: str) -> tuple[Requirement, ...]:
    return tuple(
        Requirement(MaterialKind(d["kind"]), d["material_code"], int(d["quantity"]), int(d["line_number"]))
        for d in json.loads(blob)
    )


def _shortage(row: Row[Any]) -> Shortage:
    return Shortage(
        order_id=row.order_id,
        kind=MaterialKind(row.kind),
        material_code=row.material_code,
        required=row.required,
        available=row.available,
        priority=Priority(row.priority),
        since_time=as_utc(row.since_time),
    )


class SqlWaiting:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _load(self, rows: Sequence[Row[Any]]) -> list[WaitingOrder]:
        if not rows:
            return []
        ids = [row.order_id for row in rows]
        lines: dict[str, list[ShortageLine]] = {i: [] for i in ids}
        shortage_rows = await self._s.execute(
            select(waiting_shortages)
            .where(waiting_shortages.c.order_id.in_(ids))
            .order_by(waiting_shortages.c.order_id, waiting_shortages.c.kind, waiting_shortages.c.material_code)
        )
        for s in shortage_rows:
            lines[s.order_id].append(ShortageLine(MaterialKind(s.kind), s.material_code, s.required, s.available))
        return [
            WaitingOrder(
                order_id=row.order_id,
                priority=Priority(row.priority),
                submit_time=as_utc(row.submit_time),
                requirements=_requirements(row.requirements),
                shortages=tuple(lines[row.order_id]),
            )
            for row in rows
        ]

    async def get(self, order_id: str) -> WaitingOrder | None:
        rows = (await self._s.execute(select(waiting_orders).where(waiting_orders.c.order_id == order_id))).all()
        found = await self._load(rows)
        return found[0] if found else None

    async def save(self, waiting: WaitingOrder) -> None:
        values = {
            "priority": int(waiting.priority),
            "submit_time": waiting.submit_time,
            "requirements": _requirements_json(waiting.requirements),
            "updated_at": datetime.now(UTC),
        }
        await self._s.execute(delete(waiting_shortages).where(waiting_shortages.c.order_id == waiting.order_id))
        result = await self._s.execute(
            update(waiting_orders).where(waiting_orders.c.order_id == waiting.order_id).values(values)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            await self._s.execute(insert(waiting_orders).values(order_id=waiting.order_id, **values))
        lines = sorted(waiting.shortages, key=lambda s: (s.kind.value, s.material_code))
        if not lines:
            return
        await self._s.execute(
            insert(waiting_shortages),
            [
                {
                    "order_id": waiting.order_id,
                    "kind": s.kind.value,
                    "material_code": s.material_code,
                    "required": s.required,
                    "available": s.available,
                    "priority": int(waiting.priority),
                    "since_time": waiting.submit_time,
                }
                for s in lines
            ],
        )

    async def remove(self, order_id: str) -> bool:
        await self._s.execute(delete(waiting_shortages).where(waiting_shortages.c.order_id == order_id))
        result = await self._s.execute(delete(waiting_orders).where(waiting_orders.c.order_id == order_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def in_serve_order(self, limit: int) -> list[WaitingOrder]:
        c = waiting_orders.c
        stmt = select(waiting_orders).order_by(c.priority.desc(), c.submit_time, c.order_id).limit(limit)
        return await self._load((await self._s.execute(stmt)).all())

    async def shortages(self, after: Key | None, limit: int) -> Page[Shortage]:
        c = waiting_shortages.c
        stmt = (
            select(waiting_shortages)
            .order_by(c.priority.desc(), c.since_time, c.order_id, c.kind, c.material_code)
            .limit(limit + 1)
        )
        if after is not None:
            priority, time_s, order_id, kind, code = key_parts(after, [int, str, str, str, str])
            stmt = stmt.where(
                keyset_after(
                    [
                        (c.priority, priority, True),
                        (c.since_time, parse_time(time_s), False),
                        (c.order_id, order_id, False),
                        (c.kind, kind, False),
                        (c.material_code, code, False),
                    ]
                )
            )
        rows = (await self._s.execute(stmt)).all()
        return page_of(
            rows, limit, _shortage, lambda r: [r.priority, iso(r.since_time), r.order_id, r.kind, r.material_code]
        )

    async def closed_reason(self, order_id: str) -> str | None:
        row = (
            await self._s.execute(select(closed_orders.c.reason).where(closed_orders.c.order_id == order_id))
        ).first()
        return None if row is None else str(row.reason)

    async def close(self, order_id: str, reason: str, now: datetime) -> None:
        await self._s.execute(insert(closed_orders).values(order_id=order_id, reason=reason, closed_at=now))
