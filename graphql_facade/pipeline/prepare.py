"""Stage: prepare. From the operation's text (or persisted hash) to a parsed, validated, priced document.

``identify`` resolves automatic persisted queries (a hash-only request is looked up later, only
when the cache has no answer for its hash); ``prepare`` checks the tokens, parses (cached), picks
the operation, checks depth and aliases, the operation type (no subscriptions over HTTP, no
mutations over GET), validates (cached) and prices it (pagination arguments, maximum cost).

A document that cannot run is answered here (an :class:`Outcome` with status 400); limits raise
their :class:`~graphql_facade.limits.LimitError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

import orjson
from graphql import DocumentNode, GraphQLSchema, GraphQLSyntaxError, OperationType, get_operation_ast
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.documents import Lru
from graphql_facade.errors import ErrorCode, FacadeError, format_errors, syntax_error
from graphql_facade.limits import (
    LimitGuard,
    Limits,
    Priced,
    QueryStore,
    check_document,
    query_hash,
    resolve_persisted_query,
)
from graphql_facade.pipeline.request import Operation, Outcome, bad_request, error_body
from graphql_facade.response_cache import selects_live
from graphql_facade.schema import FacadeSchema, Schemas
from graphql_facade.usage import note_errors, note_operation_name

__all__ = ["Prepare", "Prepared", "Source"]


@dataclass(frozen=True, slots=True)
class Source:
    """The operation's text (None until a hash-only persisted query is looked up) and its document id."""

    query: str | None
    document_id: str


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document ready to run: parsed, validated and priced."""

    query: str
    schema: FacadeSchema
    #: ``query`` or ``mutation``.
    kind: str
    #: The document on the graphql-core schema, its variables and its requested cost (at most the maximum).
    priced: Priced
    #: It selects data no event announces (``response_cache.LIVE_FIELDS``): never cached.
    live: bool = False

    @property
    def document(self) -> DocumentNode:
        return self.priced.document

    @property
    def graphql(self) -> GraphQLSchema:
        return self.priced.schema

    @property
    def requested(self) -> int:
        return self.priced.requested


def _invalid(errors: list[dict[str, object]]) -> Outcome:
    note_errors(errors)
    return Outcome(error_body(errors), status=400, kind="invalid")


class Prepare:
    def __init__(self, apq: QueryStore, guard: LimitGuard, schemas: Schemas, *, memo_size: int = 4096) -> None:
        self._apq = apq
        self._guard = guard
        self._schemas = schemas
        #: documents that passed the token, depth and alias checks under some limits
        self._passed: Lru[tuple[str, str | None, Limits], bool] = Lru(memo_size)
        #: requested costs by document, operation, limits and variables
        self._prices: Lru[tuple[str, str | None, Limits, bytes], int] = Lru(memo_size)

    async def identify(self, op: Operation) -> Source:
        """The text and id of the document (persisted queries registered or resolved, except hash-only ones)."""
        hashed = op.persisted_hash
        if hashed is not None:
            return Source(None, hashed)
        query = await resolve_persisted_query(self._apq, op.query, op.extensions)
        return Source(query, query_hash(query))

    async def __call__(
        self,
        viewer: Viewer,
        limits: Limits,
        op: Operation,
        source: Source,
        allowed: Collection[StrawberryOperationType],
    ) -> Prepared | Outcome:
        query = source.query
        if query is None:
            query = await resolve_persisted_query(self._apq, op.query, op.extensions)
        passed = (source.document_id, op.operation_name, limits)
        known = self._passed.get(passed) is not None  # tokens, depth and aliases already checked
        if not known:
            self._guard.check_query(query, limits)
        schema, documents = self._schemas.for_audience(viewer.audience)
        try:
            document = documents.parse(query)
        except GraphQLSyntaxError as err:
            return _invalid(format_errors([syntax_error(err)]))
        operation = get_operation_ast(document, op.operation_name)
        if operation is None:
            message = (
                f"Unknown operation named '{op.operation_name}'."
                if op.operation_name
                else "Provide `operationName` to pick one of the operations in the document."
            )
            return _invalid([bad_request(message).to_dict()])
        note_operation_name(operation.name.value if operation.name else None)
        if not known:
            check_document(document, limits, op.operation_name)  # depth and aliases, before validation walks it
        if operation.operation is OperationType.SUBSCRIPTION:
            raise bad_request("Subscriptions are served over WebSocket (graphql-transport-ws) on this path.")
        kind = operation.operation.value
        if StrawberryOperationType(kind) not in allowed:
            raise FacadeError(ErrorCode.BAD_REQUEST, "Mutations are not allowed over GET; use POST.", http_status=405)
        errors = documents.validate(query, document)
        if errors:
            return _invalid(format_errors(list(errors)))
        if not known:
            self._passed.put(passed, True)
        return Prepared(
            query,
            schema,
            kind,
            self._price(limits, Priced(documents.graphql, document, op.variables, op.operation_name), source),
            live=kind == "query" and selects_live(document, op.operation_name),
        )

    def _price(self, limits: Limits, operation: Priced, source: Source) -> Priced:
        """The requested cost, computed once per document, operation, limits and variables."""
        try:
            variables = orjson.dumps(operation.variables, option=orjson.OPT_SORT_KEYS) if operation.variables else b""
        except TypeError:  # not plain JSON (integers beyond 64 bits): not cached
            return self._guard.price(limits, operation)
        key = (source.document_id, operation.operation_name, limits, variables)
        requested = self._prices.get(key)
        if requested is None:
            priced = self._guard.price(limits, operation)
            self._prices.put(key, priced.requested)
            return priced
        return dataclasses.replace(operation, requested=requested)
