"""The JSON bodies partners receive, one versioned schema per event type.

``order.status_changed`` (schema ``mes.webhooks.order_status_changed/v1``)::

    {
      "type": "order.status_changed",
      "schema": "mes.webhooks.order_status_changed/v1",
      "timestamp": "2030-01-01T12:00:00.123456Z",
      "data": {
        "orderId": "0b6f...",
        "partnerReference": "PO-1001",
        "fromStatus": "SUBMITTED",        # null for a new order (the change to SUBMITTED)
        "toStatus": "ACCEPTED",
        "reason": "",
        "orderVersion": 2,
        "changedAt": "2030-01-01T12:00:00.123456Z"
      }
    }

Field names and status names are those of the GraphQL API. A later incompatible change gets a
new schema version (``/v2``); fields may be added to a version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from services.webhooks.domain.endpoint import EventType

__all__ = ["ORDER_STATUS_CHANGED_SCHEMA", "OrderStatusChange", "order_status_payload"]

ORDER_STATUS_CHANGED_SCHEMA = "mes.webhooks.order_status_changed/v1"


@dataclass(frozen=True)
class OrderStatusChange:
    """An order's status change as the webhooks service learns it from the orders events."""

    order_id: str
    partner_id: str
    #: Status names without prefix ("SUBMITTED"); None for a new order.
    from_status: str | None
    to_status: str
    reason: str
    order_version: int
    changed_at: datetime
    #: Known from the submitted event (the status change events do not carry it).
    partner_reference: str = ""

    @property
    def is_new_order(self) -> bool:
        return self.from_status is None


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_status_payload(change: OrderStatusChange, partner_reference: str) -> str:
    """The body of an ``order.status_changed`` delivery (compact JSON, UTF-8 text)."""
    body = {
        "type": EventType.ORDER_STATUS_CHANGED.value,
        "schema": ORDER_STATUS_CHANGED_SCHEMA,
        "timestamp": _time(change.changed_at),
        "data": {
            "orderId": change.order_id,
            "partnerReference": partner_reference,
            "fromStatus": change.from_status,
            "toStatus": change.to_status,
            "reason": change.reason,
            "orderVersion": change.order_version,
            "changedAt": _time(change.changed_at),
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
