"""Keyset conditions for the repositories' ``ORDER BY ... LIMIT`` listings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

__all__ = ["keyset_after"]


def keyset_after(parts: Sequence[tuple[Any, Any, bool]]) -> ColumnElement[bool]:
    """Rows strictly after a key; ``parts`` are (column, value, descending) in sort order."""
    clauses = []
    for i, (column, value, descending) in enumerate(parts):
        equal = [c == v for c, v, _d in parts[:i]]
        clauses.append(and_(*equal, column < value if descending else column > value))
    return or_(*clauses)
