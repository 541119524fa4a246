"""The statements of the reservations' write path, built once (bound by name at each call).

Building a statement costs more than running it (clause construction, then its cache key):
the event consumers run these for every order, so they are module constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, Row, bindparam, case, exists, insert, select, update

from mes_kernel.clock import as_utc
from services.inventory.adapters.tables import closed_orders, reservation_items, reservations, waiting_orders
from services.inventory.domain.materials import MaterialKind, Priority
from services.inventory.domain.reservations import ACTIVE_STATES, Reservation, ReservationItem, ReservationState

__all__ = ["FOR_ORDER", "INSERT_ITEMS", "INSERT_RESERVATION", "STANDING", "UPDATE_STATE", "reservation_of"]

r, items_c = reservations.c, reservation_items.c
_ORDER: BindParameter[str] = bindparam("order_id")
#: An order's active reservation first, then the latest (the partial unique index allows one active).
_FIRST = (case((r.state.in_(sorted(s.value for s in ACTIVE_STATES)), 0), else_=1), r.create_time.desc())


def _first(column: Any) -> Any:
    return select(column).where(r.order_id == _ORDER).order_by(*_FIRST, r.reservation_id.desc()).limit(1)


#: One row: the order's reservation id and state (``_FIRST``), its closed reason, whether it waits.
STANDING = select(
    _first(r.reservation_id).scalar_subquery().label("reservation_id"),
    _first(r.state).scalar_subquery().label("state"),
    select(closed_orders.c.reason).where(closed_orders.c.order_id == _ORDER).scalar_subquery().label("closed"),
    exists().where(waiting_orders.c.order_id == _ORDER).label("waiting"),
)
#: The order's reservation (``_FIRST``) joined with its items, one row per item.
FOR_ORDER = (
    select(
        r.reservation_id,
        r.order_id,
        r.state,
        r.priority,
        r.release_reason,
        r.create_time,
        r.update_time,
        r.version,
        items_c.lot_id,
        items_c.kind,
        items_c.material_code,
        items_c.weight_mg,
        items_c.pieces,
        items_c.line_number,
    )
    .select_from(reservations.outerjoin(reservation_items, items_c.reservation_id == r.reservation_id))
    .where(r.reservation_id == _first(r.reservation_id).scalar_subquery())
    .order_by(items_c.position)
)
INSERT_RESERVATION = insert(reservations)
INSERT_ITEMS = insert(reservation_items)
#: A state change, on the version read (bind names differ from the columns': SET takes those).
UPDATE_STATE = (
    update(reservations)
    .where(r.reservation_id == bindparam("id"), r.version == bindparam("expected"))
    .values(
        state=bindparam("new_state"),
        release_reason=bindparam("new_reason"),
        update_time=bindparam("new_time"),
        version=bindparam("new_version"),
    )
)


def reservation_of(rows: Sequence[Row[*tuple[Any, ...]]]) -> Reservation | None:
    """The reservation of ``FOR_ORDER``'s rows."""
    if not rows:
        return None
    first = rows[0]
    items = tuple(
        ReservationItem(row.lot_id, MaterialKind(row.kind), row.material_code, row.weight_mg, row.pieces, line)
        for row in rows
        if (line := row.line_number) is not None
    )
    return Reservation(
        reservation_id=first.reservation_id,
        order_id=first.order_id,
        state=ReservationState(first.state),
        items=items,
        priority=Priority(first.priority),
        create_time=as_utc(first.create_time),
        update_time=as_utc(first.update_time),
        version=int(first.version),
        release_reason=first.release_reason,
    )
