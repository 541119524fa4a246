"""Keyset conditions for the repositories' ``ORDER BY ... LIMIT`` listings.

The condition is written so that the database enters the listing's index at the key instead
of reading the index from its start and filtering: a page deep in a listing costs what the
first page costs (PostgreSQL turns a row-value comparison into an index range; an expanded
``OR`` of the parts is only a filter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, tuple_

__all__ = ["keyset_after"]


def _past(column: Any, value: Any, descending: bool, *, inclusive: bool = False) -> ColumnElement[bool]:
    if descending:
        return column <= value if inclusive else column < value  # type: ignore[no-any-return]
    return column >= value if inclusive else column > value  # type: ignore[no-any-return]


def keyset_after(parts: Sequence[tuple[Any, Any, bool]]) -> ColumnElement[bool]:
    """Rows strictly after a key; ``parts`` are (column, value, descending) in sort order.

    Every part in one direction: one row-value comparison, ``(a, b) < (:a, :b)``. Mixed
    directions: the expanded condition, bounded by the first column (``a <= :a AND (...)``)
    so that an index led by it is still entered at the key.
    """
    if len(parts) == 1:
        column, value, descending = parts[0]
        return _past(column, value, descending)
    directions = {descending for _c, _v, descending in parts}
    if len(directions) == 1:
        columns = tuple_(*(column for column, _v, _d in parts))
        values = tuple_(*(value for _c, value, _d in parts), types=[column.type for column, _v, _d in parts])
        return _past(columns, values, directions.pop())
    clauses = []
    for i, (column, value, descending) in enumerate(parts):
        equal = [c == v for c, v, _d in parts[:i]]
        clauses.append(and_(*equal, _past(column, value, descending)))
    first, value, descending = parts[0]
    return and_(_past(first, value, descending, inclusive=True), or_(*clauses))
