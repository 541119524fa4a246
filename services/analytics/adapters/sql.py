"""SQL pieces the analytics' statements share, the same on SQLite and PostgreSQL: upserts, the
earliest/latest of two nullable times, and a bucket index computed in SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, case, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["bucket_index", "earliest", "insert_ignore", "inserted", "latest", "upsert"]


def _insert(session: AsyncSession, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")  # pragma: no cover


async def insert_ignore(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the rows whose primary key is not there yet."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    stmt = _insert(session, table).values(list(rows)).on_conflict_do_nothing(index_elements=keys)
    await session.execute(stmt)


async def inserted(session: AsyncSession, table: Table, row: Mapping[str, Any]) -> bool:
    """Insert ``row`` unless its primary key is there; whether it was inserted."""
    keys = [c.name for c in table.primary_key.columns]
    stmt = _insert(session, table).values(dict(row)).on_conflict_do_nothing(index_elements=keys)
    result = await session.execute(stmt.returning(table.primary_key.columns[keys[0]]))
    return result.first() is not None


async def upsert(session: AsyncSession, table: Table, row: Mapping[str, Any], merge: Any) -> None:
    """Insert ``row``, or update the one with its key with ``merge(table, excluded)`` (a dict of
    column -> expression over the stored row and the proposed one)."""
    keys = [c.name for c in table.primary_key.columns]
    stmt = _insert(session, table).values(dict(row))
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=merge(table, stmt.excluded))
    await session.execute(stmt)


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
