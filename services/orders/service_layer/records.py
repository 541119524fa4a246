"""What the read use cases return: records with the fields of the API's orders.

The SQL adapter selects exactly the columns of a view (a named tuple per row: no domain
object, no per-column attribute lookup in SQLAlchemy's rows), and the codec writes them
straight into the reply. A domain :class:`~services.orders.domain.order.Order` is an
:class:`OrderRecord` as it is (replies of writes, events, the in-memory fakes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

__all__ = ["LineRecord", "LineView", "OrderRecord", "OrderView"]


class LineRecord(Protocol):
    @property
    def line_number(self) -> int: ...
    @property
    def style_code(self) -> str: ...
    @property
    def alloy_code(self) -> str: ...
    @property
    def size(self) -> str: ...
    @property
    def engraving(self) -> str: ...
    @property
    def quantity(self) -> int: ...


class OrderRecord(Protocol):
    """An order as the reads return it (status by name, priority by number)."""

    @property
    def order_id(self) -> str: ...
    @property
    def partner_id(self) -> str: ...
    @property
    def partner_reference(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def due_time(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def status_reason(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def create_time(self) -> datetime: ...
    @property
    def update_time(self) -> datetime: ...
    @property
    def lines(self) -> Sequence[LineRecord]: ...


class LineView(NamedTuple):
    line_number: int
    style_code: str
    alloy_code: str
    size: str
    engraving: str
    quantity: int


class OrderView(NamedTuple):
    """An :class:`OrderRecord` as a read returns it (its lines last)."""

    order_id: str
    partner_id: str
    partner_reference: str
    priority: int
    due_time: datetime
    status: str
    status_reason: str
    version: int
    create_time: datetime
    update_time: datetime
    lines: Sequence[LineRecord]
