"""What every use case shares: dependencies, retries on write races, page tokens, ids."""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from mes_kernel.clock import utcnow
from mes_kernel.errors import Conflict
from mes_kernel.paging import PageTokens, page_size
from mes_kernel.validation import Violations
from services.inventory.service_layer.ports import Key, Page, UnitOfWork, WriteConflict

__all__ = ["MAX_BATCH_NAMES", "Deps", "check_id", "digest", "is_id", "new_id", "utcnow"]

T = TypeVar("T")
#: BatchGet* accept at most this many names.
MAX_BATCH_NAMES = 1000
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


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork
    tokens: PageTokens
    clock: Callable[[], datetime] = utcnow
    new_id: Callable[[], str] = new_id
    #: How many times a use case is run again after a write race before it fails ABORTED.
    attempts: int = 6
    #: How many waiting orders one retry pass looks at.
    retry_batch: int = 500

    async def retrying(self, attempt: Callable[[int], Awaitable[T]]) -> T:
        """Run ``attempt(n)`` until it does not hit a WriteConflict (n counts from 0)."""
        for n in range(self.attempts):
            try:
                return await attempt(n)
            except WriteConflict:
                if n + 1 >= self.attempts:
                    break
                await asyncio.sleep(random.uniform(0, 0.005 * (n + 1)))
        raise Conflict("the data changed concurrently; retry the request")

    def page_start(
        self, listing: str, token: str, filters: Mapping[str, Any], requested_size: int
    ) -> tuple[Key | None, int]:
        """Decode a page token (bound to the listing and its filters) and clamp the page size."""
        size = page_size(requested_size)
        return self.tokens.decode(token, scope=None, filters={"listing": listing, **filters}), size

    def next_token(self, listing: str, page: Page[Any], filters: Mapping[str, Any]) -> str:
        if page.next_key is None:
            return ""
        return self.tokens.encode(page.next_key, scope=None, filters={"listing": listing, **filters})
