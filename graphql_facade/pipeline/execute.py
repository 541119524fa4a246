"""Stage: execute. A compiled plan runs the query when there is one (:mod:`graphql_facade.compiled`),
Strawberry runs everything else (mutations, introspection, what the compiler does not take), both
within the request timeout; either way the result has the facade's error shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from graphql.execution.values import get_variable_values
from prometheus_client import Counter
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.compiled import PlanCache, Runner
from graphql_facade.context import PreparedDocument, RequestContext
from graphql_facade.errors import shape_error
from graphql_facade.limits import Limits, run_with_timeout
from graphql_facade.limits._document import effective_variables
from graphql_facade.limits._static import StaticWalker
from graphql_facade.pipeline.prepare import Prepared
from graphql_facade.pipeline.request import Operation

__all__ = ["EXECUTIONS", "ContextFactory", "Execute", "Executed"]

ContextFactory = Callable[[Viewer, PreparedDocument], RequestContext]
EXECUTIONS = Counter(
    "mes_facade_executions_total", "Executed GraphQL operations by path (compiled plan or generic)", ["path"]
)
#: graphql-core's default (``execute(max_coercion_errors=50)``), which Strawberry keeps
_MAX_COERCION_ERRORS = 50


@dataclass(slots=True)
class Executed:
    """The result of one operation: data, errors (client-safe) and the actual cost when it was counted."""

    data: dict[str, Any] | None
    errors: list[GraphQLError] | None
    #: counted during execution; None: the cost walker measures it from ``data``
    actual: int | None = None
    compiled: bool = False


class Execute:
    def __init__(self, context: ContextFactory, plans: PlanCache | None = None) -> None:
        self._context = context
        self._plans = plans

    async def __call__(
        self,
        viewer: Viewer,
        limits: Limits,
        prepared: Prepared,
        op: Operation,
        allowed: Collection[StrawberryOperationType],
        document_id: str = "",
    ) -> Executed:
        """The result; ``TIMEOUT`` (a LimitError) when it takes longer than ``limits.request_timeout_s``."""
        context = self._context(viewer, PreparedDocument(prepared.document))
        compiled = self._compiled(viewer, limits, prepared, op, document_id, context)
        if compiled is not None:
            EXECUTIONS.labels("compiled").inc()
            return await run_with_timeout(compiled, limits.request_timeout_s)
        EXECUTIONS.labels("generic").inc()
        execution = prepared.schema.execute(
            prepared.query,
            variable_values=op.variables,
            context_value=context,
            operation_name=op.operation_name,
            allowed_operation_types=allowed,
        )
        result = await run_with_timeout(execution, limits.request_timeout_s)
        return Executed(result.data, list(result.errors) if result.errors else None)

    def _compiled(
        self,
        viewer: Viewer,
        limits: Limits,
        prepared: Prepared,
        op: Operation,
        document_id: str,
        context: RequestContext,
    ) -> Awaitable[Executed] | None:
        """The compiled run of a query, or None when there is no plan for it."""
        plans = self._plans
        if plans is None or prepared.kind != "query" or not document_id:
            return None
        entry = plans.entry(viewer.audience, document_id, prepared.document, op.operation_name)
        operation = entry.operation
        if operation is None:
            return None
        schema = prepared.graphql
        hide = viewer.is_partner
        values = get_variable_values(
            schema, operation.variable_definitions or (), op.variables or {}, max_errors=_MAX_COERCION_ERRORS
        )
        if isinstance(values, list):  # a request error: nothing runs
            return _done(Executed(None, [shape_error(e, hide_suggestions=hide) for e in values], compiled=True))
        plan = entry.plan(schema, plans.specs[viewer.audience], prepared.document, op.operation_name, values)
        if plan is None:
            return None
        walker: list[StaticWalker] = []

        def static_cost(field: Any, path: list[str | int]) -> int:
            if not walker:
                variables = effective_variables(operation, op.variables)
                walker.append(StaticWalker(schema, prepared.document, variables, limits.max_page_size))
            return walker[0].field(field.nodes[0], field.definition, tuple(path), None)

        runner = Runner(plan, context, values, static_cost)

        async def run() -> Executed:
            data, actual = await runner.run()
            if data is None:
                actual = prepared.requested  # nothing usable came back: charged as requested
            errors = [shape_error(e, hide_suggestions=hide) for e in runner.errors] or None
            return Executed(data, errors, actual, compiled=True)

        return run()


async def _done(result: Executed) -> Executed:
    return result
