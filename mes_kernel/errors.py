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
from typing import Any, ClassVar

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
    """Base of every error a caller may see.

    A subclass names its gRPC status code and its default reason in the class line
    (``class NotFound(MesError, code="NOT_FOUND")``; the reason is the code unless given).
    """

    code: ClassVar[str] = "INTERNAL"  # name of a grpc.StatusCode
    default_reason: ClassVar[str] = "INTERNAL"

    def __init_subclass__(cls, *, code: str | None = None, reason: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if code is not None or reason is not None:
            cls.default_reason = reason or cls.code

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


class InvalidArgument(MesError, code="INVALID_ARGUMENT"): ...


class NotFound(MesError, code="NOT_FOUND"): ...


class AlreadyExists(MesError, code="ALREADY_EXISTS"): ...


class FailedPrecondition(MesError, code="FAILED_PRECONDITION", reason="INVALID_STATE_TRANSITION"): ...


class Conflict(MesError, code="ABORTED", reason="VERSION_CONFLICT"):
    """Optimistic concurrency failure; the caller may re-read and retry."""


class ResourceExhausted(MesError, code="RESOURCE_EXHAUSTED", reason="CAPACITY_EXCEEDED"): ...


class Unauthenticated(MesError, code="UNAUTHENTICATED"): ...


class PermissionDenied(MesError, code="PERMISSION_DENIED"): ...


class Unavailable(MesError, code="UNAVAILABLE"): ...
