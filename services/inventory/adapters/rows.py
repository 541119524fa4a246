"""Rows <-> domain objects: a domain dataclass's fields are the columns of the same name.

Times read back are aware UTC (SQLite returns naive ones), enums are rebuilt from their
stored values, sums (Decimal on PostgreSQL) become ints.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from sqlalchemy import Row, Table

from mes_kernel.clock import as_utc

__all__ = ["from_row", "to_row"]

T = TypeVar("T")


def to_row(obj: object, table: Table, **values: Any) -> dict[str, Any]:
    """``table``'s column values taken from ``obj``'s attributes of the same name (plus ``values``)."""
    row = {c.name: getattr(obj, c.name) for c in table.c if c.name not in values and hasattr(obj, c.name)}
    return {name: value.value if isinstance(value, Enum) else value for name, value in (row | values).items()}


def from_row(cls: type[T], row: Any, **values: Any) -> T:
    """A ``cls`` from the columns of a row (or the keys of a mapping) named like its fields
    (plus ``values``)."""
    mapping: Mapping[Any, Any] = row._mapping if isinstance(row, Row) else row
    kwargs = dict(values)
    for name, kind in _fields(cls):
        if name not in kwargs and name in mapping:
            kwargs[name] = _convert(kind, mapping[name])
    return cls(**kwargs)


_FIELDS: dict[type[Any], tuple[tuple[str, Any], ...]] = {}


def _fields(cls: type[Any]) -> tuple[tuple[str, Any], ...]:
    """(name, type without None) of the dataclass's fields."""
    found = _FIELDS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = _FIELDS[cls] = tuple((f.name, _without_none(hints[f.name])) for f in fields(cls))
    return found


def _without_none(hint: Any) -> Any:
    if get_origin(hint) in (Union, types.UnionType):
        return next(arg for arg in get_args(hint) if arg is not type(None))
    return hint


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if kind is datetime:
        return as_utc(value)
    if isinstance(kind, type) and issubclass(kind, Enum | bool | int):
        return kind(value)
    return value
