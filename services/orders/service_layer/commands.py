"""Commands and queries of the orders use cases (plain data, decoded from the transport)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.orders.domain.intake import LineInput
from services.orders.domain.status import OrderStatus

__all__ = ["CancelOrder", "CreatePartner", "ListOrders", "ShipOrder", "SubmitOrder"]


@dataclass(frozen=True)
class SubmitOrder:
    parent: str
    partner_reference: str
    #: Wire value of the priority (0: unspecified, becomes NORMAL).
    priority: int
    due_time: datetime | None
    lines: tuple[LineInput, ...]
    request_id: str
    #: Canonical digest of the request without request_id and parent (same partner, same order).
    fingerprint: str


@dataclass(frozen=True)
class ListOrders:
    parent: str = ""
    page_size: int = 0
    page_token: str = ""
    statuses: tuple[OrderStatus, ...] = ()
    late_only: bool = False


@dataclass(frozen=True)
class CancelOrder:
    name: str
    reason: str = ""
    request_id: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class ShipOrder:
    name: str
    tracking_reference: str = ""
    request_id: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class CreatePartner:
    partner_id: str
    display_name: str
    #: Wire value of the tier (0: unspecified, becomes STANDARD).
    tier: int = 0
