"""Conditions the repositories' reads share.

:func:`one_of` is ``column IN (values)`` for a list of keys (the orders of a page, the work
orders of those orders...). SQLAlchemy renders an ``IN`` list anew for every call, one bound
parameter per value, and asyncpg prepares a new statement for every length of list; on
PostgreSQL the same test is one array parameter, ``column = ANY(:values)``: one statement,
prepared once, whatever the number of keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["one_of"]


def one_of(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (an array parameter on PostgreSQL, ``IN`` elsewhere)."""
    listed = list(values)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, listed, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(listed)  # type: ignore[no-any-return]
