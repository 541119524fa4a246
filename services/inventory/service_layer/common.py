"""What the use cases share: ids, digests, and the page requests and sort keys of listings."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from typing import Any

from mes_kernel.clock import as_utc
from mes_kernel.paging import Pager
from mes_kernel.validation import Violations
from services.inventory.service_layer.commands import ListQuery
from services.inventory.service_layer.ports import InventoryDeps

__all__ = ["check_id", "digest", "is_id", "iso", "new_id", "pager", "parse_key"]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def new_id() -> str:
    return str(uuid.uuid4())


def is_id(value: str) -> bool:
    """Ids of orders, lots, reservations: 1..64 of letters, digits, '-' and '_'."""
    return bool(_ID_RE.match(value))


def check_id(v: Violations, value: str, field_name: str) -> None:
    if not value:
        v.add(field_name, "is required")
    elif not is_id(value):
        v.add(field_name, "must be 1..64 of letters, digits, '-' or '_'")


def digest(*parts: object) -> str:
    """A stable SHA-256 hex digest of ``parts`` (idempotency keys and fingerprints of internal calls)."""
    return hashlib.sha256("\x1f".join(repr(p) for p in parts).encode()).hexdigest()


def pager(deps: InventoryDeps, query: ListQuery, listing: str, *, scope: str | None, **filters: Any) -> Pager:
    """The page ``query`` asks for; its tokens are bound to ``scope`` (the tenant), the listing
    and its filter, so a token of another listing, filter or tenant is refused."""
    return Pager.of(deps.tokens, query.page, scope=scope, filters={"listing": listing, **filters})


def iso(value: datetime) -> str:
    """A time as a sort-key part of a page token."""
    return as_utc(value).isoformat()


def parse_key(key: list[Any], *types: type) -> tuple[Any, ...]:
    """A sort key read back from a page token: one part per type (``datetime`` parts are
    ISO strings); a key of another shape raises ValueError (INVALID_PAGE_TOKEN)."""
    if len(key) != len(types):
        raise ValueError("page token key of another listing")
    parts: list[Any] = []
    for value, kind in zip(key, types, strict=True):
        expected = str if kind is datetime else kind
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ValueError("page token key of another listing")
        parts.append(as_utc(datetime.fromisoformat(str(value))) if kind is datetime else value)
    return tuple(parts)
