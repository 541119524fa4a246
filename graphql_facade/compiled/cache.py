"""Plans by document hash: compiled once per (audience, document id, operation name) and values of the
variables ``@skip``/``@include`` use; a document the compiler does not take is remembered as such.

Every query is eligible, ad-hoc ones included: compiling costs about as much as one generic
execution of the same document, and the cache is bounded (LRU, ``maxsize`` documents).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode, get_operation_ast
from graphql.execution.values import VariableValues

from graphql_facade.compiled.analytics import with_analytics
from graphql_facade.compiled.fields import TypeSpecs
from graphql_facade.compiled.floor import with_floor
from graphql_facade.compiled.objects import OBJECTS
from graphql_facade.compiled.plan import Plan, Unsupported, compile_plan, directive_variables
from graphql_facade.compiled.roots import OPERATOR_ROOT, PARTNER_ROOT
from graphql_facade.compiled.shifts import with_shifts
from mes_platform.telemetry.logs import get_logger

__all__ = ["Entry", "PlanCache"]

_log = get_logger("mes.facade.compiled")
#: plans per document (one per combination of the @skip/@include variables)
_PLANS_PER_DOCUMENT = 16


@dataclass(slots=True, eq=False)
class Entry:
    """A document's compiled plans; ``operation`` is None when the compiler cannot take it at all."""

    operation: OperationDefinitionNode | None
    conditions: tuple[str, ...] = ()
    plans: dict[tuple[Any, ...], Plan | Unsupported] = field(default_factory=dict)

    def plan(
        self, schema: GraphQLSchema, specs: TypeSpecs, document: DocumentNode, name: str | None, values: VariableValues
    ) -> Plan | None:
        """The plan for these variable values (None: run it on the generic path)."""
        key = tuple(values.coerced.get(v) for v in self.conditions)
        found = self.plans.get(key)
        if found is None:
            try:
                found = compile_plan(schema, specs, document, name, values)
            except Unsupported as reason:
                _log.info("plan_unsupported", operation=name, reason=str(reason))
                found = reason
            if len(self.plans) >= _PLANS_PER_DOCUMENT:
                self.plans.pop(next(iter(self.plans)))
            self.plans[key] = found
        return found if isinstance(found, Plan) else None


class PlanCache:
    """Compiled plans of both audiences, LRU-bounded."""

    def __init__(self, maxsize: int = 1024) -> None:
        self._maxsize = max(1, maxsize)
        self._entries: OrderedDict[tuple[str, str, str | None], Entry] = OrderedDict()
        self.specs: dict[str, TypeSpecs] = {
            "operator": with_analytics({**with_shifts(with_floor(OBJECTS)), **OPERATOR_ROOT}),
            "partner": with_analytics({**OBJECTS, **PARTNER_ROOT}),
        }

    def entry(self, audience: str, document_id: str, document: DocumentNode, name: str | None) -> Entry:
        key = (audience, document_id, name)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        operation = get_operation_ast(document, name)
        if operation is not None and operation.operation.value != "query":
            operation = None
        found = Entry(operation, directive_variables(document) if operation is not None else ())
        self._entries[key] = found
        while len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)
        return found

    def __len__(self) -> int:
        return len(self._entries)
