"""Structural limits, checked before validation and execution.

* :func:`check_body_size` — the raw HTTP body (``PAYLOAD_TOO_LARGE``, 413);
* :func:`check_batch` — operations in one batched request (``BATCH_TOO_LARGE``);
* :func:`check_variables` — the ``variables`` of one operation: nesting (``VARIABLES_TOO_DEEP``),
  then size as compact JSON (``VARIABLES_TOO_LARGE``); :func:`nesting_depth` measures nesting
  without recursion, stopping as soon as a bound is passed;
* :func:`check_tokens` — lexer tokens of the query text, counted lazily and abandoned as soon
  as the limit is passed, so a huge query is never tokenized in full (``TOO_MANY_TOKENS``);
* :func:`check_document` — depth and aliases of the parsed document (``QUERY_TOO_DEEP``,
  ``TOO_MANY_ALIASES``);
* :func:`check_order_lines`, :func:`check_subscriptions` — input-size limits for resolvers.

Depth counts every selection level, ``edges`` and ``node`` included: in
``{ orders(first: 5) { edges { node { id } } } }`` the depth is 4. Fragments (named and
inline) add no level of their own; their fields count where the fragment is used. Aliases are
counted through fragments, once per use: a fragment with 3 aliases spread twice counts 6.
Both walks are memoized per fragment, so a document cannot blow up the check itself, and
guarded against fragment cycles (a spread of a fragment already being expanded counts
nothing; validation rejects such documents with ``NoFragmentCycles``). Fragment spreads nested
more than 50 deep are refused as ``QUERY_TOO_DEEP``. ``@skip``/``@include`` are ignored here:
the structure of the text is limited, whatever the variables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    Lexer,
    SelectionSetNode,
    Source,
    TokenKind,
)

from graphql_facade.limits._document import MAX_FRAGMENT_NESTING, fragments_of, operations_of
from graphql_facade.limits.errors import LimitCode, LimitError
from graphql_facade.limits.tiers import Limits

__all__ = [
    "DocumentShape",
    "check_batch",
    "check_body_size",
    "check_document",
    "check_order_lines",
    "check_subscriptions",
    "check_tokens",
    "check_variables",
    "nesting_depth",
]


def check_body_size(size: int, limits: Limits) -> None:
    if size > limits.max_body_bytes:
        raise LimitError(
            LimitCode.PAYLOAD_TOO_LARGE,
            f"The request body has {size} bytes; the limit is {limits.max_body_bytes}.",
            extensions={"size": size, "maxBytes": limits.max_body_bytes},
        )


def nesting_depth(value: object, stop_above: int) -> int:
    """How deeply ``value`` nests dicts and lists (a scalar is 0, ``{"a": [1]}`` is 2), without recursion;
    the walk stops at the first container deeper than ``stop_above`` (then ``stop_above + 1``)."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest = 1
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        items = container.values() if isinstance(container, dict) else container
        for item in items:
            if isinstance(item, (dict, list)):
                if depth + 1 > stop_above:
                    return stop_above + 1
                deepest = max(deepest, depth + 1)
                stack.append((item, depth + 1))
    return deepest


def check_variables(variables: Mapping[str, Any] | None, limits: Limits) -> None:
    """``VARIABLES_TOO_DEEP`` past ``max_variables_depth``, ``VARIABLES_TOO_LARGE`` past ``max_variables_bytes``
    (compact JSON; the variables object itself is depth 1)."""
    if not variables:
        return
    depth = nesting_depth(variables, limits.max_variables_depth)
    if depth > limits.max_variables_depth:
        raise LimitError(
            LimitCode.VARIABLES_TOO_DEEP,
            f"The variables nest more than {limits.max_variables_depth} levels deep"
            f" (limit max_variables_depth = {limits.max_variables_depth}).",
            extensions={"limit": "max_variables_depth", "maxDepth": limits.max_variables_depth},
        )
    try:
        size = len(orjson.dumps(variables))
    except TypeError:  # what orjson refuses (integers beyond 64 bits): the standard library's measure
        size = len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limits.max_variables_bytes:
        raise LimitError(
            LimitCode.VARIABLES_TOO_LARGE,
            f"The variables have {size} bytes (limit max_variables_bytes = {limits.max_variables_bytes}).",
            extensions={"limit": "max_variables_bytes", "size": size, "maxBytes": limits.max_variables_bytes},
        )


def check_batch(operations: int, limits: Limits) -> None:
    if operations < 1:
        raise LimitError(LimitCode.BAD_REQUEST, "The batch contains no operation.")
    if operations > limits.max_batch:
        raise LimitError(
            LimitCode.BATCH_TOO_LARGE,
            f"The batch has {operations} operations; at most {limits.max_batch} are allowed.",
            extensions={"operations": operations, "maxOperations": limits.max_batch},
        )


def check_order_lines(lines: int, limits: Limits) -> None:
    if lines > limits.max_lines_per_order:
        raise LimitError(
            LimitCode.TOO_MANY_ORDER_LINES,
            f"An order has {lines} lines; at most {limits.max_lines_per_order} are allowed.",
            extensions={"lines": lines, "maxLines": limits.max_lines_per_order},
        )


def check_subscriptions(open_subscriptions: int, limits: Limits) -> None:
    """Call before starting one more subscription on a connection that has ``open_subscriptions``."""
    if open_subscriptions >= limits.max_subscriptions:
        raise LimitError(
            LimitCode.TOO_MANY_SUBSCRIPTIONS,
            f"At most {limits.max_subscriptions} subscriptions may be open on one connection.",
            extensions={"maxSubscriptions": limits.max_subscriptions},
        )


def check_tokens(query: str, limits: Limits) -> int:
    """Count lexer tokens (comments excluded); returns the count when within the limit.

    A syntax error stops the count silently: the parser reports it with its location.
    """
    lexer = Lexer(Source(query))
    count = 0
    try:
        while lexer.advance().kind is not TokenKind.EOF:
            count += 1
            if count > limits.max_tokens:
                raise LimitError(
                    LimitCode.TOO_MANY_TOKENS,
                    f"The query has more than {limits.max_tokens} tokens.",
                    extensions={"maxTokens": limits.max_tokens},
                )
    except GraphQLSyntaxError:
        pass
    return count


@dataclass(frozen=True)
class DocumentShape:
    depth: int
    aliases: int


class _Shape:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self._depth_memo: dict[tuple[str, int], int] = {}
        self._alias_memo: dict[str, int] = {}
        self._active: list[str] = []

    def _enter(self, name: str) -> FragmentDefinitionNode | None:
        fragment = self.fragments.get(name)
        if fragment is None or name in self._active:
            return None
        if len(self._active) >= MAX_FRAGMENT_NESTING:
            raise LimitError(LimitCode.QUERY_TOO_DEEP, "Fragments are nested too deeply.")
        self._active.append(name)
        return fragment

    def depth(self, selection_set: SelectionSetNode, cap: int) -> int:
        """Depth of ``selection_set``, or ``cap`` if it is at least that deep."""
        if cap <= 0:
            return 0
        best = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                below = 0 if selection.selection_set is None else self.depth(selection.selection_set, cap - 1)
                best = max(best, 1 + below)
            elif isinstance(selection, InlineFragmentNode):
                best = max(best, self.depth(selection.selection_set, cap))
            elif isinstance(selection, FragmentSpreadNode):
                best = max(best, self._fragment_depth(selection.name.value, cap))
            if best >= cap:
                return cap
        return best

    def _fragment_depth(self, name: str, cap: int) -> int:
        cached = self._depth_memo.get((name, cap))
        if cached is not None:
            return cached
        fragment = self._enter(name)
        if fragment is None:
            return 0
        try:
            result = self.depth(fragment.selection_set, cap)
        finally:
            self._active.pop()
        self._depth_memo[(name, cap)] = result
        return result

    def aliases(self, selection_set: SelectionSetNode) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += selection.alias is not None
                if selection.selection_set is not None:
                    total += self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += self.aliases(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_aliases(selection.name.value)
        return total

    def _fragment_aliases(self, name: str) -> int:
        cached = self._alias_memo.get(name)
        if cached is not None:
            return cached
        fragment = self._enter(name)
        if fragment is None:
            return 0
        try:
            result = self.aliases(fragment.selection_set)
        finally:
            self._active.pop()
        self._alias_memo[name] = result
        return result


def check_document(document: DocumentNode, limits: Limits, operation_name: str | None) -> DocumentShape:
    """Depth and alias limits of the operation to run (every operation when no name is given)."""
    shape = _Shape(fragments_of(document))
    depth = aliases = 0
    for operation in operations_of(document, operation_name):
        depth = max(depth, shape.depth(operation.selection_set, limits.max_depth + 1))
        if depth > limits.max_depth:
            raise LimitError(
                LimitCode.QUERY_TOO_DEEP,
                f"The query is deeper than the maximum depth of {limits.max_depth}.",
                extensions={"maxDepth": limits.max_depth},
            )
        aliases = max(aliases, shape.aliases(operation.selection_set))
        if aliases > limits.max_aliases:
            raise LimitError(
                LimitCode.TOO_MANY_ALIASES,
                f"The query has {aliases} aliases; at most {limits.max_aliases} are allowed.",
                extensions={"aliases": aliases, "maxAliases": limits.max_aliases},
            )
    return DocumentShape(depth=depth, aliases=aliases)
