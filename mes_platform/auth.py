"""Callers and their credentials.

Callers send ``authorization: Bearer <token>``; tokens map to a service or an
operator principal (``MES_AUTH_TOKENS="tok1=service:facade,tok2=operator:OP-01"``).
A service principal may act for a partner by adding ``x-mes-partner: <id>``
(the GraphQL facade does this after checking the partner's API key). The orders
service also accepts a partner's own key in ``x-api-key``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping

from mes_kernel.errors import NotFound, PermissionDenied
from mes_kernel.principal import Principal

__all__ = [
    "API_KEY_HEADER",
    "PARTNER_HEADER",
    "Principal",
    "check_partner_access",
    "current_principal",
    "parse_tokens",
    "partner_scope",
    "require_staff",
    "reset_principal",
    "set_principal",
]

PARTNER_HEADER = "x-mes-partner"
API_KEY_HEADER = "x-api-key"

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("mes_principal", default=None)


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:  # only reachable when called outside an RPC
        raise PermissionDenied("no authenticated caller")
    return principal


def partner_scope() -> str | None:
    """The partner every read and write of this call is confined to (None: all)."""
    return current_principal().partner_id


def require_staff() -> Principal:
    """Operators and services only; partners get PERMISSION_DENIED."""
    principal = current_principal()
    if principal.kind == "partner" or principal.partner_id is not None:
        raise PermissionDenied("this call is not available to partners")
    return principal


def check_partner_access(owner_partner_id: str, what: str) -> None:
    """Another partner's object answers exactly like a missing one."""
    scope = partner_scope()
    if scope is not None and scope != owner_partner_id:
        raise NotFound(f"{what} not found")


def parse_tokens(spec: str) -> Mapping[str, Principal]:
    """Parse ``token=kind:subject`` pairs separated by commas."""
    tokens: dict[str, Principal] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        token, _, who = item.partition("=")
        kind, _, subject = who.partition(":")
        if not token or kind not in ("service", "operator") or not subject:
            raise ValueError(f"bad MES_AUTH_TOKENS entry {item!r}: want token=service:name or token=operator:code")
        tokens[token] = Principal(kind, subject)  # type: ignore[arg-type]
    return tokens
