"""Who is calling: the acting principal and the checks every use case makes with it.

Commands and queries carry the principal explicitly; the transport (the gRPC interceptor)
authenticates the caller and the entrypoint passes the principal on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mes_kernel.errors import NotFound, PermissionDenied

__all__ = ["ByName", "Principal", "PrincipalKind", "check_partner_access", "require_staff"]

PrincipalKind = Literal["service", "operator", "partner"]


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    subject: str
    #: Set for partners and for services acting for a partner.
    partner_id: str | None = None

    def acting_for(self, partner_id: str) -> Principal:
        return Principal(self.kind, self.subject, partner_id)

    @property
    def scope(self) -> str | None:
        """The partner every read and write of this call is confined to (None: all)."""
        return self.partner_id

    @property
    def is_staff(self) -> bool:
        return self.kind != "partner" and self.partner_id is None

    @property
    def label(self) -> str:
        """``kind:subject``, e.g. ``operator:OP-01``: who did something, for histories."""
        return f"{self.kind}:{self.subject}"


@dataclass(frozen=True)
class ByName:
    """A command or query about one resource: the principal acting, and the resource's name
    (``orders/{id}``, ``webhookEndpoints/{id}``...). Commands that need no more subclass it as
    they are; others add their fields."""

    principal: Principal
    name: str


def require_staff(principal: Principal) -> Principal:
    """Operators and services only; partners get PERMISSION_DENIED."""
    if not principal.is_staff:
        raise PermissionDenied("this call is not available to partners")
    return principal


def check_partner_access(principal: Principal, owner_partner_id: str, what: str) -> None:
    """Another partner's object answers exactly like a missing one."""
    if principal.scope is not None and principal.scope != owner_partner_id:
        raise NotFound(f"{what} not found")
