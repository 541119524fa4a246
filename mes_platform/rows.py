"""Rows <-> a service's records, by name.

A repository stores a domain record (a dataclass) in columns named as its fields. Rather than
copy every field by hand in both directions, :func:`row_values` (the named fields) and
:func:`to_row` (the fields a table has a column for) read a record for an ``INSERT`` or
``UPDATE``, and :func:`from_row` builds the record from a row, each converting by the field's
declared type:

=========================  ====================  =========================================
field type                 stored as             read back as
=========================  ====================  =========================================
an ``Enum``                its ``value``         ``Type(value)``
``Enum | None``            ``value`` or None     None where the column is empty ("" or NULL)
``datetime``               as is                 aware UTC (:func:`mes_kernel.clock.as_utc`;
                                                 SQLite gives naive values)
``int``, ``bool``          as is                 ``int(value)`` (PostgreSQL sums are
                                                 ``Decimal``), ``bool(value)``
anything else              as is                 as is
=========================  ====================  =========================================

NULL is read back as None whatever the type. What does not follow the table (a set kept as a
comma-separated string, a value computed from two columns) is handed in by keyword, and wins
over the named fields.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from sqlalchemy import Table

from mes_kernel.clock import as_utc

__all__ = ["from_row", "row_values", "to_row"]

R = TypeVar("R")
_Convert = Callable[[Any], Any]


def row_values(record: Any, names: Iterable[str], **given: Any) -> dict[str, Any]:
    """``{name: record.<name>}`` for each of ``names`` (enums by their value), then ``given``."""
    values = {name: _stored(getattr(record, name)) for name in names}
    values.update(given)
    return values


def to_row(record: object, table: Table, **given: Any) -> dict[str, Any]:
    """``table``'s column values taken from ``record``'s attributes of the same name (enums by
    their value), then ``given``."""
    names = [c.name for c in table.c if c.name not in given and hasattr(record, c.name)]
    return row_values(record, names, **given)


def from_row(cls: type[R], row: Any, **given: Any) -> R:
    """A ``cls`` (a dataclass) from the columns of ``row`` (a SQLAlchemy ``Row`` or a mapping)
    named as its fields, each converted by the field's type; ``given`` values win. A field that
    the row does not hold keeps its default."""
    mapping: Mapping[str, Any] = row._mapping if hasattr(row, "_mapping") else row
    readers = _readers(cls)  # type: ignore[arg-type]  # a class is hashable
    kwargs = {name: convert(mapping[name]) for name, convert in readers if name in mapping}
    kwargs.update(given)
    return cls(**kwargs)


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@cache
def _readers(cls: type) -> tuple[tuple[str, _Convert], ...]:
    """Each init field of ``cls`` with the conversion from its column (computed once per class)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"from_row needs a dataclass, got {cls!r}")
    hints = get_type_hints(cls)
    return tuple((f.name, _reader(hints[f.name])) for f in dataclasses.fields(cls) if f.init)


def _reader(hint: Any) -> _Convert:
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    base = next(arg for arg in get_args(hint) if arg is not type(None)) if optional else hint
    convert: _Convert
    if isinstance(base, type) and issubclass(base, Enum):
        enum = base
        return (lambda value: enum(value) if value not in (None, "") else None) if optional else _or_none(enum)
    if base is datetime:
        convert = as_utc
    elif base is int or base is bool:
        convert = base
    else:
        return _same
    return _or_none(convert)


def _or_none(convert: _Convert) -> _Convert:
    """``convert``, with NULL read back as None."""
    return lambda value: None if value is None else convert(value)


def _same(value: Any) -> Any:
    return value
