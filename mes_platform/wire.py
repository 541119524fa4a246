"""Protobuf helpers of the services' codecs on their read paths: times written into
``Timestamp`` fields in place (no ``FromDatetime``: it converts through ``utctimetuple``),
read masks (AIP-157) decoded to the top-level fields they ask for, and messages built from
records whose attributes are named as the message's fields (:func:`message_from`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.paging import Page

__all__ = ["message_from", "page_reply", "read_mask_fields", "set_time", "timestamp"]

M = TypeVar("M", bound=Message)
T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALL = "*"


def set_time(field: Timestamp, value: datetime) -> None:
    """``field`` := ``value`` (a naive time is UTC), as ``Timestamp.FromDatetime`` would."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    field.seconds = delta.days * 86_400 + delta.seconds
    field.nanos = delta.microseconds * 1000


def page_reply(response_type: type[M], field: str, page: Page[T], encode: Callable[[T], Any]) -> M:
    """The reply of a list method: its repeated ``field`` holds the page's items, each encoded,
    and ``next_page_token`` the token of the next page (empty on the last one)."""
    return response_type(**{field: [encode(item) for item in page.items]}, next_page_token=page.next_page_token)


def timestamp(value: datetime | None) -> Timestamp | None:
    """A new ``Timestamp`` of ``value`` (a naive time is UTC) for a message's constructor; None
    stays None (the field is left unset)."""
    if value is None:
        return None
    stamp = Timestamp()
    set_time(stamp, value)
    return stamp


def read_mask_fields(mask: FieldMask, message: Descriptor, field: str = "read_mask") -> frozenset[str] | None:
    """The top-level fields of ``message`` a read mask asks for; None means every field (no
    mask, an empty one, or ``*``). Another path (unknown, or below the top level) is
    INVALID_ARGUMENT."""
    paths = list(mask.paths)
    if not paths or _ALL in paths:
        return None
    known = message.fields_by_name
    violations = [
        FieldViolation(f"{field}.paths[{i}]", f"{message.name} has no top-level field {path!r}")
        for i, path in enumerate(paths)
        if path not in known
    ]
    if violations:
        raise InvalidArgument(f"{field} names fields that {message.name} does not have", violations=violations)
    return frozenset(paths)


def message_from(message_type: type[M], source: object, **given: Any) -> M:
    """A ``message_type`` whose singular scalar fields (strings, numbers, booleans) are copied
    from the attributes of ``source`` with the same names, and whose other fields are ``given``.

    Enum, message and repeated fields are never copied as they are: a value of the domain is
    not a wire value. If ``source`` has an attribute named as such a field, that field must be
    given (TypeError otherwise), so a record cannot put an unconverted value on the wire."""
    scalars, others = _field_kinds(message_type.DESCRIPTOR)
    missing = [name for name in others if name not in given and hasattr(source, name)]
    if missing:
        raise TypeError(f"{message_type.DESCRIPTOR.name}: give {', '.join(missing)} (not copied as they are)")
    values = {name: getattr(source, name) for name in scalars if name not in given and hasattr(source, name)}
    values.update(given)
    return message_type(**values)


@cache
def _field_kinds(message: Descriptor) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of ``message``'s singular scalar fields, and of its other fields."""
    kept = (FieldDescriptor.TYPE_ENUM, FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP)
    scalars = tuple(f.name for f in message.fields if not f.is_repeated and f.type not in kept)
    others = tuple(f.name for f in message.fields if f.is_repeated or f.type in kept)
    return scalars, others
