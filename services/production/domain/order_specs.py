"""The line specs of an order, kept between order submission and reservation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.production.domain.bom import LineSpec

__all__ = ["OrderSpec", "OrderSpecStatus"]


class OrderSpecStatus(StrEnum):
    PENDING = "PENDING"  # requirements computed, waiting for the reservation
    FAILED = "FAILED"  # requirements could not be computed (unknown style, bad spec)
    RELEASED = "RELEASED"  # work orders created
    CANCELLED = "CANCELLED"  # the order was cancelled (a tombstone even without lines)


@dataclass(slots=True)
class OrderSpec:
    order_id: str
    priority: int
    lines: tuple[LineSpec, ...]
    submit_time: datetime | None
    status: OrderSpecStatus
    create_time: datetime
    update_time: datetime
    version: int = 1

    def mark(self, status: OrderSpecStatus, now: datetime) -> None:
        self.status, self.update_time = status, now
