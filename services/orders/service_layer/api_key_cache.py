"""A small in-process TTL cache of API key lookups (hash -> partner id, or None).

Kept short (seconds) so that a revoked key stops working quickly on every replica;
the replica that revokes a key clears its own cache at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["ApiKeyCache"]


class ApiKeyCache:
    def __init__(self, ttl_s: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    def get(self, key_hash: str) -> tuple[bool, str | None]:
        """(hit, partner id); misses and expired entries give (False, None)."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return False, None
        expires, partner_id = entry
        if expires <= self._clock():
            del self._entries[key_hash]
            return False, None
        return True, partner_id

    def put(self, key_hash: str, partner_id: str | None) -> None:
        if self._ttl_s <= 0:
            return
        self._entries[key_hash] = (self._clock() + self._ttl_s, partner_id)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
