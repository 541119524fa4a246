"""What the read use cases return: views with the fields of the API's orders.

The SQL adapter selects exactly the columns of a view (a named tuple per row: no domain
object, no per-column attribute lookup in SQLAlchemy's rows), and the codec writes views
straight into the reply. A domain order becomes a view for the replies and events of writes
(and in the in-memory fakes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from services.orders.domain.order import Order

__all__ = ["LineView", "OrderView", "order_view"]


class LineView(NamedTuple):
    line_number: int
    style_code: str
    alloy_code: str
    size: str
    engraving: str
    quantity: int


class OrderView(NamedTuple):
    """An order as the reads return it (status by name, priority by number, its lines last)."""

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
    lines: Sequence[LineView]


def order_view(order: Order) -> OrderView:
    """The order's fields by name, its lines as views."""
    lines = [LineView(*(getattr(line, name) for name in LineView._fields)) for line in order.lines]
    return OrderView._make([*(getattr(order, name) for name in OrderView._fields[:-1]), lines])
