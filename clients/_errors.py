"""The exception tree raised by the clients, decoded from ``google.rpc.Status`` details.

::

    MesClientError
    ├── InvalidArgumentError            INVALID_ARGUMENT (violations: the BadRequest field violations)
    ├── NotFoundError                   NOT_FOUND (also another tenant's object)
    ├── AlreadyExistsError              ALREADY_EXISTS
    │   └── IdempotencyKeyReusedError   reason IDEMPOTENCY_KEY_REUSED
    ├── FailedPreconditionError         FAILED_PRECONDITION (e.g. INVALID_STATE_TRANSITION)
    │   └── InsufficientStockError      reason INSUFFICIENT_STOCK
    ├── ConflictError                   ABORTED (VERSION_CONFLICT: re-read and retry)
    ├── ResourceExhaustedError          RESOURCE_EXHAUSTED
    ├── UnauthenticatedError            UNAUTHENTICATED
    ├── PermissionDeniedError           PERMISSION_DENIED
    ├── UnavailableError                UNAVAILABLE (retried for idempotent calls)
    ├── DeadlineExceededError           DEADLINE_EXCEEDED
    └── InternalError                   INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS

Other codes (CANCELLED, OUT_OF_RANGE) raise the base class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from mes_kernel.errors import ERROR_DOMAIN, FieldViolation

__all__ = [
    "ERROR_DOMAIN",
    "AlreadyExistsError",
    "ConflictError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "IdempotencyKeyReusedError",
    "InsufficientStockError",
    "InternalError",
    "InvalidArgumentError",
    "MesClientError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "UnavailableError",
    "error_class",
    "error_from_rpc_error",
    "error_from_status",
]

_DETAILS_KEY = "grpc-status-details-bin"


class MesClientError(Exception):
    """Base of every error a service call raises.

    ``code`` is the gRPC status code, ``reason`` the stable UPPER_SNAKE ``ErrorInfo.reason`` (the code's
    name when the server sent none), ``metadata`` the ErrorInfo metadata and ``violations`` the field
    violations of a BadRequest detail.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str | None = None,
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        violations: Iterable[FieldViolation] = (),
        method: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or code.name
        self.domain = domain
        self.metadata: dict[str, str] = dict(metadata or {})
        self.violations: list[FieldViolation] = list(violations)
        self.method = method

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.name}, reason={self.reason!r}, message={self.message!r})"


class InvalidArgumentError(MesClientError):
    """A request field is invalid; ``violations`` lists every bad field."""


class NotFoundError(MesClientError):
    """The resource does not exist (or belongs to another tenant)."""


class AlreadyExistsError(MesClientError):
    """The resource already exists."""


class IdempotencyKeyReusedError(AlreadyExistsError):
    """The request_id was used before with a different request."""


class FailedPreconditionError(MesClientError):
    """The resource's state does not allow the call (e.g. INVALID_STATE_TRANSITION)."""


class InsufficientStockError(FailedPreconditionError):
    """Not enough material to reserve."""


class ConflictError(MesClientError):
    """Optimistic concurrency conflict (ABORTED); re-read and try again."""


class ResourceExhaustedError(MesClientError):
    """A limit or a capacity was reached."""


class UnauthenticatedError(MesClientError):
    """Credentials are missing or invalid."""


class PermissionDeniedError(MesClientError):
    """The caller may not perform this call."""


class UnavailableError(MesClientError):
    """The service or one of its dependencies is unreachable; idempotent calls are retried."""


class DeadlineExceededError(MesClientError):
    """The call did not complete within its deadline."""


class InternalError(MesClientError):
    """The service failed unexpectedly (details are masked by the server)."""


_BY_CODE: dict[grpc.StatusCode, type[MesClientError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: ConflictError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.UNIMPLEMENTED: InternalError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}
#: Reasons with their own class; only used when the status code matches the parent class.
_BY_REASON: dict[str, type[MesClientError]] = {
    "IDEMPOTENCY_KEY_REUSED": IdempotencyKeyReusedError,
    "INSUFFICIENT_STOCK": InsufficientStockError,
}


def error_class(code: grpc.StatusCode, reason: str | None) -> type[MesClientError]:
    base = _BY_CODE.get(code, MesClientError)
    special = _BY_REASON.get(reason or "")
    return special if special is not None and issubclass(special, base) else base


def error_from_status(
    code: grpc.StatusCode,
    message: str,
    status: status_pb2.Status | None = None,
    *,
    method: str = "",
) -> MesClientError:
    """Build the typed exception from a status code and, when present, the rich ``google.rpc.Status``."""
    reason: str | None = None
    domain = ""
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    if status is not None:
        message = status.message or message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR) and reason is None:
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, domain, metadata = info.reason or None, info.domain, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations.extend(FieldViolation(v.field, v.description) for v in bad.field_violations)
    cls = error_class(code, reason)
    return cls(code, message, reason=reason, domain=domain, metadata=metadata, violations=violations, method=method)


def _status_from_trailers(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    for key, value in error.trailing_metadata() or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                return None
    return None


async def error_from_rpc_error(
    error: grpc.aio.AioRpcError, call: grpc.aio.Call | None = None, *, method: str = ""
) -> MesClientError:
    """Decode a failed call: ``rpc_status.aio.from_call(call)`` for the details, else the error's trailers."""
    status: status_pb2.Status | None = None
    if call is not None:
        try:
            found = await rpc_status.aio.from_call(call)
        except (ValueError, DecodeError):  # code/message mismatch or garbage in the trailer
            found = None
        status = found if isinstance(found, status_pb2.Status) else None
    if status is None:
        status = _status_from_trailers(error)
    code = error.code()
    if status is not None and status.code != code.value[0]:
        status = None  # details of another status (a proxy or the transport changed the code): ignore them
    return error_from_status(code, error.details() or code.name, status, method=method)
