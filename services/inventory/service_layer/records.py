"""What the read use cases return: records with the fields of the API's resources.

The SQL adapters select exactly the columns of a view (a named tuple per row: no domain object,
no per-column attribute lookup in SQLAlchemy's rows), and the codec writes them straight into
the reply. A domain :class:`~services.inventory.domain.reservations.Reservation` is a
:class:`ReservationRecord` as it is (replies of writes, the in-memory fakes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

__all__ = ["ReservationItemRecord", "ReservationItemView", "ReservationRecord", "ReservationView"]


class ReservationItemRecord(Protocol):
    @property
    def lot_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def material_code(self) -> str: ...
    @property
    def weight_mg(self) -> int: ...
    @property
    def pieces(self) -> int: ...
    @property
    def line_number(self) -> int: ...


class ReservationRecord(Protocol):
    """A reservation as the reads return it (state and kinds by name)."""

    @property
    def reservation_id(self) -> str: ...
    @property
    def order_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def create_time(self) -> datetime: ...
    @property
    def update_time(self) -> datetime: ...
    @property
    def version(self) -> int: ...
    @property
    def items(self) -> Sequence[ReservationItemRecord]: ...


class ReservationItemView(NamedTuple):
    lot_id: str
    kind: str
    material_code: str
    weight_mg: int
    pieces: int
    line_number: int


class ReservationView(NamedTuple):
    """A :class:`ReservationRecord` as a read returns it (its items last)."""

    reservation_id: str
    order_id: str
    state: str
    create_time: datetime
    update_time: datetime
    version: int
    items: Sequence[ReservationItemRecord]
