"""Stage: execute. Strawberry runs the prepared document (its parse and validation are skipped: the
``DocumentCaching`` extension hands it the prepared document) within the request timeout."""

from __future__ import annotations

from collections.abc import Callable, Collection

from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.context import PreparedDocument, RequestContext
from graphql_facade.limits import Limits, run_with_timeout
from graphql_facade.pipeline.prepare import Prepared
from graphql_facade.pipeline.request import Operation

__all__ = ["ContextFactory", "Execute"]

ContextFactory = Callable[[Viewer, PreparedDocument], RequestContext]


class Execute:
    def __init__(self, context: ContextFactory) -> None:
        self._context = context

    async def __call__(
        self,
        viewer: Viewer,
        limits: Limits,
        prepared: Prepared,
        op: Operation,
        allowed: Collection[StrawberryOperationType],
    ) -> ExecutionResult:
        """The result; ``TIMEOUT`` (a LimitError) when it takes longer than ``limits.request_timeout_s``."""
        context = self._context(viewer, PreparedDocument(prepared.document))
        execution = prepared.schema.execute(
            prepared.query,
            variable_values=op.variables,
            context_value=context,
            operation_name=op.operation_name,
            allowed_operation_types=allowed,
        )
        return await run_with_timeout(execution, limits.request_timeout_s)
