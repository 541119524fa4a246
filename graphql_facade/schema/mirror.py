"""Strawberry objects that mirror a protobuf message field by field.

Most GraphQL types of the facade are the service's message under camelCase names: each field takes
the message's field of the same (snake_case) name, converted by what the field is declared as. A type
says so by deriving from :class:`Mirror`, and gets ``from_pb``; the conversion is worked out once per
type from its annotations:

=====================================  ======================================================================
declared as                            taken from the message's field of the same name
=====================================  ======================================================================
``str``, ``int``, ``float``, ``bool``  as it is (``Long``, ``strawberry.ID`` and other ``NewType`` alike)
``X | None`` (``str``-like)            null when empty
``X | None`` (a number)                null unless the message's flag named by ``present=`` is set
``datetime`` / ``datetime | None``     aware UTC; the optional one null when the timestamp is unset
an ``Enum`` / ``Enum | None``          by protobuf number; the optional one null for UNSPECIFIED or unknown
a ``Mirror`` type / ``list[...]``      its own ``from_pb``, item by item for a list
=====================================  ======================================================================

The few fields that are not such a copy are named in the class statement: a string takes another
field of the message (converted the same way), a function computes the value from the whole message::

    class Reservation(Mirror, id="reservation_id"): ...  # ``id`` from ``reservation_id``
    class LeadTime(Mirror, present="has_percentiles"): ...  # percentiles null below 5 orders
    class Operation(Mirror, id=operation_id, work_center_id=_center_id): ...  # computed

A field the rules cannot convert (a ``Private`` one, say) without being named raises ``TypeError``
at its first conversion, naming the type and the field.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from types import UnionType
from typing import Any, Self, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["Mirror", "Source", "optional_enum", "to_datetime"]

E = TypeVar("E", bound=Enum)
#: How a field named in the class statement is filled: another field's name, or a function of the message.
Source = str | Callable[[Any], object]
_Convert = Callable[[Any], object]
_SCALARS = (str, int, float, bool)


def to_datetime(stamp: Timestamp) -> datetime | None:
    """An aware UTC datetime, or None for an unset timestamp."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


def optional_enum(cls: type[E], value: int) -> E | None:
    """The GraphQL enum of a protobuf value; None for UNSPECIFIED (0) or a value this facade does not know."""
    try:
        return cls(value)
    except ValueError:
        return None


class Mirror:
    """Base of a Strawberry type that mirrors a protobuf message (see the module).

    ``present``: the message's boolean field that says whether the optional numbers are set (a
    percentile is null below its minimum sample); every other keyword names a field to fill otherwise.
    A subclass of a mirroring type names its own (they are not inherited).
    """

    _present: typing.ClassVar[str | None] = None
    _sources: typing.ClassVar[dict[str, Source]] = {}
    _plan: typing.ClassVar[tuple[tuple[str, _Convert], ...] | None] = None

    def __init_subclass__(cls, *, present: str | None = None, **sources: Source) -> None:
        super().__init_subclass__()
        cls._present = present
        cls._sources = sources
        cls._plan = None

    @classmethod
    def from_pb(cls, message: Any) -> Self:
        """The object of ``message`` (a protobuf message of the mirrored type)."""
        plan = cls.__dict__.get("_plan") or _plan_of(cls)
        made: Self = typing.cast(Any, cls)(**{name: convert(message) for name, convert in plan})
        return made


def _plan_of(cls: type[Mirror]) -> tuple[tuple[str, _Convert], ...]:
    hints = typing.get_type_hints(cls)
    unknown = set(cls._sources) - set(hints)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))} to fill")
    plan = tuple((name, _field(cls, name, hint)) for name, hint in hints.items() if not name.startswith("_"))
    cls._plan = plan
    return plan


def _field(cls: type[Mirror], name: str, hint: Any) -> _Convert:
    source = cls._sources.get(name, name)
    if not isinstance(source, str):
        return source
    flag = cls._present
    if flag is not None and _optional_number(hint):
        return lambda message: getattr(message, source) if getattr(message, flag) else None
    convert = _converter(cls, name, hint)
    if convert is None:
        return lambda message: getattr(message, source)
    return lambda message: convert(getattr(message, source))


def _base(hint: Any) -> Any:
    """A ``NewType``'s underlying type (``Long`` -> ``int``), anything else as it is."""
    while isinstance(hint, typing.NewType):
        hint = hint.__supertype__
    return hint


def _optional_number(hint: Any) -> bool:
    args = typing.get_args(hint)
    numbers = [_base(arg) for arg in args if arg is not type(None)]
    return type(None) in args and len(numbers) == 1 and numbers[0] in (int, float)


def _converter(cls: type[Mirror], name: str, hint: Any) -> _Convert | None:
    """How to convert the message's value for a field declared as ``hint`` (None: as it is)."""
    args = typing.get_args(hint)
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1 and len(args) == 2:
            return _optional(cls, name, inner[0])
    else:
        base = _base(hint)
        if base in _SCALARS:
            return None
        if base is datetime:
            return _time
        if isinstance(base, type) and issubclass(base, Enum):
            return base
        if isinstance(base, type) and issubclass(base, Mirror):
            return base.from_pb
        if typing.get_origin(hint) is list and len(args) == 1:
            item = _converter(cls, name, args[0])
            return list if item is None else _each(item)
    raise TypeError(f"{cls.__name__}.{name}: {hint!r} is not converted from a message field; name it in the class")


def _optional(cls: type[Mirror], name: str, hint: Any) -> _Convert:
    """``hint | None``: null when the message does not have the value."""
    base = _base(hint)
    if base is datetime:
        return to_datetime
    if isinstance(base, type) and issubclass(base, Enum):
        return lambda value: optional_enum(base, value)
    if base is str:
        return lambda value: value or None
    if base in _SCALARS:
        raise TypeError(f"{cls.__name__}.{name}: an optional number needs `present=` (or name it in the class)")
    raise TypeError(
        f"{cls.__name__}.{name}: {hint!r} | None is not converted from a message field; name it in the class"
    )


def _time(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _each(convert: _Convert) -> _Convert:
    return lambda values: [convert(value) for value in values]
