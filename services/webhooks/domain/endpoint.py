"""A partner's webhook endpoint: where its events go, which ones, and the secrets that sign them.

State an endpoint is in:

* **enabled** -- its deliveries are sent; after a success ``failing_since`` is cleared, after a
  failure it keeps the time of the first failure of the run;
* **disabled** -- by the partner, an operator, or the dispatcher once every delivery failed for
  ``disable_after`` (3 days by default); nothing is sent, its events are kept (HELD) and sent,
  oldest first, once it is enabled again.

Secrets: the current one signs every delivery; after a rotation the previous one signs beside
it until ``previous_secret_expires_at`` (the overlap, 24 h by default), so receivers can move
to the new secret without dropping a message. A rotation during an overlap drops the oldest.
"""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from services.webhooks.domain.signing import new_secret

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_REASON_LENGTH",
    "DisabledBy",
    "Endpoint",
    "EventType",
    "new_endpoint_id",
]

MAX_DESCRIPTION_LENGTH = 500
MAX_REASON_LENGTH = 500


class EventType(Enum):
    """What an endpoint can subscribe to; the value is the payload's ``type``."""

    ORDER_STATUS_CHANGED = "order.status_changed"


class DisabledBy(Enum):
    PARTNER = "partner"
    OPERATOR = "operator"
    FAILURES = "failures"


def new_endpoint_id() -> str:
    """``ep_`` + 20 random lower-case base32 characters (100 bits)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "ep_" + "".join(_random.choice(alphabet) for _ in range(20))


@dataclass
class Endpoint:
    endpoint_id: str
    partner_id: str
    url: str
    description: str
    event_types: frozenset[EventType]
    secret: str
    secret_created_at: datetime
    created_at: datetime
    updated_at: datetime
    version: int = 1
    enabled: bool = True
    disabled_by: DisabledBy | None = None
    disabled_reason: str = ""
    disabled_at: datetime | None = None
    #: First failure of the current run of failed deliveries (None after a success).
    failing_since: datetime | None = None
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    #: Set by the changes that a repository saves (not stored).
    changed: bool = field(default=False, compare=False, repr=False)

    @classmethod
    def create(
        cls, partner_id: str, url: str, description: str, event_types: frozenset[EventType], now: datetime
    ) -> Endpoint:
        return cls(
            endpoint_id=new_endpoint_id(),
            partner_id=partner_id,
            url=url,
            description=description,
            event_types=event_types,
            secret=new_secret(),
            secret_created_at=now,
            created_at=now,
            updated_at=now,
        )

    def subscribes_to(self, event_type: EventType) -> bool:
        return event_type in self.event_types

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a message sent at ``now``: the current one first."""
        found = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            found.append(self.previous_secret)
        return found

    def _touch(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now
        self.changed = True

    def update(
        self,
        now: datetime,
        *,
        url: str | None = None,
        description: str | None = None,
        event_types: frozenset[EventType] | None = None,
    ) -> bool:
        """Apply the given changes; False when nothing changed."""
        changes = {
            "url": url if url is not None and url != self.url else None,
            "description": description if description is not None and description != self.description else None,
        }
        types = event_types if event_types and event_types != self.event_types else None
        if not any(v is not None for v in changes.values()) and types is None:
            return False
        if changes["url"] is not None:
            self.url = changes["url"]
            self.failing_since = None  # a new address starts with a clean record
        if changes["description"] is not None:
            self.description = changes["description"]
        if types is not None:
            self.event_types = types
        self._touch(now)
        return True

    def rotate_secret(self, now: datetime, overlap: timedelta) -> str:
        """A new current secret; the one it replaces signs beside it until ``now + overlap``."""
        self.previous_secret = self.secret
        self.previous_secret_expires_at = now + overlap
        self.secret = new_secret()
        self.secret_created_at = now
        self._touch(now)
        return self.secret

    def disable(self, by: DisabledBy, reason: str, now: datetime) -> bool:
        """False when it was already disabled (the first reason stays)."""
        if not self.enabled:
            return False
        self.enabled = False
        self.disabled_by = by
        self.disabled_reason = reason[:MAX_REASON_LENGTH]
        self.disabled_at = now
        self._touch(now)
        return True

    def enable(self, now: datetime) -> bool:
        """False when it was already enabled. The failure record starts afresh."""
        if self.enabled:
            return False
        self.enabled = True
        self.disabled_by = None
        self.disabled_reason = ""
        self.disabled_at = None
        self.failing_since = None
        self._touch(now)
        return True

    def record_success(self) -> bool:
        """A delivery succeeded; True when that ended a run of failures."""
        if self.failing_since is None:
            return False
        self.failing_since = None
        return True

    def record_failure(self, at: datetime, disable_after: timedelta) -> bool:
        """A delivery failed at ``at``; True when that disabled the endpoint (failing since
        ``disable_after`` or longer)."""
        if self.failing_since is None:
            self.failing_since = at
            return False
        if not self.enabled or at - self.failing_since < disable_after:
            return False
        since = self.failing_since.strftime("%Y-%m-%d %H:%M:%SZ")
        days = disable_after.total_seconds() / 86400
        reason = f"every delivery failed since {since} ({days:g} days or more): disabled automatically"
        return self.disable(DisabledBy.FAILURES, reason, at)
