"""Actual cost: the static model walked together with the result data (private)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    is_object_type,
)

from graphql_facade.limits._document import field_definition, is_skipped
from graphql_facade.limits._static import (
    CONNECTION_COST,
    OBJECT_COST,
    StaticWalker,
    is_connection,
    own_cost,
    runtime_types,
)

__all__ = ["ActualWalker"]

Path = tuple[str | int, ...]


def _error_prefixes(errors: Iterable[GraphQLError | Mapping[str, Any]]) -> set[Path]:
    prefixes: set[Path] = set()
    for error in errors:
        path = error.get("path") if isinstance(error, Mapping) else getattr(error, "path", None)
        if path:
            items = tuple(path)
            prefixes.update(items[:n] for n in range(1, len(items) + 1))
    return prefixes


class ActualWalker:
    def __init__(self, static: StaticWalker, errors: Iterable[GraphQLError | Mapping[str, Any]]) -> None:
        self.static = static
        self.schema = static.schema
        self._errored = _error_prefixes(errors)
        # Keys use id() of result objects: they all belong to ``data``, alive during the walk.
        self._memo: dict[tuple[Any, ...], int] = {}

    def _failed(self, node: FieldNode, field: GraphQLField, path: Path, base: int | None) -> int:
        """A null produced by an error: charge what was requested."""
        return self.static.field(node, field, path, base) if path in self._errored else (base or 0)

    def field(self, node: FieldNode, field: GraphQLField, value: Any, path: Path, base: int | None) -> int:
        named = get_named_type(field.type)
        if value is None:
            return self._failed(node, field, path, base)
        own = base or 0
        if is_leaf_type(named) or node.selection_set is None:
            return own
        if is_connection(named) and isinstance(value, Mapping):
            own = CONNECTION_COST if base is None else base
            return own + self.object(node.selection_set, named, value, path, True)
        own = own_cost(field) if base is None else base
        if isinstance(value, list):
            return own + self._list(node, field, value, path)
        if isinstance(value, Mapping):
            return own + self.object(node.selection_set, named, value, path, False)
        return own

    def _list(self, node: FieldNode, field: GraphQLField, items: list[Any], path: Path) -> int:
        """A non-connection list: its most expensive item (charged once, as requested)."""
        assert node.selection_set is not None
        named = get_named_type(field.type)
        best = 0
        for index, item in enumerate(items):
            item_path = (*path, index)
            if isinstance(item, list):
                cost = self._list(node, field, item, item_path)
            elif isinstance(item, Mapping):
                cost = self.object(node.selection_set, named, item, item_path, False)
            elif item is None and item_path in self._errored:
                cost = self.static.field(node, field, item_path, None) - OBJECT_COST
            else:
                cost = 0
            best = max(best, cost)
        return best

    def object(
        self, selection_set: SelectionSetNode, named: Any, value: Mapping[str, Any], path: Path, conn: bool
    ) -> int:
        runtime = runtime_types(self.schema, named)
        typename = value.get("__typename")
        if isinstance(typename, str):
            concrete = self.schema.get_type(typename)
            if is_object_type(concrete) and concrete in runtime:
                runtime = [concrete]
        return max((self.selections(selection_set, t, value, path, conn) for t in runtime), default=0)

    def selections(
        self,
        selection_set: SelectionSetNode,
        runtime: GraphQLObjectType,
        value: Mapping[str, Any],
        path: Path,
        connection: bool,
        base: int | None = None,
    ) -> int:
        key = (id(selection_set), runtime.name, id(value), connection, base)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        total = 0
        for selection in selection_set.selections:
            if is_skipped(selection, self.static.variables):
                continue
            if not isinstance(selection, FieldNode):
                sub = self.static.fragment_selection_set(selection, runtime)
                if sub is not None and (sub[0] is None or sub[0] not in self.static.active):
                    if sub[0] is not None:
                        self.static.active.append(sub[0])
                    try:
                        total += self.selections(sub[1], runtime, value, path, connection, base)
                    finally:
                        if sub[0] is not None:
                            self.static.active.pop()
                continue
            name = selection.name.value
            definition = field_definition(self.schema, runtime, name)
            if definition is None or name == "__typename":
                continue
            response_key = (selection.alias or selection.name).value
            child = value.get(response_key)
            child_path = (*path, response_key)
            if connection and name in ("edges", "nodes") and isinstance(child, list):
                total += self._items(selection, definition, child, child_path, wrapper=name == "edges")
            else:
                total += self.field(selection, definition, child, child_path, base)
        self._memo[key] = total
        return total

    def _items(self, node: FieldNode, field: GraphQLField, items: list[Any], path: Path, wrapper: bool) -> int:
        """Edges (the wrapper is free) or nodes (1 each) actually returned by a connection."""
        named = get_named_type(field.type)
        own = 0 if wrapper else OBJECT_COST
        total = 0
        for index, item in enumerate(items):
            item_path = (*path, index)
            if isinstance(item, Mapping) and node.selection_set is not None:
                total += own + self.object(node.selection_set, named, item, item_path, False)
            elif item is None and item_path in self._errored:
                total += self.static.field(node, field, item_path, None) - (OBJECT_COST - own)
        return total
