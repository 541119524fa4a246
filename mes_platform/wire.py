"""Protobuf helpers of the services' codecs on their read paths: times written into
``Timestamp`` fields in place (no ``FromDatetime``: it converts through ``utctimetuple``),
and read masks (AIP-157) decoded to the top-level fields they ask for."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.descriptor import Descriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from mes_kernel.errors import FieldViolation, InvalidArgument

__all__ = ["read_mask_fields", "set_time"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALL = "*"


def set_time(field: Timestamp, value: datetime) -> None:
    """``field`` := ``value`` (a naive time is UTC), as ``Timestamp.FromDatetime`` would."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    field.seconds = delta.days * 86_400 + delta.seconds
    field.nanos = delta.microseconds * 1000


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
