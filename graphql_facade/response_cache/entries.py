"""The answers a replica holds in memory, which of them events made stale, and the recent touches.

:class:`EntryTable` keeps each :class:`Entry` (serialized ``data``, measured cost, the stream
positions it was computed at, the tags it reads) under its key, with an index tag -> keys. An
event marks stale, at once, the entries that read one of the tags it touches and were computed
before it (``stale_since`` = when the replica received it); nothing else changes, so a hit stays a
dictionary lookup. :class:`TouchLog` remembers recent events, so that an answer whose computation
overlapped events (or one computed by another replica) starts out stale when one of them touched it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from graphql_facade.response_cache.positions import Positions

__all__ = ["Entry", "EntryTable", "Touch", "TouchLog"]


@dataclass(slots=True, eq=False)
class Entry:
    """One cached answer."""

    #: The serialized ``data`` member (JSON).
    data: bytes
    #: The actual cost measured when it was computed.
    cost: int | None
    #: The stream positions seen when its computation started (it reflects at least those).
    positions: Positions
    #: The tags it reads (:mod:`graphql_facade.response_cache.tags`).
    reads: frozenset[str]
    #: ``time.monotonic()`` when its computation started, and when it expires.
    started: float
    expires: float
    #: When the first event that touched it after ``positions`` was received (None: fresh).
    stale_since: float | None = None
    #: No background recomputation starts before this time (debounces bursts of events).
    refresh_after: float = 0.0
    #: The last response body built around ``data`` and what it was built for (see :meth:`memo`).
    _memo: tuple[object, bytes] | None = None

    def age_stale(self, now: float) -> float | None:
        """Seconds since it went stale (None when fresh)."""
        return None if self.stale_since is None else now - self.stale_since

    def memo(self, variant: object) -> bytes | None:
        """The body last kept for ``variant`` (compared by identity), if any."""
        memo = self._memo
        return memo[1] if memo is not None and memo[0] is variant else None

    def keep(self, variant: object, body: bytes) -> bytes:
        self._memo = (variant, body)
        return body


@dataclass(frozen=True, slots=True)
class Touch:
    stream: str
    seq: int
    at: float
    #: None: an event that could not be read (it touched everything).
    tags: frozenset[str] | None


class TouchLog:
    """The last ``size`` events (what they touched, when), to date answers computed around them."""

    def __init__(self, size: int = 4096) -> None:
        self._touches: deque[Touch] = deque(maxlen=max(16, size))
        #: Per stream, the sequence after which the log has every event of the stream.
        self._complete_after: dict[str, int] = {}

    def start_at(self, positions: Positions) -> None:
        """The replica (re)starts receiving events after ``positions``: older ones are not in the log."""
        self._touches.clear()
        self._complete_after = dict(positions)

    def add(self, touch: Touch) -> None:
        if len(self._touches) == self._touches.maxlen:
            oldest = self._touches[0]
            self._complete_after[oldest.stream] = max(self._complete_after.get(oldest.stream, 0), oldest.seq)
        self._touches.append(touch)

    def since(self, started: float) -> Iterator[Touch]:
        """Events received at or after ``started`` (monotonic), newest first."""
        for touch in reversed(self._touches):
            if touch.at < started:
                return
            yield touch

    def first_touch(self, positions: Positions, reads: frozenset[str], started: float) -> float | None:
        """When the first event after ``positions`` that touched ``reads`` was received (None: none did).

        Events before ``started`` are not looked at: every event after ``positions`` was received
        later (``positions`` were read from the replica's hub at ``started``).
        """
        first: float | None = None
        for touch in self.since(started):
            if touch.seq > positions.get(touch.stream, 0) and (touch.tags is None or not touch.tags.isdisjoint(reads)):
                first = touch.at
        return first

    def first_touch_of(self, positions: Positions, reads: frozenset[str], seen: Positions) -> float | None:
        """Like :meth:`first_touch` for an answer computed elsewhere (another replica's positions).

        An answer older than what the log holds counts as touched at the oldest event kept.
        """
        first: float | None = None
        for stream, seq in seen.items():
            if positions.get(stream, 0) < min(seq, self._complete_after.get(stream, 0)):
                first = self._touches[0].at if self._touches else time.monotonic()
        for touch in self._touches:
            if touch.seq > positions.get(touch.stream, 0) and (touch.tags is None or not touch.tags.isdisjoint(reads)):
                return touch.at if first is None else min(first, touch.at)
        return first


class EntryTable:
    """Entries by key (at most ``max_entries``; the oldest goes first), indexed by the tags they read.

    ``grace_s``: how long past its TTL an entry may still be served stale (the staleness bound)."""

    def __init__(self, *, max_entries: int, log: TouchLog, grace_s: float = 0.0) -> None:
        self._entries: dict[str, Entry] = {}
        self._grace_s = grace_s
        self._index: dict[str, set[str]] = {}
        self._max = max(1, max_entries)
        self.log = log
        #: Bumped when every entry is marked stale (the event source restarted).
        self.generation = 0
        self._generation_at = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        return list(self._entries)

    def get(self, key: str, now: float) -> Entry | None:
        """The entry of ``key``; past its TTL it counts as stale from its expiry (recomputed like one
        an event touched, without a stampede), and it goes once that is older than ``grace_s``."""
        entry = self._entries.get(key)
        if entry is None or entry.expires > now:
            return entry
        if now - entry.expires > self._grace_s:
            self._drop(key, entry)
            return None
        if entry.stale_since is None or entry.stale_since > entry.expires:
            entry.stale_since = entry.expires
        return entry

    def put(self, key: str, entry: Entry, generation: int) -> Entry:
        """Store ``entry`` (computed from ``generation``), stale at once if an event touched it meanwhile."""
        touched = self.log.first_touch(entry.positions, entry.reads, entry.started)
        if generation != self.generation:
            touched = self._generation_at if touched is None else min(touched, self._generation_at)
        entry.stale_since = touched
        old = self._entries.get(key)
        if old is not None:
            self._drop(key, old)
        while len(self._entries) >= self._max:
            oldest = next(iter(self._entries))
            self._drop(oldest, self._entries[oldest])
        self._entries[key] = entry
        for tag in entry.reads:
            self._index.setdefault(tag, set()).add(key)
        return entry

    def _drop(self, key: str, entry: Entry) -> None:
        del self._entries[key]
        for tag in entry.reads:
            keys = self._index.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._index[tag]

    def touch(self, touch: Touch) -> int:
        """Mark what ``touch`` touched stale; returns how many entries went stale."""
        self.log.add(touch)
        if touch.tags is None:
            return self.mark_all(touch.at, bump=False)
        marked = 0
        entries = self._entries
        for tag in touch.tags:
            for key in self._index.get(tag, ()):
                entry = entries[key]
                if entry.stale_since is None and touch.seq > entry.positions.get(touch.stream, 0):
                    entry.stale_since = touch.at
                    marked += 1
        return marked

    def mark_all(self, at: float, *, bump: bool = True) -> int:
        """Every entry stale from ``at`` (``bump``: so are those being computed now)."""
        if bump:
            self.generation += 1
            self._generation_at = at
        marked = 0
        for entry in self._entries.values():
            if entry.stale_since is None:
                entry.stale_since = at
                marked += 1
        return marked

    def clear(self) -> None:
        self._entries.clear()
        self._index.clear()
