"""Commands and queries of the webhooks use cases: plain data decoded from the transport, each
with the principal acting, and the service's rules (:class:`WebhookPolicy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from mes_kernel.paging import PageRequest
from mes_kernel.principal import ByName, Principal
from services.webhooks.domain.delivery import DeliveryState, RetryPolicy

__all__ = [
    "CreateEndpoint",
    "DeleteEndpoint",
    "DisableEndpoint",
    "EnableEndpoint",
    "GetEndpoint",
    "ListDeliveries",
    "ListEndpoints",
    "ListLogEntries",
    "ReplayDeliveries",
    "RotateSecret",
    "UpdateEndpoint",
    "WebhookPolicy",
]


@dataclass(frozen=True)
class WebhookPolicy:
    """The service's rules, from its settings."""

    #: The development flag: http and private/loopback receivers allowed.
    allow_insecure: bool = False
    secret_overlap: timedelta = timedelta(hours=24)
    disable_after: timedelta = timedelta(days=3)
    max_endpoints_per_partner: int = 20
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class CreateEndpoint:
    principal: Principal
    parent: str
    url: str
    description: str
    #: Wire values of the event types.
    event_types: tuple[int, ...]
    request_id: str = ""
    fingerprint: str = ""


class GetEndpoint(ByName):
    """One webhook endpoint."""


@dataclass(frozen=True)
class ListEndpoints:
    principal: Principal
    parent: str = ""
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class UpdateEndpoint(ByName):
    url: str | None = None
    description: str | None = None
    event_types: tuple[int, ...] = ()
    #: 0: no check.
    version: int = 0


class EnableEndpoint(ByName):
    """Enable an endpoint; the deliveries kept while it was disabled are sent."""


@dataclass(frozen=True)
class DisableEndpoint(ByName):
    reason: str = ""


class RotateSecret(ByName):
    """A new signing secret; the previous one signs too for the overlap."""


class DeleteEndpoint(ByName):
    """Delete an endpoint."""


@dataclass(frozen=True)
class ListDeliveries:
    principal: Principal
    parent: str = ""
    states: tuple[DeliveryState, ...] = ()
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class ListLogEntries:
    principal: Principal
    parent: str
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class ReplayDeliveries:
    principal: Principal
    parent: str
    names: tuple[str, ...] = ()
