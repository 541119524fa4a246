"""What the read use cases return: views with the fields of the API's reservations.

The SQL adapters select exactly the columns of a view (a named tuple per row: no domain object,
no per-column attribute lookup in SQLAlchemy's rows), and the codec writes views straight into
the reply. A domain reservation becomes a view for the replies and events of writes (and in the
in-memory fakes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from services.inventory.domain.reservations import Reservation

__all__ = ["ReservationItemView", "ReservationView", "reservation_view"]


class ReservationItemView(NamedTuple):
    lot_id: str
    kind: str
    material_code: str
    weight_mg: int
    pieces: int
    line_number: int


class ReservationView(NamedTuple):
    """A reservation as the reads return it (state and kinds by name, its items last)."""

    reservation_id: str
    order_id: str
    state: str
    create_time: datetime
    update_time: datetime
    version: int
    items: Sequence[ReservationItemView]


def reservation_view(value: Reservation) -> ReservationView:
    """The reservation's fields by name, its items as views."""
    items = [
        ReservationItemView(*(getattr(item, name) for name in ReservationItemView._fields)) for item in value.items
    ]
    return ReservationView._make([*(getattr(value, name) for name in ReservationView._fields[:-1]), items])
