"""The static cost model walked over a document (private; see :mod:`graphql_facade.limits.cost`)."""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)

from graphql_facade.limits._document import (
    MAX_FRAGMENT_NESTING,
    applies,
    argument_value,
    field_definition,
    fragments_of,
    is_skipped,
)
from graphql_facade.limits.errors import LimitCode, LimitError

__all__ = [
    "CONNECTION_COST",
    "COST_WEIGHT",
    "DEFAULT_MAX_PAGE_SIZE",
    "OBJECT_COST",
    "ROOT_BASE",
    "StaticWalker",
    "is_connection",
    "own_cost",
    "runtime_types",
]

DEFAULT_MAX_PAGE_SIZE = 100
OBJECT_COST = 1
CONNECTION_COST = 2
MUTATION_COST = 10
SUBSCRIPTION_COST = 1
ROOT_BASE = {OperationType.MUTATION: MUTATION_COST, OperationType.SUBSCRIPTION: SUBSCRIPTION_COST}
_PAGE_ARGS = ("first", "last")
#: The key of a Strawberry field's ``metadata`` that sets the field's own cost in place of
#: ``OBJECT_COST`` (``strawberry.field(metadata={COST_WEIGHT: 100})``): for a field whose work its shape
#: does not tell (an analytics answer computed over a window of facts).
COST_WEIGHT = "mes_cost"

Cost = tuple[int, int]  # (fixed cost, cost per connection item)


def is_connection(named: GraphQLNamedType) -> bool:
    return bool(is_object_type(named) or is_abstract_type(named)) and named.name.endswith("Connection")


def own_cost(field: GraphQLField) -> int:
    """What an object field costs itself: its declared ``COST_WEIGHT``, else ``OBJECT_COST``."""
    definition = (field.extensions or {}).get("strawberry-definition")
    weight = (getattr(definition, "metadata", None) or {}).get(COST_WEIGHT)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) and weight >= 0 else OBJECT_COST


def runtime_types(schema: GraphQLSchema, named: Any) -> list[GraphQLObjectType]:
    if is_abstract_type(named):
        return list(schema.get_possible_types(named))
    return [named] if is_object_type(named) else []


def _pagination_error(code: LimitCode, path: tuple[str | int, ...], message: str, **extra: Any) -> LimitError:
    field = ".".join(str(p) for p in path)
    return LimitError(code, f"{message} on field '{field}'.", extensions={"field": field, **extra})


class StaticWalker:
    """Recursive cost of selection sets; static unless constructed with result data."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any], max_page_size: int
    ) -> None:
        self.schema = schema
        self.fragments = fragments_of(document)
        self.variables = variables
        self.max_page_size = max_page_size
        self._memo: dict[tuple[Any, ...], Cost] = {}
        self.active: list[str] = []

    # -- static ---------------------------------------------------------------------

    def page_size(self, node: FieldNode, field: GraphQLField, path: tuple[str | int, ...]) -> int:
        if not any(name in field.args for name in _PAGE_ARGS):
            return self.max_page_size
        sizes: list[int] = []
        for name in _PAGE_ARGS:
            value = argument_value(node, field, name, self.variables)
            if value is None:
                continue
            integral = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
            if not integral or not 1 <= int(value) <= self.max_page_size:
                raise _pagination_error(
                    LimitCode.PAGINATION_ARGUMENT_OUT_OF_RANGE,
                    path,
                    f"'{name}' must be an integer between 1 and {self.max_page_size}",
                    argument=name,
                    value=value if isinstance(value, int | float | str | None) else str(value),
                    min=1,
                    max=self.max_page_size,
                )
            sizes.append(int(value))
        if not sizes:
            accepted = [name for name in _PAGE_ARGS if name in field.args]
            raise _pagination_error(
                LimitCode.PAGINATION_ARGUMENT_REQUIRED,
                path,
                " or ".join(f"'{name}'" for name in accepted) + " is required",
                arguments=accepted,
            )
        return max(sizes)

    def field(self, node: FieldNode, field: GraphQLField, path: tuple[str | int, ...], base: int | None) -> int:
        named = get_named_type(field.type)
        if is_leaf_type(named) or node.selection_set is None:
            return base or 0
        if is_connection(named):
            size = self.page_size(node, field, path)
            costs = [self.selections(node.selection_set, t, path, True) for t in runtime_types(self.schema, named)]
            best = max((fixed + size * item for fixed, item in costs), default=0)
            return (CONNECTION_COST if base is None else base) + best
        costs = [self.selections(node.selection_set, t, path, False) for t in runtime_types(self.schema, named)]
        return (own_cost(field) if base is None else base) + max((fixed for fixed, _ in costs), default=0)

    def selections(
        self,
        selection_set: SelectionSetNode,
        runtime: GraphQLObjectType,
        path: tuple[str | int, ...],
        connection: bool,
        base: int | None = None,
    ) -> Cost:
        key = (id(selection_set), runtime.name, connection, base)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        fixed = item = 0
        for selection in selection_set.selections:
            if is_skipped(selection, self.variables):
                continue
            if isinstance(selection, FieldNode):
                definition = field_definition(self.schema, runtime, selection.name.value)
                if definition is None or selection.name.value == "__typename":
                    continue
                response_key = (selection.alias or selection.name).value
                cost = self.field(selection, definition, (*path, response_key), base)
                name = selection.name.value
                if connection and name == "edges" and selection.selection_set is not None:
                    item += max(cost - OBJECT_COST, 0)
                elif connection and name == "nodes":
                    item += cost
                else:
                    fixed += cost
            else:
                sub = self.fragment_selection_set(selection, runtime)
                if sub is not None:
                    f, i = self._nested(sub, runtime, path, connection, base)
                    fixed, item = fixed + f, item + i
        self._memo[key] = (fixed, item)
        return fixed, item

    def _nested(
        self, sub: tuple[str | None, SelectionSetNode], runtime: GraphQLObjectType, path: Any, conn: bool, base: Any
    ) -> Cost:
        name, selection_set = sub
        if name is None:
            return self.selections(selection_set, runtime, path, conn, base)
        if name in self.active:
            return 0, 0  # a fragment cycle; validation (NoFragmentCycles) rejects the document
        if len(self.active) >= MAX_FRAGMENT_NESTING:
            raise LimitError(LimitCode.QUERY_TOO_DEEP, "Fragments are nested too deeply.")
        self.active.append(name)
        try:
            return self.selections(selection_set, runtime, path, conn, base)
        finally:
            self.active.pop()

    def fragment_selection_set(
        self, selection: Any, runtime: GraphQLObjectType
    ) -> tuple[str | None, SelectionSetNode] | None:
        """(fragment name or None for inline, selection set) when the fragment applies."""
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            name: str | None = None
            selection_set = selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            fragment = self.fragments.get(selection.name.value)
            if fragment is None:
                return None
            condition, name, selection_set = fragment.type_condition, fragment.name.value, fragment.selection_set
        else:
            return None
        target = None if condition is None else self.schema.get_type(condition.name.value)
        if condition is not None and target is None:
            return None
        return (name, selection_set) if applies(self.schema, target, runtime) else None
