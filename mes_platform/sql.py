"""Conditions and reads the repositories share.

:func:`first_row` reads the row a repository's ``get`` returns, locked (``SELECT ... FOR
UPDATE``) when the use case is about to change it; :func:`update_versioned` writes it back
only while it is still at the version read (optimistic concurrency).

:func:`one_of` is ``column IN (values)`` for a list of keys (the orders of a page, the work
orders of those orders...). SQLAlchemy renders an ``IN`` list anew for every call, one bound
parameter per value, and asyncpg prepares a new statement for every length of list; on
PostgreSQL the same test is one array parameter, ``column = ANY(:values)``: one statement,
prepared once, whatever the number of keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Row, Table, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.errors import Conflict

__all__ = ["first_row", "one_of", "update_versioned"]


def one_of(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (an array parameter on PostgreSQL, ``IN`` elsewhere)."""
    listed = list(values)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, listed, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(listed)  # type: ignore[no-any-return]


async def first_row(
    session: AsyncSession, table: Table, *where: ColumnElement[bool], for_update: bool = False
) -> Row[Any] | None:
    """The first row of ``table`` that meets ``where`` (None: there is none), locked with
    ``for_update``."""
    query = select(table).where(*where)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def update_versioned(
    session: AsyncSession,
    table: Table,
    key: ColumnElement[bool],
    expected_version: int,
    values: Mapping[str, Any],
    *,
    what: str,
) -> None:
    """``UPDATE table SET values WHERE key AND version = expected_version``: no row means that
    another transaction changed ``what`` first (ABORTED ``Conflict``, retried by the unit of work)."""
    result = await session.execute(update(table).where(key, table.c.version == expected_version).values(**values))
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise Conflict(f"{what} was changed concurrently; retry")
