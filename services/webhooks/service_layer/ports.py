"""Ports: what the use cases need from storage and from the network (the adapters implement them).

The unit of work is the shared port of :mod:`mes_kernel.uow` with the service's repositories;
:class:`Sender` sends one signed POST to a checked address.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeAlias

from mes_kernel import uow
from mes_kernel.deps import Deps
from mes_kernel.uow import UnitOfWorkFactory
from services.webhooks.domain.delivery import Delivery, DeliveryState
from services.webhooks.domain.endpoint import Endpoint, EventType
from services.webhooks.domain.log import LogEntry

__all__ = [
    "Completion",
    "DeliveryFilter",
    "DeliveryRepository",
    "EndpointRepository",
    "LogRepository",
    "OrderRefRepository",
    "Outbound",
    "SendResult",
    "Sender",
    "UnitOfWork",
    "UnitsOfWork",
    "WebhooksDeps",
]


class EndpointRepository(Protocol):
    async def get(self, endpoint_id: str, *, for_update: bool = False) -> Endpoint | None: ...

    async def get_many(self, endpoint_ids: Collection[str]) -> dict[str, Endpoint]: ...

    async def add(self, endpoint: Endpoint) -> None: ...

    async def save(self, endpoint: Endpoint, *, expected_version: int) -> None:
        """Conditional update (Conflict when the stored version moved)."""

    async def set_failing(self, failing_since: Mapping[str, datetime | None]) -> None:
        """Store each endpoint's ``failing_since`` (no version change: the dispatcher's record)."""

    async def delete(self, endpoint_id: str) -> None:
        """Remove the endpoint with its deliveries and log."""

    async def count(self, partner_id: str) -> int: ...

    async def find(self, partner_id: str | None, *, after: tuple[datetime, str] | None, limit: int) -> list[Endpoint]:
        """Oldest first by (create time, id), strictly after ``after``; every partner when None."""

    async def subscribed(self, partner_id: str, event_type: EventType) -> list[Endpoint]:
        """The partner's endpoints (enabled or not) that subscribe to ``event_type``."""


@dataclass(frozen=True)
class DeliveryFilter:
    partner_id: str | None = None
    endpoint_id: str | None = None
    states: Collection[DeliveryState] = ()


@dataclass(frozen=True)
class Completion:
    """How one attempt leaves its delivery (written by :meth:`DeliveryRepository.complete`)."""

    seq: int
    state: DeliveryState
    attempted_at: datetime
    #: Start of the retry window (the first attempt of it).
    window_start: datetime | None
    http_status: int
    error: str
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    #: False for a delivery put back untried (its endpoint was disabled meanwhile).
    attempted: bool = True


class DeliveryRepository(Protocol):
    async def add_many(self, deliveries: Sequence[Delivery]) -> int:
        """Insert those not there yet (same endpoint and event); returns how many were new."""

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def find(self, where: DeliveryFilter, *, before: int | None, limit: int) -> list[Delivery]:
        """Newest first (descending ``seq``), strictly before ``before``."""

    async def due(self, *, now: datetime, limit: int, skip_endpoints: Collection[str]) -> list[Delivery]:
        """Up to ``limit`` PENDING deliveries due at ``now`` and not leased (or whose lease ran
        out), oldest first; none of an endpoint in ``skip_endpoints``, none whose earlier change
        of the same order to the same endpoint is still PENDING."""

    async def lease(self, seqs: Collection[int], *, owner: str, until: datetime, now: datetime) -> set[int]:
        """Lease those of ``seqs`` still PENDING and not leased by another dispatcher; the ones leased."""

    async def complete(self, completions: Sequence[Completion], *, owner: str) -> None:
        """Record attempts; a failure only while the delivery is still PENDING and leased by
        ``owner``, a success always."""

    async def hold_pending(self, endpoint_id: str) -> int:
        """PENDING -> HELD for the endpoint (it was disabled); returns how many."""

    async def resume_held(self, endpoint_id: str, now: datetime) -> int:
        """HELD -> PENDING, due now with a new retry window (from their next attempt); returns how many."""

    async def purge_delivered(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` DELIVERED deliveries delivered before ``before``; how many."""

    async def replay_dead(self, endpoint_id: str, delivery_ids: Collection[str] | None, now: datetime) -> list[str]:
        """DEAD -> PENDING (all of the endpoint's when ``delivery_ids`` is None, at most 1000),
        due now with a new retry window; returns the delivery ids replayed."""


class LogRepository(Protocol):
    async def add_many(self, entries: Sequence[LogEntry]) -> None: ...

    async def find(self, endpoint_id: str, *, before: int | None, limit: int) -> list[LogEntry]:
        """Newest first, strictly before ``before``."""

    async def purge(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` entries logged before ``before``; how many."""


class OrderRefRepository(Protocol):
    async def remember(self, order_id: str, partner_id: str, partner_reference: str, at: datetime) -> None:
        """Keep the partner's reference of an order (the status change events do not carry it)."""

    async def reference(self, order_id: str) -> str | None: ...

    async def purge(self, before: datetime, limit: int) -> int:
        """Forget up to ``limit`` references kept before ``before``; how many."""


class UnitOfWork(uow.UnitOfWork, Protocol):
    endpoints: EndpointRepository
    deliveries: DeliveryRepository
    log: LogRepository
    order_refs: OrderRefRepository


UnitsOfWork: TypeAlias = UnitOfWorkFactory[UnitOfWork]
WebhooksDeps: TypeAlias = Deps[UnitsOfWork]


@dataclass(frozen=True)
class Outbound:
    """One signed POST to an endpoint."""

    endpoint_id: str
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    #: HTTP status (0: no answer).
    status: int
    #: Why it failed (empty: an answer came, whatever its status).
    error: str = ""


class Sender(Protocol):
    async def send(self, request: Outbound) -> SendResult:
        """POST ``request``: resolve the host, refuse disallowed addresses, connect to the checked
        one, no redirects, bounded time and response size. Never raises for network failures."""

    async def forget(self, endpoint_id: str) -> None:
        """Drop the connections kept for an endpoint."""

    async def aclose(self) -> None: ...
