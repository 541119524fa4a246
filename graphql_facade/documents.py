"""Parser and validation caches (Strawberry spends most of a small request validating).

The HTTP pipeline parses and validates through :class:`DocumentCache` before it checks
limits and cost; execution then reuses that work through :class:`DocumentCaching`, which
also serves WebSocket operations (they do not go through the HTTP pipeline). Entries are
keyed by the query text (per schema for validation), bounded LRU.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from graphql import DocumentNode, GraphQLError, parse, specified_rules
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

from graphql_facade.errors import validation_error
from graphql_facade.strawberry_internals import graphql_schema, validate

if TYPE_CHECKING:
    from strawberry import Schema

__all__ = ["DocumentCache", "DocumentCaching", "Lru"]

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = max(1, maxsize)
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._maxsize:
            self._items.popitem(last=False)


class DocumentCache:
    """Parsed documents by query text, validation results by query text, for one schema.

    ``graphql`` is the graphql-core schema of ``schema`` (what validation and cost analysis walk).
    """

    def __init__(self, schema: Schema, *, maxsize: int, introspection: bool, hide_suggestions: bool) -> None:
        self.schema = schema
        self.graphql = graphql_schema(schema)
        self.hide_suggestions = hide_suggestions
        rules: list[type[ASTValidationRule]] = list(specified_rules)
        if not introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self._rules = tuple(rules)
        self._parsed: Lru[str, DocumentNode] = Lru(maxsize)
        self._validated: Lru[str, tuple[GraphQLError, ...]] = Lru(maxsize)

    def parse(self, query: str) -> DocumentNode:
        """The document of ``query``; raises ``GraphQLSyntaxError`` (not cached)."""
        document = self._parsed.get(query)
        if document is None:
            document = parse(query)
            self._parsed.put(query, document)
        return document

    def validate(self, query: str, document: DocumentNode | None = None) -> tuple[GraphQLError, ...]:
        """Validation errors of ``query`` in the public shape (empty when valid)."""
        errors = self._validated.get(query)
        if errors is None:
            doc = document if document is not None else self.parse(query)
            found = validate(self.graphql, doc, self._rules)
            errors = tuple(validation_error(e, hide_suggestions=self.hide_suggestions) for e in found)
            self._validated.put(query, errors)
        return errors


class DocumentCaching(SchemaExtension):
    """Reuses the HTTP pipeline's document (``context.prepared``), else the cache."""

    def __init__(self, documents: DocumentCache) -> None:
        super().__init__()
        self._documents = documents

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        prepared = getattr(ctx.context, "prepared", None)
        if prepared is not None:
            ctx.graphql_document = prepared.document
        elif ctx.query:
            # On a syntax error Strawberry parses again (uncached) and reports it.
            with contextlib.suppress(GraphQLError):
                ctx.graphql_document = self._documents.parse(ctx.query)
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        prepared = getattr(ctx.context, "prepared", None)
        if prepared is not None and prepared.validated:
            ctx.pre_execution_errors = []
        elif ctx.query and ctx.graphql_document is not None:
            ctx.pre_execution_errors = list(self._documents.validate(ctx.query, ctx.graphql_document))
        yield
