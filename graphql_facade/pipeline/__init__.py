"""The request pipeline of one GraphQL operation over HTTP, in named stages.

::

    prepare.identify   APQ: the document's text and id (a hash-only request keeps its hash)
    lookup             operators: a response-cache hit answers here, before any parsing
    prepare            tokens, parse (cached), operation, depth/aliases, type, validation (cached), cost
    admit              submissions per minute, cost bucket (partners; operators are measured only)
    lookup             partners: a hit answers here, refunded down to its measured cost
    execute            a compiled plan (queries) or Strawberry runs the document within the request timeout
    settle             actual cost and refund, extensions.cost and RateLimit headers, cache store, metrics

Each stage is a small object over the facade's parts, tested on its own; :class:`Pipeline` strings
them together. The HTTP endpoint (:mod:`graphql_facade.endpoint`) parses the request, authenticates,
applies the request limits and the in-flight cap (:class:`InflightGate`), and runs the pipeline per
operation.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.limits import Limits
from graphql_facade.pipeline.admit import Admit, InflightGate
from graphql_facade.pipeline.execute import Execute, Executed
from graphql_facade.pipeline.lookup import CacheLookup, CacheSlot, operator_hit
from graphql_facade.pipeline.prepare import Prepare, Prepared, Source
from graphql_facade.pipeline.request import Operation, Outcome, operation_from
from graphql_facade.pipeline.settle import Settle

if TYPE_CHECKING:
    from graphql_facade.runtime import Facade

__all__ = [
    "Admit",
    "CacheLookup",
    "CacheSlot",
    "Execute",
    "Executed",
    "InflightGate",
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
        self, viewer: Viewer, limits: Limits, op: Operation, allowed: Collection[StrawberryOperationType]
    ) -> Outcome:
        """The outcome of one operation; limits and bad requests raise LimitError / FacadeError."""
        source = await self.prepare.identify(op)
        slot = self.lookup.slot(viewer, op, source.document_id)
        if slot is not None and not viewer.is_partner:
            hit = await slot.get()
            if hit is not None:
                return operator_hit(hit, limits)
        prepared = await self.prepare(viewer, limits, op, source, allowed)
        if isinstance(prepared, Outcome):
            return prepared
        admission = await self.admit(viewer, limits, prepared)
        if prepared.kind != "query":
            slot = None
        if slot is not None and viewer.is_partner:
            hit = await slot.get()
            if hit is not None:
                return await self.settle.cached(admission, prepared, hit)
        result = await self.execute(viewer, limits, prepared, op, allowed, source.document_id)
        return await self.settle(viewer, admission, prepared, result, slot)
