"""Stage: response-cache lookup. Where an operation's answer is kept, and an operator's hit.

Operators look up before anything is parsed (their hits cost nothing and touch no bucket);
partners look up after admission, so a hit is charged and then refunded down to the cost
measured when the entry was computed (see :mod:`graphql_facade.pipeline.settle`).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql_facade.auth import Viewer
from graphql_facade.caching import CachedResponse, ResponseCache
from graphql_facade.limits import BucketState, Limits, cost_extension
from graphql_facade.pipeline.request import Operation, Outcome, response_body

__all__ = ["CacheLookup", "CacheSlot", "operator_hit"]


@dataclass(frozen=True, slots=True)
class CacheSlot:
    """The response-cache entry of one operation (audience, tenant, document, name, variables, version)."""

    responses: ResponseCache
    key: str

    async def get(self) -> CachedResponse | None:
        return await self.responses.get(self.key)

    async def put(self, data: bytes, cost: int | None) -> None:
        await self.responses.put(self.key, data, cost)


class CacheLookup:
    """Which operations are cached: every query of operators, partners' too unless switched off."""

    def __init__(self, responses: ResponseCache | None, *, partners: bool) -> None:
        self._responses = responses
        self._partners = partners

    def slot(self, viewer: Viewer, op: Operation, document_id: str) -> CacheSlot | None:
        """The entry of ``op`` for ``viewer`` (``document_id``: the query's or the persisted hash), or None."""
        responses = self._responses
        if responses is None or (viewer.is_partner and not self._partners):
            return None
        key = responses.key(
            scope=viewer.scope, document_id=document_id, operation_name=op.operation_name, variables=op.variables
        )
        return CacheSlot(responses, key)


def operator_hit(hit: CachedResponse, limits: Limits) -> Outcome:
    """An operator's cached answer: nothing was charged, the cost is the one measured at store time."""
    cost = hit.cost or 0
    extensions = {"cost": cost_extension(cost, cost, BucketState.unthrottled(limits))}
    return Outcome(response_body(hit.data, None, extensions), cache="hit")
