"""The response cache of the facade on a busy floor: bounded staleness, narrow invalidation,
one computation per key, read-your-writes.

* :mod:`~graphql_facade.response_cache.cache`: :class:`ResponseCache` (hit, stale while one
  recomputation runs, wait for the single flight);
* :mod:`~graphql_facade.response_cache.reads` (over :mod:`~graphql_facade.response_cache.selections`)
  and :mod:`~graphql_facade.response_cache.tags`: what an answer depends on and what each event
  touches;
* :mod:`~graphql_facade.response_cache.entries`: the answers in memory, the tag index, the log
  of recent events;
* :mod:`~graphql_facade.response_cache.flights`: single flight and bounded background work;
* :mod:`~graphql_facade.response_cache.shared`: answers and leases shared through Redis;
* :mod:`~graphql_facade.response_cache.positions`: ``x-mes-min-position`` (read-your-writes);
* :mod:`~graphql_facade.response_cache.config`: the knobs.
"""

from __future__ import annotations

from graphql_facade.response_cache.cache import Answer, Compute, Computed, Fetched, ResponseCache, State
from graphql_facade.response_cache.config import CacheConfig
from graphql_facade.response_cache.entries import Entry
from graphql_facade.response_cache.positions import (
    MIN_POSITION_HEADER,
    MinPositionError,
    Positions,
    format_positions,
    parse_min_positions,
)
from graphql_facade.response_cache.reads import LIVE_FIELDS, reads_of, selects_live
from graphql_facade.response_cache.tags import touches

__all__ = [
    "LIVE_FIELDS",
    "MIN_POSITION_HEADER",
    "Answer",
    "CacheConfig",
    "Compute",
    "Computed",
    "Entry",
    "Fetched",
    "MinPositionError",
    "Positions",
    "ResponseCache",
    "State",
    "format_positions",
    "parse_min_positions",
    "reads_of",
    "selects_live",
    "touches",
]
