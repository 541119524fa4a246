"""Keyset pagination and time helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_

from mes_kernel.clock import as_utc
from mes_kernel.errors import InvalidArgument
from services.inventory.service_layer.ports import Key, Page

__all__ = ["bad_token", "iso", "key_parts", "keyset_after", "page_of", "parse_time"]

T = TypeVar("T")
R = TypeVar("R")


def iso(value: datetime) -> str:
    return as_utc(value).isoformat()


def bad_token() -> InvalidArgument:
    return InvalidArgument("page_token is invalid", reason="INVALID_PAGE_TOKEN")


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise bad_token()
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise bad_token() from None


def key_parts(after: Key, types: Sequence[type]) -> list[Any]:
    """Check a decoded key's shape (tokens of another listing fail INVALID_PAGE_TOKEN)."""
    if len(after) != len(types) or not all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(after, types, strict=True)
    ):
        raise bad_token()
    return list(after)


def keyset_after(parts: Sequence[tuple[Any, Any, bool]]) -> ColumnElement[bool]:
    """Rows strictly after a key; ``parts`` are (column, value, descending) in sort order."""
    clauses = []
    for i, (column, value, descending) in enumerate(parts):
        equal = [c == v for c, v, _d in parts[:i]]
        clauses.append(and_(*equal, column < value if descending else column > value))
    return or_(*clauses)


def page_of(rows: Sequence[R], limit: int, convert: Callable[[R], T], key: Callable[[R], Key]) -> Page[T]:
    """A page from ``limit + 1`` fetched rows: the extra row only says there is more."""
    more = len(rows) > limit
    kept = rows[:limit]
    return Page([convert(r) for r in kept], key(kept[-1]) if more and kept else None)
