"""Run a :class:`~graphql_facade.compiled.plan.Plan`: level by level, every source of a level at once.

A selection over ``n`` sources computes one column per field (a getter mapped over the sources, or
one batch resolver call for all of them), then the ``n`` result objects. Resolver-backed fields of
a selection run concurrently, as graphql-core runs sibling fields, and each gives its DataLoader
every key of the level before it dispatches: backend calls stay one per RPC and level.

GraphQL semantics as graphql-core 3.3 executes them: a field error is located (message, the field's
nodes, the response path); a null (or error) in a non-null position nulls the nearest nullable
ancestor, where the error is recorded; an error at or under a position already nulled is dropped.
Leaves are written as JSON values by their getters; ``Int`` fields are range-checked.

The actual cost (:mod:`graphql_facade.limits.cost`) is counted on the way when the plan allows it:
per object ``1 +`` its selections, per connection ``2 +`` its selections with ``edges``/``nodes``
charged per returned item, per list ``1 +`` its most expensive item, and a null produced by an error
at its requested (static) cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLError, located_error
from graphql.execution.values import VariableValues, get_argument_values

from graphql_facade.compiled.plan import FieldPlan, Plan, SelectionPlan
from graphql_facade.context import RequestContext
from graphql_facade.limits._static import CONNECTION_COST, own_cost

__all__ = ["Runner"]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
StaticCost = Callable[[FieldPlan, list[str | int]], int]


class Failed:
    """A null in a non-null position: the error that nulls the nearest nullable ancestor."""

    __slots__ = ("error",)

    def __init__(self, error: GraphQLError) -> None:
        self.error = error


class _Level:
    """Where the sources of a selection sit in the response: ``owners[i]`` is the parent of source
    ``i`` in ``parent``, ``field`` the field that gave them and ``indexes[i]`` its list index (lists only)."""

    __slots__ = ("field", "indexes", "key", "owners", "parent")

    def __init__(
        self, parent: _Level | None, owners: Sequence[int], field: FieldPlan | None, indexes: Sequence[int] | None
    ) -> None:
        self.parent = parent
        self.owners = owners
        self.field = field
        self.key = "" if field is None else field.key
        self.indexes = indexes

    def path(self, i: int) -> list[str | int]:
        parts: list[str | int] = []
        level: _Level | None = self
        while level is not None and level.parent is not None:
            if level.indexes is not None:
                parts.append(level.indexes[i])
            parts.append(level.key)
            i = level.owners[i]
            level = level.parent
        parts.reverse()
        return parts


_ROOT = _Level(None, (), None, None)


def _null_error(plan: FieldPlan) -> TypeError:
    return TypeError(f"Cannot return null for non-nullable field {plan.parent}.{plan.name}.")


def _int_error(value: Any) -> GraphQLError:
    return GraphQLError(f"Int cannot represent non 32-bit signed integer value: {value!r}")


class Runner:
    """One execution of a plan for one request."""

    def __init__(
        self, plan: Plan, context: RequestContext, variables: VariableValues, static_cost: StaticCost | None
    ) -> None:
        self._plan = plan
        self._context = context
        self._variables = variables
        self._static_cost = static_cost
        self._counting = plan.counts_cost and static_cost is not None
        self.errors: list[GraphQLError] = []
        self._nulled: set[tuple[str | int, ...]] = set()
        self._root_nulled = False
        self._pending: list[tuple[GraphQLError, _Level, int]] = []

    async def run(self) -> tuple[dict[str, Any] | None, int | None]:
        """The data (None when the root was nulled) and the actual cost (None when not counted)."""
        rows, costs, _ = await self._select(self._plan.root, [None], _ROOT)
        self._flush()
        data = rows[0]
        if isinstance(data, Failed):  # recorded when it happened
            return None, None
        cost = (costs[0] if costs is not None else 0) if self._counting else None
        return data, cost

    # -- errors ---------------------------------------------------------------------------

    def _add(self, error: GraphQLError, position: list[str | int] | None) -> None:
        """Record ``error``, absorbed at ``position`` (None: the root), unless a position above was nulled."""
        if self._root_nulled:
            return
        if position is None:
            self._root_nulled = True
            self.errors.append(error)
            return
        nulled = self._nulled
        key = tuple(position)
        if any(key[:n] in nulled for n in range(1, len(key) + 1)):
            return
        nulled.add(key)
        self.errors.append(error)

    def _error(self, plan: FieldPlan, level: _Level, i: int, raw: Exception) -> tuple[GraphQLError, list[str | int]]:
        path = level.path(i)
        path.append(plan.key)
        return located_error(raw, plan.nodes, path), path

    def _fail(self, plan: FieldPlan, level: _Level, i: int, raw: Exception) -> Failed | None:
        """The value of a field that raised: a :class:`Failed` in a non-null position, else null.

        The error is recorded at once where the null lands (as graphql-core records it when the
        exception reaches a nullable field), so errors that come later under that position are dropped.
        """
        error, path = self._error(plan, level, i, raw)
        if plan.non_null:
            # graphql-core records it once the exception has come up through the awaits above the
            # field: what sibling fields' first steps record in the meantime stays.
            pending = (error, level, i)
            self._pending.append(pending)
            asyncio.get_running_loop().call_soon(self._flush, pending)
            return Failed(error)
        self._add(error, path)
        return None

    def _flush(self, pending: tuple[GraphQLError, _Level, int] | None = None) -> None:
        """Record the pending propagation ``pending`` (None: every one still pending)."""
        for item in list(self._pending) if pending is None else [pending]:
            if item in self._pending:
                self._pending.remove(item)
                self._propagate(*item)

    def _propagate(self, error: GraphQLError, level: _Level, i: int) -> None:
        """Record ``error`` at the nearest nullable position above row ``i`` of ``level`` (the root at worst)."""
        while level.parent is not None and level.field is not None:
            field = level.field
            if level.indexes is not None and not field.item_non_null:
                self._add(error, level.path(i))
                return
            owner = level.owners[i]
            if not field.non_null:
                self._add(error, [*level.parent.path(owner), field.key])
                return
            level, i = level.parent, owner
        self._add(error, None)

    def _static(self, plan: FieldPlan, path: list[str | int]) -> int:
        assert self._static_cost is not None
        return self._static_cost(plan, path)

    # -- selections -------------------------------------------------------------------------

    async def _select(
        self, selection: SelectionPlan, sources: Sequence[Any], level: _Level
    ) -> tuple[list[Any], list[int] | None, bool]:
        """One result object per source (a :class:`Failed` where a non-null field failed), their costs
        (None: all zero) and whether some object failed."""
        n = len(sources)
        columns: list[list[Any]] = []
        failing: list[int] = []
        costs = [0] * n if self._counting and selection.composite else None
        waits = []
        for index, plan in enumerate(selection.fields):
            if plan.typename is not None:
                columns.append([plan.typename] * n)
            elif plan.leaf and plan.get is not None:
                column, failed = self._leaves(plan, sources, level)
                columns.append(column)
                if failed:
                    failing.append(index)
            else:
                column = [None] * n
                columns.append(column)
                waits.append(self._field(plan, index, sources, level, column, costs, failing))
        if len(waits) == 1:
            await waits[0]
        elif waits:
            await asyncio.gather(*waits)
        rows: list[Any] = selection.build(columns, n)
        if not failing:
            return rows, costs, False
        for index in sorted(failing):
            for i, value in enumerate(columns[index]):
                if isinstance(value, Failed) and not isinstance(rows[i], Failed):
                    rows[i] = value
        return rows, costs, True

    def _leaves(self, plan: FieldPlan, sources: Sequence[Any], level: _Level) -> tuple[list[Any], bool]:
        get = plan.get
        assert get is not None
        raised = False
        try:
            column = [get(source) for source in sources]
        except Exception:
            raised = True
            column = []
            for source in sources:
                try:
                    column.append(get(source))
                except Exception as raw:
                    column.append(_Raised(raw))
        if plan.int_check and column and not self._ints_fit(column):
            raised = True
            column = [_Raised(_int_error(v)) if _is_int_out(v) else v for v in column]
        if raised or (plan.non_null and None in column):
            return self._settle_leaves(plan, column, level)
        return column, False

    @staticmethod
    def _ints_fit(column: list[Any]) -> bool:
        try:  # a column without nulls (the usual case): two passes in C
            return bool(min(column) >= _INT_MIN and max(column) <= _INT_MAX)
        except TypeError:
            values = [v for v in column if type(v) is int]
            return not values or (min(values) >= _INT_MIN and max(values) <= _INT_MAX)

    def _settle_leaves(self, plan: FieldPlan, column: list[Any], level: _Level) -> tuple[list[Any], bool]:
        failed = False
        for i, value in enumerate(column):
            raw: Exception | None = None
            if isinstance(value, _Raised):
                raw = value.error
            elif value is None and plan.non_null:
                raw = _null_error(plan)
            if raw is not None:
                column[i] = self._fail(plan, level, i, raw)
                failed = failed or column[i] is not None
        return column, failed

    def _arguments(self, plan: FieldPlan) -> Any:
        if plan.args is not None:
            return plan.args
        try:
            return get_argument_values(plan.definition, plan.nodes[0], self._variables)
        except Exception as raw:
            return _Raised(raw)

    async def _field(
        self,
        plan: FieldPlan,
        index: int,
        sources: Sequence[Any],
        level: _Level,
        column: list[Any],
        costs: list[int] | None,
        failing: list[int],
    ) -> None:
        n = len(sources)
        values: list[Any]
        if plan.batch is not None:
            args = self._arguments(plan)
            if isinstance(args, _Raised):
                values = [args.error] * n
            else:
                values = await plan.batch.load(self._context, sources, args)
        else:
            get = plan.get
            assert get is not None
            values = []
            for source in sources:
                try:
                    values.append(get(source))
                except Exception as raw:
                    values.append(raw)
        if plan.leaf:
            self._resolved_leaves(plan, values, level, column, failing, index)
            return
        # Errors and nulls first; the rest are the sources of the child selection.
        child_sources: list[Any] = []
        owners: list[int] = []
        indexes: list[int] | None = [] if plan.is_list else None
        counts: list[int] = []
        errored: list[int] = []
        for i, value in enumerate(values):
            if isinstance(value, Exception):
                column[i] = self._fail(plan, level, i, value)
                errored.append(i)
                counts.append(-1)
            elif value is None:
                if plan.non_null:
                    column[i] = self._fail(plan, level, i, _null_error(plan))
                    errored.append(i)
                counts.append(-1)
            elif indexes is None:
                child_sources.append(value)
                owners.append(i)
                counts.append(1)
            else:
                items = list(value)
                child_sources.extend(items)
                owners.extend([i] * len(items))
                indexes.extend(range(len(items)))
                counts.append(len(items))
        if errored:
            failing.append(index)
            if costs is not None:
                for i in errored:
                    if column[i] is None:
                        costs[i] += self._static(plan, [*level.path(i), plan.key])
        assert plan.child is not None
        child = _Level(level, owners, plan, indexes)
        rows, child_costs, child_failed = await self._select(plan.child, child_sources, child)
        own = CONNECTION_COST if plan.connection else own_cost(plan.definition)
        position = 0
        for i, count in enumerate(counts):
            if count < 0:
                continue
            if indexes is None:
                result: Any = rows[position]
                cost = own + (child_costs[position] if child_costs is not None else 0)
            else:
                result, cost = self._list(plan, level, i, rows, child_costs, position, count, child_failed)
            position += 1 if indexes is None else count
            if child_failed and isinstance(result, Failed):
                if plan.non_null:
                    column[i] = result
                    failing.append(index)
                    continue
                result = None  # the error was recorded here when it happened
                cost = self._static(plan, [*level.path(i), plan.key]) if costs is not None else 0
            column[i] = result
            if costs is not None:
                costs[i] += cost

    def _resolved_leaves(
        self, plan: FieldPlan, values: list[Any], level: _Level, column: list[Any], failing: list[int], index: int
    ) -> None:
        for i, value in enumerate(values):
            if isinstance(value, Exception):
                column[i] = self._fail(plan, level, i, value)
            elif value is None and plan.non_null:
                column[i] = self._fail(plan, level, i, _null_error(plan))
            else:
                column[i] = value
            if isinstance(column[i], Failed):
                failing.append(index)

    def _list(
        self,
        plan: FieldPlan,
        level: _Level,
        i: int,
        rows: list[Any],
        child_costs: list[int] | None,
        start: int,
        count: int,
        failed: bool,
    ) -> tuple[Any, int]:
        """The list of parent ``i`` (or the :class:`Failed` it propagates) and its cost."""
        items = rows[start : start + count]
        item_costs = child_costs[start : start + count] if child_costs is not None else None
        if failed and any(isinstance(item, Failed) for item in items):
            if plan.item_non_null:
                return next(item for item in items if isinstance(item, Failed)), 0
            items, item_costs = self._null_items(plan, level, i, items, item_costs)
        if plan.item_own is not None:  # edges/nodes of a connection: charged per item
            return items, plan.item_own * count + (sum(item_costs) if item_costs else 0)
        return items, own_cost(plan.definition) + (max(item_costs) if item_costs else 0)

    def _null_items(
        self, plan: FieldPlan, level: _Level, i: int, items: list[Any], item_costs: list[int] | None
    ) -> tuple[list[Any], list[int] | None]:
        """Nullable items that failed: null in their place, the error recorded at the item."""
        base = [*level.path(i), plan.key]
        costs = list(item_costs) if item_costs is not None else None
        settled: list[Any] = []
        for j, item in enumerate(items):
            if isinstance(item, Failed):  # recorded at the item when it happened
                settled.append(None)
                if costs is not None:
                    costs[j] = self._static(plan, [*base, j]) - own_cost(plan.definition)
            else:
                settled.append(item)
        return settled, costs


class _Raised:
    """An exception raised by a getter, kept in a column until it is settled."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _is_int_out(value: Any) -> bool:
    return type(value) is int and not _INT_MIN <= value <= _INT_MAX
