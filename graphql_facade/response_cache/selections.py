"""The fields a document selects on an object of the answer, as execution would see them: fragments
applied (by type condition), ``@skip``/``@include`` evaluated with the variables, argument values
with the variables (untyped: enum values as their names). Collected once per type and selection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    is_object_type,
    value_from_ast_untyped,
)

__all__ = ["Selections", "Unknown"]

_MAX_FRAGMENT_NESTING = 50


class Unknown(Exception):
    """Something the dependency table does not cover: the answer reads everything."""


class Selections:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        values: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            if definition.default_value is not None:
                values[definition.variable.name.value] = value_from_ast_untyped(definition.default_value)
        values.update(variables or {})
        self.variables = values
        self._fields: dict[tuple[str, int], list[FieldNode]] = {}
        self._leaves: dict[tuple[str, int], bool] = {}

    def fields(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> list[FieldNode]:
        """The fields selected on an object of type ``parent`` (fragments applied, @skip/@include honoured)."""
        key = (parent.name, id(selection_set))
        found = self._fields.get(key)
        if found is None:
            found = self._fields[key] = self._collect(parent, selection_set, 0)
        return found

    def leaves_only(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> bool:
        """Whether only scalar fields are selected (objects of a covered type then add no tag)."""
        key = (parent.name, id(selection_set))
        found = self._leaves.get(key)
        if found is None:
            found = self._leaves[key] = all(n.selection_set is None for n in self.fields(parent, selection_set))
        return found

    def _collect(self, parent: GraphQLObjectType, selection_set: SelectionSetNode, depth: int) -> list[FieldNode]:
        if depth > _MAX_FRAGMENT_NESTING:
            raise Unknown
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if self._skipped(selection):
                continue
            if isinstance(selection, FieldNode):
                found.append(selection)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, sub = selection.type_condition, selection.selection_set
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in self.fragments:
                fragment = self.fragments[selection.name.value]
                condition, sub = fragment.type_condition, fragment.selection_set
            else:
                continue
            if (
                condition is None
                or condition.name.value == parent.name
                or self._abstract_of(condition.name.value, parent)
            ):
                found.extend(self._collect(parent, sub, depth + 1))
        return found

    def _abstract_of(self, name: str, runtime: GraphQLObjectType) -> bool:
        condition = self.schema.get_type(name)
        return condition is not None and not is_object_type(condition) and self.schema.is_sub_type(condition, runtime)  # type: ignore[arg-type]

    def _skipped(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            if directive.name.value not in ("skip", "include"):
                continue
            for argument in directive.arguments or ():
                if argument.name.value == "if":
                    value = value_from_ast_untyped(argument.value, self.variables)
                    skip = directive.name.value == "skip"
                    if (skip and value is True) or (not skip and value is False):
                        return True
        return False

    def argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = value_from_ast_untyped(argument.value, self.variables)
                return None if value is Undefined else value
        return None
