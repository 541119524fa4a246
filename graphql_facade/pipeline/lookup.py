"""Stage: response-cache lookup. Where an operation's answer is kept, and how a request gets it.

Operators look up before anything is parsed (their hits cost nothing and touch no bucket);
partners look up after admission, so a hit is charged and then refunded down to the cost
measured when the entry was computed (see :mod:`graphql_facade.pipeline.settle`).

:meth:`CacheSlot.serve` answers a fresh entry, or a stale one within the staleness bound (then one
recomputation starts in the background: :meth:`CacheSlot.refresh`), without awaiting anything;
otherwise the request goes on and :meth:`CacheSlot.fetch` waits for the one computation of the key
(:mod:`graphql_facade.response_cache`). A request carrying ``x-mes-min-position`` is only served an
entry known to reflect those positions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from graphql_facade.auth import Viewer
from graphql_facade.caching import CachedResponse
from graphql_facade.limits import BucketState, Limits, cost_extension
from graphql_facade.metrics import CACHE_LOOKUPS, CACHE_STALE_AGE
from graphql_facade.pipeline.request import Operation, Outcome, bad_request, response_body
from graphql_facade.response_cache import (
    Compute,
    Entry,
    Fetched,
    MinPositionError,
    Positions,
    ResponseCache,
    State,
    parse_min_positions,
)

__all__ = ["CacheLookup", "CacheSlot", "operator_hit"]

#: What a lookup ends as (an expired entry ends as a miss, a wait or a bypass).
_COUNTERS: dict[State, Any] = {
    state: CACHE_LOOKUPS.labels("response", state.value) for state in State if state is not State.EXPIRED
}
_HIT = _COUNTERS[State.HIT]


@dataclass(slots=True)
class CacheSlot:
    """The response-cache entry of one operation (audience, tenant, document, name, variables)."""

    responses: ResponseCache[Any]
    key: str
    #: The positions the request must see (``x-mes-min-position``), if it said.
    needed: Positions | None = None
    #: How :meth:`serve` found the entry (``hit`` or ``stale`` when it answered).
    state: State = State.MISS
    entry: Entry | None = None

    def serve(self) -> Entry | None:
        """The entry when it may answer now (fresh, or stale within the bound), else None."""
        entry = self.peek()
        if entry is not None:
            self.count()
        return entry

    def peek(self) -> Entry | None:
        """Like :meth:`serve`, without counting the lookup yet (:meth:`count` once it answers)."""
        state, entry = self.responses.lookup(self.key, self.needed)
        self.state, self.entry = state, entry
        return entry if state is State.HIT or state is State.STALE else None

    def count(self) -> None:
        """Count the answer :meth:`peek` found (the lookup metrics, the stale answer's age)."""
        if self.state is State.HIT:
            _HIT.inc()
        elif self.state is State.STALE:
            _COUNTERS[State.STALE].inc()
            since = self.entry.stale_since if self.entry is not None else None
            if since is not None:
                CACHE_STALE_AGE.observe(max(0.0, time.monotonic() - since))

    @property
    def stale(self) -> bool:
        """Whether :meth:`serve` answered a stale entry (then :meth:`refresh` it)."""
        return self.state is State.STALE

    def refresh(self, compute: Compute[Any]) -> None:
        """After a stale answer: recompute it in the background (once per key and interval)."""
        if self.state is State.STALE and self.entry is not None:
            self.responses.refresh(self.key, self.entry, compute)

    async def fetch(self, compute: Compute[Any]) -> Fetched[Any]:
        """An answer for a request :meth:`serve` could not answer (joined, computed, or found meanwhile)."""
        fetched = await self.responses.fetch(self.key, self.needed, compute)
        _COUNTERS[fetched.state].inc()
        return fetched


class CacheLookup:
    """Which operations are cached: every query of operators, partners' too unless switched off."""

    def __init__(self, responses: ResponseCache[Any] | None, *, partners: bool) -> None:
        self._responses = responses
        self._partners = partners

    def slot(
        self,
        viewer: Viewer,
        op: Operation,
        document_id: str,
        min_position: str | None = None,
        db_positions: Positions | None = None,
    ) -> CacheSlot | None:
        """The entry of ``op`` for ``viewer`` (``document_id``: the query's or the persisted hash), or None.

        ``min_position``: the request's ``x-mes-min-position`` header (``BAD_REQUEST`` when malformed);
        ``db_positions``: the caller's recent database positions (``db:<service>``; entries record none,
        so a request that has any bypasses the cached answer).
        """
        responses = self._responses
        if responses is None or (viewer.is_partner and not self._partners):
            return None
        try:
            needed = parse_min_positions(min_position) if min_position else None
        except MinPositionError as err:
            raise bad_request(str(err)) from None
        if db_positions:
            needed = {**(needed or {}), **db_positions}
        key = responses.key(
            scope=viewer.scope, document_id=document_id, operation_name=op.operation_name, variables=op.variables
        )
        return CacheSlot(responses, key, needed)


def operator_hit(hit: Entry | CachedResponse, limits: Limits, cache: str = "hit") -> Outcome:
    """An operator's cached answer: nothing was charged, the cost is the one measured at store time.

    The body is the same for every operator hit of an entry: it is built once per entry and limits.
    """
    entry = hit if isinstance(hit, Entry) else None
    body = entry.memo(limits) if entry is not None else None
    if body is None:
        cost = hit.cost or 0
        extensions = {"cost": cost_extension(cost, cost, BucketState.unthrottled(limits))}
        body = response_body(hit.data, None, extensions)
        if entry is not None:
            entry.keep(limits, body)
    return Outcome(body, cache=cache)
