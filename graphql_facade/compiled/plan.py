"""Compile a query document (and operation name) into a :class:`Plan`.

The fields are collected exactly as graphql-core collects them (its own ``collect_fields``:
fragments, aliases, merged fields, ``@skip``/``@include``), so a plan depends on the document and
on the values of the variables used in ``@skip``/``@include`` only; :mod:`graphql_facade.compiled.cache`
keeps one plan per combination. Each field gets its getter or batch resolver (see
:mod:`graphql_facade.compiled.fields`), its arguments (computed once when they use no variable),
its nullability and list shape, and the plan of its selection set.

:class:`Unsupported` names what the compiler does not take (the pipeline then runs the document on
the generic Strawberry path): mutations and subscriptions, introspection (``__schema``,
``__type``), interfaces and unions, lists of lists or of scalars, fragment variables, directives
other than ``@skip``/``@include`` (e.g. ``@defer``), and fields the registry does not know.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values

from graphql_facade.compiled.fields import Batch, Getter, Spec, TypeSpecs
from graphql_facade.compiled.pages import CONNECTION, EDGE, PAGE_INFO
from graphql_facade.limits._document import applies, field_definition, is_skipped
from graphql_facade.limits._static import is_connection

__all__ = ["FieldPlan", "Plan", "SelectionPlan", "Unsupported", "compile_plan", "directive_variables"]

_INT = "Int"
#: the cost walker's charge of one item of ``edges`` (the wrapper is free) and of ``nodes``
ITEM_OWN = {"edges": 0, "nodes": 1}


class Unsupported(Exception):
    """The compiler does not take this document (the reason says why)."""


@dataclass(slots=True, eq=False)
class FieldPlan:
    key: str
    name: str
    parent: str
    nodes: list[FieldNode]
    definition: GraphQLField
    non_null: bool = False
    is_list: bool = False
    item_non_null: bool = False
    leaf: bool = True
    #: Int fields check the 32-bit range as graphql-core's serializer does.
    int_check: bool = False
    typename: str | None = None
    get: Callable[[Any], Any] | None = None
    batch: Batch | None = None
    args: Mapping[str, Any] | None = None
    child: SelectionPlan | None = None
    #: the unwrapped type is a Relay connection (cost: 2 + its selections)
    connection: bool = False
    #: the cost of one item when this is the ``edges``/``nodes`` list of a connection, else None
    item_own: int | None = None


Rows = Callable[[list[list[Any]], int], list[Any]]


def row_builder(keys: tuple[str, ...]) -> Rows:
    """``build(columns, n)``: the ``n`` result objects of one column per key, as one comprehension of
    dict displays (keys are GraphQL names, so they are safe to write into the generated source)."""
    if not keys:
        return lambda columns, n: [{} for _ in range(n)]
    if not all(key.isidentifier() and key.isascii() for key in keys):  # pragma: no cover - the parser's names
        raise Unsupported("response keys")
    columns = ", ".join(f"c{i}" for i in range(len(keys)))
    values = ", ".join(f"v{i}" for i in range(len(keys)))
    display = ", ".join(f"{key!r}: v{i}" for i, key in enumerate(keys))
    source = (
        f"def build(columns, n):\n    {columns}, = columns\n"
        f"    return [{{{display}}} for {values}, in zip({columns})]\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # generated from validated GraphQL names only
    build: Rows = namespace["build"]
    return build


@dataclass(slots=True, eq=False)
class SelectionPlan:
    type_name: str
    fields: list[FieldPlan]
    keys: tuple[str, ...] = ()
    #: some field is an object or a list of objects (its cost may be non-zero)
    composite: bool = False
    build: Rows = field(default=lambda columns, n: [{} for _ in range(n)])


@dataclass(slots=True, eq=False)
class Plan:
    schema: GraphQLSchema
    document: DocumentNode
    operation: OperationDefinitionNode
    root: SelectionPlan
    #: the actual cost is counted during execution (else the cost walker measures the result)
    counts_cost: bool
    audience: str = ""
    stats: dict[str, int] = field(default_factory=dict)


def directive_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables ``@skip``/``@include`` use anywhere in ``document`` (a plan depends on their values)."""
    names: list[str] = []

    class _Collect(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode) and argument.value.name.value not in names:
                        names.append(argument.value.name.value)

    visit(document, _Collect())
    return tuple(names)


def _uses_variables(node: FieldNode) -> bool:
    found = False

    class _Find(Visitor):
        def enter_variable(self, *_: Any) -> None:
            nonlocal found
            found = True

    for argument in node.arguments or ():
        visit(argument, _Find())
    return found


def _check_directives(document: DocumentNode, operation: OperationDefinitionNode) -> None:
    if operation.directives:
        raise Unsupported("directives on the operation")

    class _Check(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> None:
            if node.name.value not in ("skip", "include"):
                raise Unsupported(f"directive @{node.name.value}")

    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode) and definition.variable_definitions:
            raise Unsupported("fragment variables")
    visit(document, _Check())


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        specs: TypeSpecs,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.specs = specs
        self.operation = operation
        self.variables = variables
        self.definitions = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.fragments = {name: FragmentDetails(d) for name, d in self.definitions.items()}
        self.counts_cost = True
        self.fields = 0

    def spec(self, parent: GraphQLObjectType, name: str) -> Spec:
        own = self.specs.get(parent.name)
        if own is None:
            if parent.name.endswith("Connection"):
                own = CONNECTION
            elif parent.name.endswith("Edge"):
                own = EDGE
            elif parent.name == "PageInfo":
                own = PAGE_INFO
        spec = None if own is None else own.get(name)
        if spec is None:
            raise Unsupported(f"{parent.name}.{name}")
        return spec

    def selection(
        self,
        parent: GraphQLObjectType,
        grouped: Mapping[str, list[FieldDetails]],
        selection_sets: list[SelectionSetNode],
    ) -> SelectionPlan:
        self._check_charged_once(parent, selection_sets)
        connection = is_connection(parent)
        plans: list[FieldPlan] = []
        for key, details in grouped.items():
            nodes = [d.node for d in details]
            name = nodes[0].name.value
            definition = self.schema.get_field(parent, name)
            if definition is None:
                continue  # graphql-core leaves it out of the result (validation refuses it anyway)
            if name in ("__schema", "__type"):
                raise Unsupported("introspection")
            plan = FieldPlan(key, name, parent.name, nodes, definition)
            if name == "__typename":
                plan.typename, plan.non_null = parent.name, True
            else:
                self.field(plan, parent, details)
                if connection and plan.is_list and name in ITEM_OWN:
                    plan.item_own = ITEM_OWN[name]
            plans.append(plan)
            self.fields += 1
        return SelectionPlan(
            parent.name,
            plans,
            tuple(p.key for p in plans),
            composite=any(not p.leaf for p in plans),
            build=row_builder(tuple(p.key for p in plans)),
        )

    def field(self, plan: FieldPlan, parent: GraphQLObjectType, details: list[FieldDetails]) -> None:
        spec = self.spec(parent, plan.name)
        if isinstance(spec, Getter):
            plan.get = spec.get
        else:
            plan.batch = spec
        node = plan.nodes[0]
        if plan.definition.args or node.arguments:
            if _uses_variables(node):
                plan.args = None
            else:
                try:
                    plan.args = get_argument_values(plan.definition, node, self.variables)
                except GraphQLError as error:
                    raise Unsupported(f"arguments of {parent.name}.{plan.name}: {error.message}") from None
        else:
            plan.args = {}
        kind: Any = plan.definition.type
        if isinstance(kind, GraphQLNonNull):
            plan.non_null, kind = True, kind.of_type
        if isinstance(kind, GraphQLList):
            plan.is_list, kind = True, kind.of_type
            if isinstance(kind, GraphQLNonNull):
                plan.item_non_null, kind = True, kind.of_type
            if isinstance(kind, GraphQLList):
                raise Unsupported("lists of lists")
        named = get_named_type(kind)
        if is_leaf_type(named):
            if plan.is_list:
                raise Unsupported("lists of scalars")
            plan.int_check = named.name == _INT
            return
        if not is_object_type(named):
            raise Unsupported(f"abstract type {named.name}")
        assert isinstance(named, GraphQLObjectType)
        plan.leaf = False
        plan.connection = is_connection(named)
        collected = collect_subfields(self.schema, self.fragments, self.variables, self.operation, named, details)
        selection_sets = [n.selection_set for n in plan.nodes if n.selection_set is not None]
        plan.child = self.selection(named, collected.grouped_field_set, selection_sets)

    def _check_charged_once(self, runtime: GraphQLObjectType, selection_sets: list[SelectionSetNode]) -> None:
        """The cost walker charges every occurrence of a field; counting during execution sees merged
        fields, so it is exact only when no object field occurs twice in one selection."""
        if not self.counts_cost:
            return
        if len(selection_sets) > 1:
            self.counts_cost = False
            return
        seen: Counter[str] = Counter()
        for selection_set in selection_sets:
            self._occurrences(selection_set, runtime, seen, ())
        if any(count > 1 for count in seen.values()):
            self.counts_cost = False

    def _occurrences(
        self, selection_set: SelectionSetNode, runtime: GraphQLObjectType, seen: Counter[str], active: tuple[str, ...]
    ) -> None:
        variables = self.variables.coerced
        for selection in selection_set.selections:
            if is_skipped(selection, variables):
                continue
            if isinstance(selection, FieldNode):
                definition = field_definition(self.schema, runtime, selection.name.value)
                if definition is not None and not is_leaf_type(get_named_type(definition.type)):
                    seen[(selection.alias or selection.name).value] += 1
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, sub, name = selection.type_condition, selection.selection_set, None
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.definitions.get(selection.name.value)
                if fragment is None or fragment.name.value in active:
                    continue
                condition, sub, name = fragment.type_condition, fragment.selection_set, fragment.name.value
            else:  # pragma: no cover - no other selection kinds
                continue
            target = None if condition is None else self.schema.get_type(condition.name.value)
            if condition is not None and target is None:
                continue
            if applies(self.schema, target, runtime):
                self._occurrences(sub, runtime, seen, active if name is None else (*active, name))


def compile_plan(
    schema: GraphQLSchema,
    specs: TypeSpecs,
    document: DocumentNode,
    operation_name: str | None,
    variables: VariableValues,
) -> Plan:
    """The plan of the query ``operation_name`` of ``document`` (``variables``: for ``@skip``/``@include``).

    Raises :class:`Unsupported`.
    """
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        raise Unsupported("no such operation")
    if operation.operation is not OperationType.QUERY:
        raise Unsupported(f"{operation.operation.value} operations")
    _check_directives(document, operation)
    root = schema.query_type
    if root is None:  # pragma: no cover - both schemas have a query type
        raise Unsupported("no query type")
    compiler = _Compiler(schema, specs, document, operation, variables)
    collected = collect_fields(schema, compiler.fragments, variables, root, operation)
    plan = compiler.selection(root, collected.grouped_field_set, [operation.selection_set])
    return Plan(schema, document, operation, plan, compiler.counts_cost, stats={"fields": compiler.fields})
