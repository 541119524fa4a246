"""Deliveries: one event for one endpoint, its attempts, its retry schedule.

A delivery's ``delivery_id`` is its ``webhook-id``: derived from the event and the endpoint, so
it is the same however often the event is handled or the delivery is sent.

States::

    PENDING --2xx--> DELIVERED
    PENDING --failed, window left--> PENDING (next attempt after the back-off)
    PENDING --failed, retried for retry_for or longer--> DEAD (a dead letter; replay: PENDING)
    PENDING <--endpoint disabled / enabled--> HELD

Attempts are spaced by exponential back-off with jitter (:class:`RetryPolicy`); a delivery is
retried until ``retry_for`` (24 h by default) has passed since its window started: its first attempt (after its
creation, its endpoint's re-enabling or its replay); the last attempt is made after that, so
a delivery that waited (behind an earlier change of its order, or while its endpoint was
disabled) still gets its whole window.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from services.webhooks.domain.endpoint import EventType

__all__ = ["AttemptResult", "Delivery", "DeliveryState", "RetryPolicy", "delivery_id"]


class DeliveryState(Enum):
    PENDING = "pending"
    HELD = "held"
    DELIVERED = "delivered"
    DEAD = "dead"


def delivery_id(event_id: str, endpoint_id: str) -> str:
    """``msg_`` + 26 base32 characters of SHA-256(event id, endpoint id): the webhook-id."""
    digest = hashlib.sha256(f"{event_id}\x00{endpoint_id}".encode()).digest()
    return "msg_" + base64.b32encode(digest).decode("ascii")[:26].lower()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter, for at least ``retry_for``."""

    initial: timedelta = timedelta(seconds=5)
    multiplier: float = 2.0
    cap: timedelta = timedelta(hours=1)
    #: Each delay is scaled by a factor in [1 - jitter, 1 + jitter].
    jitter: float = 0.2
    retry_for: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.initial.total_seconds() <= 0 or self.cap < self.initial or self.multiplier < 1:
            raise ValueError("back-off needs initial > 0, cap >= initial and multiplier >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be within [0, 1)")
        if self.retry_for.total_seconds() <= 0:
            raise ValueError("retry_for must be > 0")

    def delay(self, attempts: int, random_unit: float) -> timedelta:
        """The wait after the ``attempts``-th failed attempt; ``random_unit`` is uniform in [0, 1)."""
        exponent = min(max(attempts - 1, 0), 64)
        base = min(self.cap.total_seconds(), self.initial.total_seconds() * self.multiplier**exponent)
        return timedelta(seconds=base * (1 - self.jitter + 2 * self.jitter * random_unit))

    def exhausted(self, window_start: datetime, failed_at: datetime) -> bool:
        """True when a failure at ``failed_at`` ends the retries (a dead letter)."""
        return failed_at - window_start >= self.retry_for


@dataclass
class Delivery:
    delivery_id: str
    endpoint_id: str
    partner_id: str
    event_id: str
    event_type: EventType
    order_id: str
    order_version: int
    #: The JSON body, exactly as sent.
    payload: str
    created_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    #: First attempt of the current retry window (None: not tried since creation, re-enabling, replay).
    window_start: datetime | None = None
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_http_status: int = 0
    last_error: str = ""
    delivered_at: datetime | None = None
    #: Storage order (assigned by the repository); oldest first is ascending.
    seq: int = 0

    @classmethod
    def new(
        cls,
        *,
        event_id: str,
        endpoint_id: str,
        partner_id: str,
        event_type: EventType,
        order_id: str,
        order_version: int,
        payload: str,
        now: datetime,
        held: bool,
    ) -> Delivery:
        return cls(
            delivery_id=delivery_id(event_id, endpoint_id),
            endpoint_id=endpoint_id,
            partner_id=partner_id,
            event_id=event_id,
            event_type=event_type,
            order_id=order_id,
            order_version=order_version,
            payload=payload,
            created_at=now,
            state=DeliveryState.HELD if held else DeliveryState.PENDING,
            next_attempt_at=now,
        )


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt of a claimed delivery gave."""

    seq: int
    delivery_id: str
    endpoint_id: str
    partner_id: str
    event_type: EventType
    #: 1-based number of this attempt.
    attempt: int
    window_start: datetime
    started_at: datetime
    finished_at: datetime
    #: HTTP status (0: no answer).
    http_status: int
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and not self.error
