"""The Order aggregate: lines, status, history records and optimistic version."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from mes_kernel.errors import FailedPrecondition
from services.orders.domain.status import TERMINAL, OrderStatus, can_transition

__all__ = [
    "HOLD_REASON_STATUSES",
    "MAX_CAUSE_LEN",
    "MAX_REASON_LEN",
    "Order",
    "OrderLine",
    "Priority",
    "StatusChange",
    "new_order_id",
]

#: Longest status reason and cause kept (longer values from events are cut).
MAX_REASON_LEN = 500
MAX_CAUSE_LEN = 120
#: Statuses whose reason is kept on the order (``status_reason``).
HOLD_REASON_STATUSES = frozenset({OrderStatus.ON_HOLD, OrderStatus.REJECTED, OrderStatus.CANCELLED})


class Priority(IntEnum):
    """Order priority; higher is served first (values match the wire enum)."""

    LOW = 1
    NORMAL = 2
    HIGH = 3
    RUSH = 4


@dataclass(frozen=True)
class OrderLine:
    line_number: int
    style_code: str
    alloy_code: str
    quantity: int
    size: str = ""
    engraving: str = ""


@dataclass(frozen=True)
class StatusChange:
    """One entry of an order's status history; ``version`` is the order version it produced."""

    order_id: str
    version: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str
    cause: str
    change_time: datetime


@dataclass
class Order:
    order_id: str
    partner_id: str
    partner_reference: str
    priority: Priority
    due_time: datetime
    lines: list[OrderLine]
    status: OrderStatus
    create_time: datetime
    update_time: datetime
    status_reason: str = ""
    version: int = 1
    tracking_reference: str = ""
    #: Status changes made to this instance, oldest first (a new order starts with its
    #: submission); the repository persists them as history rows.
    changes: list[StatusChange] = field(default_factory=list, repr=False)

    @classmethod
    def submit(
        cls,
        *,
        order_id: str,
        partner_id: str,
        partner_reference: str,
        priority: Priority,
        due_time: datetime,
        lines: list[OrderLine],
        cause: str,
        now: datetime,
    ) -> Order:
        """A new SUBMITTED order at version 1 with its first history entry."""
        order = cls(
            order_id=order_id,
            partner_id=partner_id,
            partner_reference=partner_reference,
            priority=priority,
            due_time=due_time,
            lines=list(lines),
            status=OrderStatus.SUBMITTED,
            create_time=now,
            update_time=now,
        )
        order.changes.append(StatusChange(order_id, 1, None, OrderStatus.SUBMITTED, "", cause[:MAX_CAUSE_LEN], now))
        return order

    def transition(self, target: OrderStatus, *, reason: str = "", cause: str = "", now: datetime) -> StatusChange:
        """Move to ``target``; raises FAILED_PRECONDITION (INVALID_STATE_TRANSITION) if not allowed."""
        if not can_transition(self.status, target):
            raise FailedPrecondition(
                f"order {self.order_id} cannot go from {self.status} to {target}",
                reason="INVALID_STATE_TRANSITION",
                metadata={"from_status": str(self.status), "to_status": str(target)},
            )
        reason = reason[:MAX_REASON_LEN]
        change = StatusChange(self.order_id, self.version + 1, self.status, target, reason, cause[:MAX_CAUSE_LEN], now)
        self.status = target
        self.status_reason = reason if target in HOLD_REASON_STATUSES else ""
        self.version = change.version
        self.update_time = now
        self.changes.append(change)
        return change

    def is_late(self, now: datetime) -> bool:
        """The due time has passed and the order is still open."""
        return self.status not in TERMINAL and self.due_time < now

    @property
    def name(self) -> str:
        return f"orders/{self.order_id}"


def new_order_id(now_ms: int | None = None) -> str:
    """A time-ordered UUID (version 7 layout): ids of nearby orders sit close in indexes."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))
