"""Query cost: static (requested) cost before execution, actual cost after it.

The model follows Shopify's published weights and the IBM cost-directive spec:

* scalar and enum fields (and ``__typename``): **0**;
* object fields: **1** + the cost of their selections; a field may declare its own cost instead of
  the 1 (``strawberry.field(metadata={COST_WEIGHT: n})``) when its shape does not tell its work (the
  analytics fields: ``graphql_facade.schema.analytics.ANALYTICS_COST``);
* interface and union fields: 1 + the **maximum** over the possible object types of the
  selections that apply to that type (fragments on the type, its interfaces or unions);
* connection fields (the unwrapped type name ends with ``Connection``):
  **2 + size * cost of one item** + the cost of the other selections (``pageInfo`` costs 1 like
  any object, ``totalCount`` 0 like any scalar). ``size`` is ``first`` or ``last`` (the larger if
  both are given); the cost of one item is the cost of the ``edges { ... }`` selections without
  the edge wrapper (so ``edges { node { id } }`` costs 1 per item, ``cursor`` 0) plus the cost of
  ``nodes { ... }`` (1 + its selections). Nested connections multiply;
* lists that are not connections: **1 + cost of the selections**, charged once, not per item.
  Such lists are bounded by the schema (order lines ≤ 250, status history) and always
  fetched with their parent, so the single charge prices the extra work, not the row count;
  anything that can grow without bound must be a connection;
* mutation root fields: **10** + the cost of their selected payload; subscription root
  fields: **1** + the cost of their payload; query root fields: as above.

Fields under ``@skip(if: true)`` / ``@include(if: false)`` cost nothing. Variables (with the
defaults of the operation's variable definitions), named and inline fragments are resolved;
persisted queries must be resolved by the caller (see :mod:`graphql_facade.limits.apq`).
Fields selected twice are charged twice (an upper bound). Unknown fields cost 0: validation
rejects them anyway.

Pagination arguments are validated on every connection field before anything runs:
``first``/``last`` must be given (``PAGINATION_ARGUMENT_REQUIRED``) and each given value must be
an integer in 1..``max_page_size`` (``PAGINATION_ARGUMENT_OUT_OF_RANGE``). A schema default
counts as given. A connection field that declares neither argument is charged at
``max_page_size``.

**Actual cost** uses the same model with sizes taken from the result: each field is looked up
in ``data`` by its response key; null objects and connections cost 0, connections charge for the
edges/nodes actually returned (so short pages are refunded), non-connection lists charge
1 + the most expensive item. Mutation root fields keep their base 10 even when null. A field
that is null *because of an error* (an error path runs through it) is charged its requested
cost, and a response without ``data`` is charged the full requested cost: work that failed
half-way is not refunded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
)

from graphql_facade.limits._actual import ActualWalker
from graphql_facade.limits._document import effective_variables
from graphql_facade.limits._static import COST_WEIGHT, DEFAULT_MAX_PAGE_SIZE, ROOT_BASE, StaticWalker, is_connection
from graphql_facade.limits.errors import LimitCode, LimitError
from graphql_facade.limits.tiers import Limits

__all__ = ["COST_WEIGHT", "DEFAULT_MAX_PAGE_SIZE", "actual_cost", "check_cost", "is_connection", "requested_cost"]


def _selected_operation(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> tuple[OperationDefinitionNode, GraphQLObjectType] | None:
    """The operation that would run and its root type; None when it cannot be selected (execution reports that
    error)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    return operation, root


def requested_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    *,
    max_page_size: int = DEFAULT_MAX_PAGE_SIZE,
) -> int:
    """Static cost of the operation that would run; validates ``first``/``last`` on the way.

    Raises :class:`LimitError` (``PAGINATION_ARGUMENT_REQUIRED`` / ``_OUT_OF_RANGE``, or
    ``QUERY_TOO_DEEP`` for absurd fragment nesting). Returns 0 when the operation cannot be
    selected (execution reports that error).
    """
    selected = _selected_operation(schema, document, operation_name)
    if selected is None:
        return 0
    operation, root = selected
    walker = StaticWalker(schema, document, effective_variables(operation, variables), max_page_size)
    base = ROOT_BASE.get(operation.operation)
    try:
        fixed, _ = walker.selections(operation.selection_set, root, (), False, base)
    except RecursionError:
        raise LimitError(LimitCode.QUERY_TOO_DEEP, "The query is nested too deeply.") from None
    return fixed


def check_cost(cost: int, limits: Limits) -> None:
    """``MAX_COST_EXCEEDED`` (extensions ``cost``, ``maxCost``) when ``cost > limits.max_cost``."""
    if cost > limits.max_cost:
        raise LimitError(
            LimitCode.MAX_COST_EXCEEDED,
            f"Query cost is {cost}, which exceeds the single query max cost limit ({limits.max_cost}).",
            extensions={"cost": cost, "maxCost": limits.max_cost},
        )


def actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    data: Mapping[str, Any] | None,
    errors: Iterable[GraphQLError | Mapping[str, Any]] | None = None,
    *,
    max_page_size: int = DEFAULT_MAX_PAGE_SIZE,
) -> int:
    """Cost recomputed with the sizes of the actual result (see the module docstring)."""
    selected = _selected_operation(schema, document, operation_name)
    if selected is None:
        return 0
    operation, root = selected
    if not isinstance(data, Mapping):
        return requested_cost(schema, document, variables, operation_name, max_page_size=max_page_size)
    static = StaticWalker(schema, document, effective_variables(operation, variables), max_page_size)
    walker = ActualWalker(static, errors or ())
    return walker.selections(operation.selection_set, root, data, (), False, ROOT_BASE.get(operation.operation))
