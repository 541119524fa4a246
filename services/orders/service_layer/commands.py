"""Commands and queries of the orders use cases: plain data decoded from the transport, each
with the principal acting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mes_kernel.paging import PageRequest
from mes_kernel.principal import ByName, Principal
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.order import OrderLine
from services.orders.domain.status import OrderStatus

__all__ = [
    "AuthenticatePartner",
    "BatchGetOrders",
    "CancelOrder",
    "CountOrders",
    "CreatePartner",
    "GetOrder",
    "GetPartner",
    "ListCatalogueItems",
    "ListOrderStatusChanges",
    "ListOrders",
    "ListPartners",
    "RevokePartnerApiKey",
    "RotatePartnerApiKey",
    "SetPartnerTier",
    "ShipOrder",
    "SubmitOrder",
]

# -- orders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitOrder:
    principal: Principal
    parent: str
    partner_reference: str
    #: Wire value of the priority (0: unspecified, becomes NORMAL).
    priority: int
    due_time: datetime | None
    #: As submitted: a line numbered 0 takes the number of its position.
    lines: tuple[OrderLine, ...]
    request_id: str
    #: Canonical digest of the request without request_id and parent (same partner, same order).
    fingerprint: str


class GetOrder(ByName):
    """One order."""


@dataclass(frozen=True)
class BatchGetOrders:
    principal: Principal
    names: tuple[str, ...]
    allow_missing: bool = False


@dataclass(frozen=True)
class ListOrders:
    principal: Principal
    parent: str = ""
    page: PageRequest = field(default_factory=PageRequest)
    statuses: tuple[OrderStatus, ...] = ()
    late_only: bool = False


@dataclass(frozen=True)
class CountOrders:
    principal: Principal
    parent: str = ""


@dataclass(frozen=True)
class ListOrderStatusChanges:
    principal: Principal
    parent: str
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class CancelOrder(ByName):
    reason: str = ""
    request_id: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class ShipOrder(ByName):
    tracking_reference: str = ""
    request_id: str = ""
    fingerprint: str = ""


# -- partners -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatePartner:
    principal: Principal
    partner_id: str
    display_name: str
    #: Wire value of the tier (0: unspecified, becomes STANDARD).
    tier: int = 0


class GetPartner(ByName):
    """One partner."""


@dataclass(frozen=True)
class ListPartners:
    principal: Principal
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class SetPartnerTier(ByName):
    #: Wire value of the tier (0: unspecified, refused).
    tier: int


class RotatePartnerApiKey(ByName):
    """Revoke the partner's keys and issue a new one."""


@dataclass(frozen=True)
class RevokePartnerApiKey(ByName):
    key_id: str


@dataclass(frozen=True)
class AuthenticatePartner:
    principal: Principal
    api_key: str


# -- catalogue copy -------------------------------------------------------------------


@dataclass(frozen=True)
class ListCatalogueItems:
    principal: Principal
    #: None: every kind.
    kind: CatalogueKind | None = None
    page: PageRequest = field(default_factory=PageRequest)
