"""Helpers shared by the structural checks and the cost analysis (private)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLArgument,
    GraphQLCompositeType,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    Undefined,
    is_abstract_type,
    value_from_ast_untyped,
)
from graphql.type.definition import GraphQLDefaultInput

__all__ = [
    "MAX_FRAGMENT_NESTING",
    "applies",
    "argument_value",
    "effective_variables",
    "field_definition",
    "fragments_of",
    "is_skipped",
    "operations_of",
]

#: Fragment spreads nested deeper than this are refused (a chain of spreads adds no
#: selection level, so the depth limit alone would not bound the recursion).
MAX_FRAGMENT_NESTING = 50


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def operations_of(document: DocumentNode, operation_name: str | None) -> Iterator[OperationDefinitionNode]:
    """The named operation, or every operation when no name is given."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name is not None and definition.name.value == operation_name)
        ):
            yield definition


def effective_variables(operation: OperationDefinitionNode, variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Operation defaults overridden by the request's variables (explicit nulls kept)."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            values[definition.variable.name.value] = value_from_ast_untyped(definition.default_value)
    values.update(variables or {})
    return values


def _argument_default(argument: GraphQLArgument) -> Any:
    if argument.default_value is not Undefined:
        return argument.default_value
    default = argument.default
    if isinstance(default, GraphQLDefaultInput):
        if default.value is not Undefined:
            return default.value
        if default.literal is not None:
            return value_from_ast_untyped(default.literal)
    return None


def argument_value(node: FieldNode, field: GraphQLField, name: str, variables: dict[str, Any]) -> Any:
    """Value of argument ``name`` as execution would see it; ``None`` when absent or null.

    A variable that is neither provided nor defaulted leaves the argument absent, so the
    schema's default applies (GraphQL spec, CoerceArgumentValues).
    """
    for argument in node.arguments or ():
        if argument.name.value == name:
            value = value_from_ast_untyped(argument.value, variables)
            if value is not Undefined:
                return value
            break
    schema_argument = field.args.get(name)
    return None if schema_argument is None else _argument_default(schema_argument)


def is_skipped(selection: SelectionNode, variables: dict[str, Any]) -> bool:
    """``@skip(if: true)`` or ``@include(if: false)`` (unresolvable conditions keep the field)."""
    for directive in selection.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        for argument in directive.arguments or ():
            if argument.name.value == "if":
                value = value_from_ast_untyped(argument.value, variables)
                if (name == "skip" and value is True) or (name == "include" and value is False):
                    return True
    return False


def field_definition(schema: GraphQLSchema, parent: GraphQLCompositeType, name: str) -> GraphQLField | None:
    if name == "__typename":
        return TypeNameMetaFieldDef
    if parent is schema.query_type:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
    fields = getattr(parent, "fields", None)
    return None if fields is None else fields.get(name)


def applies(schema: GraphQLSchema, condition: Any, runtime: GraphQLObjectType) -> bool:
    """Whether a fragment on ``condition`` applies to an object of type ``runtime``."""
    if condition is None or condition is runtime:
        return True
    return bool(is_abstract_type(condition) and schema.is_sub_type(condition, runtime))
