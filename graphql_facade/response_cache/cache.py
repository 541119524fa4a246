"""The response cache: answers served from memory, marked stale by events, recomputed once per key.

For one key (audience and tenant, document, operation, variables) a request finds:

* **hit**: a fresh answer: served as is (no await, nothing else runs);
* **stale**: an event touched the answer less than ``max_stale`` ago: served as is, and one
  recomputation starts in the background unless one runs or started less than
  ``refresh_interval`` ago;
* **expired** (stale for longer), **miss** (no answer) or **bypass** (the request needs newer
  positions, :mod:`~graphql_facade.response_cache.positions`): the request waits for a
  computation of the key, joining the one that runs if any (single flight), else starting it.

A computation records the stream positions the replica had seen when it started; its answer is
stored with them and with the tags it reads, and is stale from the start if an event received
meanwhile touched it. With a shared cache (Redis) an answer computed by another replica is taken
when this replica's events say it is still fresh, and one replica at a time computes a key
(:mod:`~graphql_facade.response_cache.shared`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import orjson

from graphql_facade.caching import Cache, canonical_json
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.metrics import CACHE_ENTRIES, CACHE_INVALIDATIONS
from graphql_facade.response_cache.config import CacheConfig
from graphql_facade.response_cache.entries import Entry, EntryTable, Touch, TouchLog
from graphql_facade.response_cache.flights import Flights
from graphql_facade.response_cache.positions import Positions, covers
from graphql_facade.response_cache.shared import SharedAnswers, Stored
from graphql_facade.response_cache.tags import touches

__all__ = ["Answer", "Compute", "Computed", "Fetched", "ResponseCache", "State"]

R = TypeVar("R")
_ROUNDS = 3


def _canonical(variables: Mapping[str, Any] | None) -> bytes:
    """Key material for variables: equal values (keys in any order) give equal bytes."""
    if not variables:
        return b"{}"
    try:
        return orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson refuses (integers beyond 64 bits)
        return canonical_json(variables).encode()


class State(StrEnum):
    HIT = "hit"
    STALE = "stale"
    EXPIRED = "expired"
    MISS = "miss"
    BYPASS = "bypass"
    #: Answered by a computation another request started.
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Answer(Generic[R]):
    """What one computation produced."""

    result: R
    #: The serialized ``data`` member (None when there is none).
    data: bytes | None
    cost: int | None
    #: The tags it reads; None when it must not be cached (it has errors).
    reads: frozenset[str] | None


Compute = Callable[[], Awaitable[Answer[R]]]


@dataclass(frozen=True, slots=True)
class Computed(Generic[R]):
    #: None when the answer was another replica's (taken from the shared cache).
    answer: Answer[R] | None
    entry: Entry | None


@dataclass(frozen=True, slots=True)
class Fetched(Generic[R]):
    """What a request that could not be served at once got: an entry, or an answer computed for it."""

    state: State
    entry: Entry | None
    answer: Answer[R] | None


class ResponseCache(Generic[R]):
    def __init__(self, config: CacheConfig, hub: EventHub, shared: Cache | None = None) -> None:
        self.config = config
        self._hub = hub
        log = TouchLog(config.touch_log)
        self._table = EntryTable(max_entries=config.max_entries, log=log, grace_s=config.max_stale_s)
        self._flights: Flights[Computed[R]] = Flights(max_background=config.refresh_concurrency)
        self._shared = (
            SharedAnswers(shared, ttl_of=config.ttl_of, lease_s=config.lease_s) if shared is not None else None
        )
        hub.add_listener(self._on_event)
        hub.add_reset_listener(self._on_reset)

    @property
    def table(self) -> EntryTable:
        return self._table

    def key(
        self, *, scope: str, document_id: str, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> str:
        """``scope`` is the audience and tenant (``operator`` or ``partner:<id>``); it is always part of the key."""
        material = b"\x1f".join((document_id.encode(), (operation_name or "").encode(), _canonical(variables)))
        return f"resp:{scope}:{hashlib.sha256(material).hexdigest()}"

    # -- serving ---------------------------------------------------------------------------

    def lookup(self, key: str, needed: Positions | None = None) -> tuple[State, Entry | None]:
        """What the request can be answered with now (no await)."""
        now = time.monotonic()
        entry = self._table.get(key, now)
        if entry is None:
            return State.MISS, None
        stale = entry.stale_since
        if needed is not None and not covers(entry.positions, needed, seen=self._hub.seen, fresh=stale is None):
            return State.BYPASS, entry
        if stale is None:
            return State.HIT, entry
        return (State.STALE if now - stale <= self.config.max_stale_s else State.EXPIRED), entry

    def refresh(self, key: str, entry: Entry, compute: Compute[R]) -> None:
        """Recompute a stale ``entry`` in the background (unless it runs, or ran too recently)."""
        now = time.monotonic()
        if now < entry.refresh_after or self._flights.get(key) is not None:
            return
        if self._flights.start(key, lambda: self._compute(key, compute, adopt=True), background=True) is not None:
            entry.refresh_after = now + self.config.refresh_interval_s

    async def fetch(self, key: str, needed: Positions | None, compute: Compute[R]) -> Fetched[R]:
        """Wait for an answer good enough for this request: one computation per key at a time."""
        for _ in range(_ROUNDS):
            state, entry = self.lookup(key, needed)
            if state is State.HIT or state is State.STALE:
                if state is State.STALE and entry is not None:
                    self.refresh(key, entry, compute)
                return Fetched(state, entry, None)
            flight = self._flights.get(key)
            led = flight is None
            if flight is None:
                flight = self._flights.start(key, lambda: self._compute(key, compute, adopt=needed is None))
                assert flight is not None  # foreground computations are never deferred
            computed = await flight.wait()
            if led or computed.entry is None:
                # Ours, or not cacheable (errors): everyone who waited for it shares this answer.
                mine = State.BYPASS if state is State.BYPASS else State.MISS
                return Fetched(mine if led else State.WAIT, computed.entry, computed.answer)
            now_state, now_entry = self.lookup(key, needed)
            if now_state is State.HIT or now_state is State.STALE:
                answer = computed.answer if now_entry is computed.entry else None
                return Fetched(State.WAIT, now_entry, answer)
            # That computation started before what this request must see: wait for a newer one.
        computed = await self._compute(key, compute, adopt=False)
        return Fetched(State.MISS, computed.entry, computed.answer)

    # -- computing -------------------------------------------------------------------------

    async def _compute(self, key: str, compute: Compute[R], *, adopt: bool) -> Computed[R]:
        positions = dict(self._hub.seen)
        generation = self._table.generation
        started = time.monotonic()
        shared = self._shared
        leased = False
        try:
            if shared is not None:
                adopted = await self._adopt(key) if adopt else None
                if adopted is None and shared.leases:
                    leased = await shared.lease(key)
                    if not leased:
                        await shared.wait_released(key)
                        adopted = await self._adopt(key) if adopt else None
                if adopted is not None:
                    return Computed(None, adopted)
            answer = await compute()
            entry: Entry | None = None
            if answer.reads is not None and answer.data is not None:
                ttl, interval = self.config.ttl_of(answer.reads), self.config.refresh_interval_s
                fresh = Entry(answer.data, answer.cost, positions, answer.reads, started, started + ttl)
                fresh.refresh_after = started + interval  # the next one starts an interval after this one
                entry = self._table.put(key, fresh, generation)
                CACHE_ENTRIES.set(len(self._table))
                if shared is not None:
                    await shared.put(key, Stored(answer.data, answer.cost, positions, answer.reads, time.time()))
            return Computed(answer, entry)
        finally:
            if leased and shared is not None:
                await shared.release(key)

    async def _adopt(self, key: str) -> Entry | None:
        """Another replica's answer from the shared cache, when no event this replica saw touched it."""
        assert self._shared is not None
        stored = await self._shared.get(key)
        if stored is None:
            return None
        if self._table.log.first_touch_of(stored.positions, stored.reads, self._hub.seen) is not None:
            return None
        now = time.monotonic()
        remaining = stored.computed + self.config.ttl_of(stored.reads) - time.time()
        entry = Entry(stored.data, stored.cost, stored.positions, stored.reads, now, now + remaining)
        entry.refresh_after = now + self.config.refresh_interval_s
        return self._table.put(key, entry, self._table.generation)

    # -- events ----------------------------------------------------------------------------

    def _on_event(self, event: EventEnvelope) -> None:
        marked = self._table.touch(Touch(event.stream, event.seq, time.monotonic(), touches(event.subject, event.data)))
        if marked:
            CACHE_INVALIDATIONS.inc(marked)

    def _on_reset(self, positions: Positions | None) -> None:
        """The event source (re)started after ``positions``, or stopped (None): nothing is known fresh."""
        if positions is not None:
            self._table.log.start_at(positions)
        marked = self._table.mark_all(time.monotonic())
        if marked:
            CACHE_INVALIDATIONS.inc(marked)

    async def aclose(self) -> None:
        await self._flights.aclose()
        self._table.clear()
        CACHE_ENTRIES.set(0)
