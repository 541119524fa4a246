"""SQL pieces the analytics' statements share, the same on SQLite and PostgreSQL: upserts, the
earliest/latest of two nullable times, and a bucket index computed in SQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, case, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Merge", "SqlWrites", "bucket_index", "earliest", "latest"]


Merge = Callable[[Table, Any], Mapping[str, Any]]

#: One statement per (dialect, table, kind, merge): built and compiled once, executed with the
#: rows as parameters. A statement built per call with the row's values in it costs SQLAlchemy a
#: cache key over the whole tree, and often a compilation, every time (most of the projection's
#: CPU). ``merge`` functions are module-level, so the cache holds a fixed number of statements.
_STATEMENTS: dict[tuple[str, Table, str, Merge | None], Any] = {}


def _statement(dialect: str, table: Table, kind: str, merge: Merge | None = None) -> Any:
    key = (dialect, table, kind, merge)
    stmt = _STATEMENTS.get(key)
    if stmt is not None:
        return stmt
    if dialect == "postgresql":
        insert: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        insert = sqlite.insert(table)
    else:  # pragma: no cover
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    keys = [c.name for c in table.primary_key.columns]
    if merge is not None:
        stmt = insert.on_conflict_do_update(index_elements=keys, set_=dict(merge(table, insert.excluded)))
    else:
        stmt = insert.on_conflict_do_nothing(index_elements=keys)
        if kind == "inserted":
            stmt = stmt.returning(table.primary_key.columns[keys[0]])
    _STATEMENTS[key] = stmt
    return stmt


def _parameters(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    """One row as a single execution's parameters, several as an executemany."""
    return [dict(row) for row in rows] if len(rows) > 1 else dict(rows[0])


class SqlWrites:
    """Inserts and upserts on one session, with the statements of its database's dialect (looked
    up once, at the first write)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._dialect: str | None = None

    def _statement(self, table: Table, kind: str, merge: Merge | None = None) -> Any:
        if self._dialect is None:
            self._dialect = self._session.get_bind().dialect.name
        return _statement(self._dialect, table, kind, merge)

    async def insert_ignore(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert the rows whose primary key is not there yet (rows of the same columns)."""
        if rows:
            await self._session.execute(self._statement(table, "ignore"), _parameters(rows))

    async def inserted(self, table: Table, row: Mapping[str, Any]) -> bool:
        """Insert ``row`` unless its primary key is there; whether it was inserted."""
        result = await self._session.execute(self._statement(table, "inserted"), dict(row))
        return result.first() is not None

    async def upsert(self, table: Table, rows: Sequence[Mapping[str, Any]], merge: Merge) -> None:
        """Insert each row (rows of the same columns, executed in turn: the same key may come
        twice), or update the one with its key with ``merge(table, excluded)`` (a dict of
        column -> expression over the stored row and the proposed one). ``merge`` must be a
        module-level function: the statement is kept per function."""
        if rows:
            await self._session.execute(self._statement(table, "upsert", merge), _parameters(rows))


def earliest(stored: ColumnElement[Any], proposed: ColumnElement[Any]) -> ColumnElement[Any]:
    """The earlier of two nullable times (NULL only when both are)."""
    return case(
        (stored.is_(None), proposed),
        (proposed.is_(None), stored),
        (proposed < stored, proposed),
        else_=stored,
    )


def latest(stored: ColumnElement[Any], proposed: ColumnElement[Any]) -> ColumnElement[Any]:
    return case(
        (stored.is_(None), proposed),
        (proposed.is_(None), stored),
        (proposed > stored, proposed),
        else_=stored,
    )


def bucket_index(column: ColumnElement[Any], bounds: Sequence[int]) -> ColumnElement[Any]:
    """The number of ``bounds`` (ascending) at or before ``column``: a bucket's index, computed by
    a balanced tree of comparisons (about log2(len(bounds)) per row). The integers are written
    into the statement, so that the same expression in SELECT and GROUP BY reads the same."""

    def node(low: int, high: int) -> ColumnElement[Any]:
        if low == high:
            return literal_column(str(int(low)))
        middle = (low + high + 1) // 2
        bound: ColumnElement[Any] = literal_column(str(int(bounds[middle - 1])))
        return case((column < bound, node(low, middle - 1)), else_=node(middle, high))

    if not bounds:  # one bucket; not a bare 0, which GROUP BY would read as a column position
        zero: ColumnElement[Any] = literal_column("0")
        return case((column.is_(None), zero), else_=zero)
    return node(0, len(bounds))
