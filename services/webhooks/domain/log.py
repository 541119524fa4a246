"""The delivery log of an endpoint: every attempt, and the notices the partner should see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from services.webhooks.domain.delivery import AttemptResult
from services.webhooks.domain.endpoint import EventType

__all__ = ["MAX_ERROR_LENGTH", "LogEntry", "LogKind", "attempt_entry", "notice"]

MAX_ERROR_LENGTH = 500


class LogKind(Enum):
    ATTEMPT = "attempt"
    DEAD_LETTER = "dead_letter"
    ENDPOINT_DISABLED = "endpoint_disabled"
    ENDPOINT_ENABLED = "endpoint_enabled"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class LogEntry:
    endpoint_id: str
    partner_id: str
    kind: LogKind
    logged_at: datetime
    delivery_id: str = ""
    event_type: EventType | None = None
    attempt: int = 0
    http_status: int = 0
    latency_ms: int = 0
    error: str = ""
    message: str = ""
    #: Storage order (assigned by the repository).
    seq: int = 0


def attempt_entry(result: AttemptResult) -> LogEntry:
    return LogEntry(
        endpoint_id=result.endpoint_id,
        partner_id=result.partner_id,
        kind=LogKind.ATTEMPT,
        logged_at=result.finished_at,
        delivery_id=result.delivery_id,
        event_type=result.event_type,
        attempt=result.attempt,
        http_status=result.http_status,
        latency_ms=result.latency_ms,
        error=result.error[:MAX_ERROR_LENGTH],
    )


def notice(
    endpoint_id: str, partner_id: str, kind: LogKind, at: datetime, message: str, *, delivery_id: str = ""
) -> LogEntry:
    return LogEntry(endpoint_id, partner_id, kind, at, delivery_id=delivery_id, message=message[:MAX_ERROR_LENGTH])
