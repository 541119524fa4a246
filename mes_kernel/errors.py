"""One error model end to end.

Domain and service-layer code raise :class:`MesError` subclasses with a stable
UPPER_SNAKE ``reason`` and the name of a gRPC status code; this module is pure
(no gRPC import) so the domain may raise these errors. ``rpc_status`` turns them
into a ``google.rpc.Status`` with an ``ErrorInfo`` (domain ``mes.jewelry``) and,
for validation errors, a ``BadRequest``. Anything else is masked as INTERNAL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ERROR_DOMAIN",
    "AlreadyExists",
    "Conflict",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "MesError",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]

ERROR_DOMAIN = "mes.jewelry"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class MesError(Exception):
    """Base of every error a caller may see."""

    code = "INTERNAL"  # name of a grpc.StatusCode
    default_reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        violations: Iterable[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})
        self.violations: list[FieldViolation] = list(violations)


class InvalidArgument(MesError):
    code = "INVALID_ARGUMENT"
    default_reason = "INVALID_ARGUMENT"


class NotFound(MesError):
    code = "NOT_FOUND"
    default_reason = "NOT_FOUND"


class AlreadyExists(MesError):
    code = "ALREADY_EXISTS"
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(MesError):
    code = "FAILED_PRECONDITION"
    default_reason = "INVALID_STATE_TRANSITION"


class Conflict(MesError):
    """Optimistic concurrency failure; the caller may re-read and retry."""

    code = "ABORTED"
    default_reason = "VERSION_CONFLICT"


class ResourceExhausted(MesError):
    code = "RESOURCE_EXHAUSTED"
    default_reason = "CAPACITY_EXCEEDED"


class Unauthenticated(MesError):
    code = "UNAUTHENTICATED"
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(MesError):
    code = "PERMISSION_DENIED"
    default_reason = "PERMISSION_DENIED"


class Unavailable(MesError):
    code = "UNAVAILABLE"
    default_reason = "UNAVAILABLE"
