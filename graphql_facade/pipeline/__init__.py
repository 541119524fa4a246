"""The request pipeline of one GraphQL operation over HTTP, in named stages.

::

    (variables)        their nesting and size (limits.check_variables)
    prepare.identify   APQ: the document's text and id (a hash-only request keeps its hash)
    lookup             operators: a response-cache hit (fresh, or stale within the bound) answers here,
                       before any parsing; a stale one is recomputed in the background
    prepare            tokens, parse (cached), operation, depth/aliases, type, validation (cached), cost
    admit              submissions per minute, cost bucket (partners; operators are measured only)
    lookup             partners: a hit answers here, refunded down to its measured cost (queries of
                       data no event announces, ``response_cache.LIVE_FIELDS``, are never cached)
    fetch              a miss waits for the key's one computation (execute, then settle's answer)
    execute            a compiled plan (queries) or Strawberry runs the document within the request timeout
    settle             actual cost and refund, extensions.cost and RateLimit headers, metrics; a cached
                       query's answer (data, cost, what it reads) for the response cache to store

Each stage is a small object over the facade's parts, tested on its own; :class:`Pipeline` strings
them together. The HTTP endpoint (:mod:`graphql_facade.endpoint`) parses the request, authenticates,
applies fair admission (:class:`FairGate`) and the request limits, and runs the pipeline per
operation.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.limits import Limits, check_variables
from graphql_facade.pipeline.admit import Admit, FairGate
from graphql_facade.pipeline.execute import Execute, Executed
from graphql_facade.pipeline.lookup import CacheLookup, CacheSlot, operator_hit
from graphql_facade.pipeline.prepare import Prepare, Prepared, Source
from graphql_facade.pipeline.request import Operation, Outcome, operation_from
from graphql_facade.pipeline.settle import Settle
from graphql_facade.response_cache import Answer, Compute, Positions

if TYPE_CHECKING:
    from graphql_facade.runtime import Facade

__all__ = [
    "Admit",
    "CacheLookup",
    "CacheSlot",
    "Execute",
    "Executed",
    "FairGate",
    "Operation",
    "Outcome",
    "Pipeline",
    "Prepare",
    "Prepared",
    "Settle",
    "Source",
    "operation_from",
]


class Pipeline:
    def __init__(self, facade: Facade) -> None:
        self.lookup = CacheLookup(facade.responses, partners=facade.settings.response_cache_partners)
        self.prepare = Prepare(facade.apq, facade.guard, facade.schemas)
        self.admit = Admit(facade.guard)
        self.execute = Execute(facade.context, facade.plans)
        self.settle = Settle(facade.guard)

    async def run(
        self,
        viewer: Viewer,
        limits: Limits,
        op: Operation,
        allowed: Collection[StrawberryOperationType],
        *,
        min_position: str | None = None,
        db_positions: Positions | None = None,
    ) -> Outcome:
        """The outcome of one operation; limits and bad requests raise LimitError / FacadeError.

        ``min_position``: the request's ``x-mes-min-position`` (read-your-writes, see ``lookup``);
        ``db_positions``: database positions the answer must reflect (``graphql_facade.read_your_writes``).
        """
        check_variables(op.variables, limits)
        source = await self.prepare.identify(op)
        slot = self.lookup.slot(viewer, op, source.document_id, min_position, db_positions)
        if slot is not None and not viewer.is_partner:
            hit = slot.serve()
            if hit is not None:
                if slot.stale:
                    slot.refresh(self.computation(viewer, limits, op, allowed, source, None))
                return operator_hit(hit, limits, slot.state.value)
        prepared = await self.prepare(viewer, limits, op, source, allowed)
        if isinstance(prepared, Outcome):
            return prepared
        admission = await self.admit(viewer, limits, prepared)
        if slot is None or prepared.kind != "query" or prepared.live:
            result = await self.execute(viewer, limits, prepared, op, allowed, source.document_id)
            return await self.settle(viewer, admission, prepared, result)
        compute = self.computation(viewer, limits, op, allowed, source, prepared)
        if viewer.is_partner:
            hit = slot.serve()
            if hit is not None:
                slot.refresh(compute)
                return await self.settle.cached(admission, prepared, hit, slot.state.value)
        fetched = await slot.fetch(compute)
        if fetched.answer is None and fetched.entry is not None:
            return await self.settle.cached(admission, prepared, fetched.entry, fetched.state.value)
        assert fetched.answer is not None
        return await self.settle.answered(viewer, admission, prepared, fetched.answer, fetched.state.value)

    def computation(
        self,
        viewer: Viewer,
        limits: Limits,
        op: Operation,
        allowed: Collection[StrawberryOperationType],
        source: Source,
        prepared: Prepared | None,
    ) -> Compute[Executed]:
        """One computation of a cached query (preparing it first when the request has not)."""

        async def compute() -> Answer[Executed]:
            ready = prepared
            if ready is None:
                made = await self.prepare(viewer, limits, op, source, allowed)
                if isinstance(made, Outcome):
                    raise RuntimeError(f"a cached document no longer prepares (HTTP {made.status})")
                ready = made
            result = await self.execute(viewer, limits, ready, op, allowed, source.document_id)
            return await self.settle.answer(viewer, limits, ready, op, result)

        return compute
