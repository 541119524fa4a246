"""A bounded map whose entries expire: the facade's small caches of answers from the services.

:class:`TtlLru` holds at most ``max_entries`` entries (the least recently used goes first when a new
one would exceed the bound) and each entry for ``ttl_s`` seconds on ``clock`` (monotonic seconds;
tests inject their own), or for the time given when it is put. ``get`` answers a fresh entry only
and marks it the most recently used; an expired entry stays held (``key in cache`` is still true)
until it is put again, popped, cleared or pushed out by newer ones, so a caller can tell "known
but stale" from "never seen". A bound or a time of 0 (or less) holds nothing.

Its users: the partners' keys and the unknown keys (:mod:`graphql_facade.auth`), and the
operators' sessions (:mod:`graphql_facade.sessions`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlLru"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlLru(Generic[K, V]):
    """At most ``max_entries`` values, each fresh for ``ttl_s`` seconds of ``clock`` after it was put."""

    def __init__(self, max_entries: int, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        #: key -> (when it expires on ``clock``, the value); the least recently used first.
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is held, fresh or expired."""
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The fresh value of ``key``, now the most recently used; None when it is missing or expired."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def peek(self, key: K) -> V | None:
        """The fresh value of ``key`` without marking it used; None when it is missing or expired."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > self._clock() else None

    def put(self, key: K, value: V, *, ttl_s: float | None = None) -> None:
        """Hold ``value`` under ``key`` for ``ttl_s`` (the cache's own time when None), as the most
        recently used, pushing out the least recently used beyond the bound. A time or a bound of 0
        or less holds nothing (and drops what ``key`` held)."""
        keep_s = self.ttl_s if ttl_s is None else ttl_s
        if keep_s <= 0 or self.max_entries <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + keep_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> V | None:
        """Drop ``key``: the value it held (fresh or expired), or None."""
        entry = self._entries.pop(key, None)
        return entry[1] if entry is not None else None

    def drop_where(self, predicate: Callable[[V], bool]) -> int:
        """Drop every entry whose value matches ``predicate``; how many were dropped."""
        stale = [key for key, (_, value) in self._entries.items() if predicate(value)]
        for key in stale:
            del self._entries[key]
        return len(stale)

    def clear(self) -> None:
        self._entries.clear()
