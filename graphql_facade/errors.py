"""One error model: every error a client sees has a safe message and ``extensions.code``.

* :class:`FacadeError` is raised by the facade itself (authentication, bad arguments,
  overload, timeouts); its message is written for the client.
* Typed service errors (:class:`clients.MesClientError` subclasses) are mapped by
  :func:`from_client_error`: ``NOT_FOUND``, ``INVALID_ARGUMENT`` (with ``fieldViolations``),
  ``IDEMPOTENCY_KEY_REUSED``, the state-machine reasons of FAILED_PRECONDITION
  (``INVALID_STATE_TRANSITION``, ``INSUFFICIENT_STOCK``, ...), ``VERSION_CONFLICT``,
  ``FORBIDDEN``, ``UNAVAILABLE``.
* GraphQL request errors keep their text (``GRAPHQL_PARSE_FAILED``,
  ``GRAPHQL_VALIDATION_FAILED``, ``BAD_USER_INPUT``); partners get no field suggestions.
* Anything else is masked: ``INTERNAL_SERVER_ERROR`` with a fixed message, and the
  exception is logged, never sent.

:class:`ErrorShaping` applies the model to every result (HTTP and WebSocket).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from clients import (
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    FailedPreconditionError,
    IdempotencyKeyReusedError,
    InvalidArgumentError,
    MesClientError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnavailableError,
)
from graphql_facade.limits.errors import LimitError
from mes_platform.telemetry.logs import get_logger

__all__ = [
    "INTERNAL_MESSAGE",
    "ErrorCode",
    "ErrorShaping",
    "FacadeError",
    "format_errors",
    "from_client_error",
    "shape_error",
    "syntax_error",
    "validation_error",
]

_log = get_logger("mes.facade.errors")
INTERNAL_MESSAGE = "Internal server error."
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


class ErrorCode:
    """The ``extensions.code`` values of the facade (limits add their own, see ``limits``)."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    UNAVAILABLE = "UNAVAILABLE"
    OVERLOADED = "OVERLOADED"
    TIMEOUT = "TIMEOUT"
    BAD_REQUEST = "BAD_REQUEST"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class FacadeError(Exception):
    """An error whose message and extensions are safe to show to the caller."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int = 200,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.extensions: dict[str, Any] = {"code": code, **dict(extensions or {})}
        self.headers: dict[str, str] = dict(headers or {})

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": dict(self.extensions)}

    def __repr__(self) -> str:
        return f"FacadeError({self.code}, {self.message!r})"


def from_client_error(error: MesClientError) -> FacadeError:
    """The public form of a typed service error (never the text of an internal failure)."""
    extra: dict[str, Any] = {"reason": error.reason}
    if isinstance(error, InvalidArgumentError):
        if error.violations:
            extra["fieldViolations"] = [{"field": v.field, "description": v.description} for v in error.violations]
        return FacadeError(ErrorCode.INVALID_ARGUMENT, error.message, extensions=extra)
    if isinstance(error, NotFoundError):
        return FacadeError(ErrorCode.NOT_FOUND, error.message, extensions=extra)
    if isinstance(error, IdempotencyKeyReusedError):
        message = "The idempotency key was used before with a different request."
        return FacadeError(ErrorCode.IDEMPOTENCY_KEY_REUSED, message, extensions=extra)
    if isinstance(error, AlreadyExistsError):
        return FacadeError(ErrorCode.ALREADY_EXISTS, error.message, extensions=extra)
    if isinstance(error, FailedPreconditionError):
        code = error.reason if error.reason not in ("", "FAILED_PRECONDITION") else ErrorCode.FAILED_PRECONDITION
        return FacadeError(code, error.message, extensions=extra)
    if isinstance(error, ConflictError):
        return FacadeError(ErrorCode.VERSION_CONFLICT, error.message, extensions=extra)
    if isinstance(error, ResourceExhaustedError):
        return FacadeError(ErrorCode.RESOURCE_EXHAUSTED, error.message, extensions=extra)
    if isinstance(error, PermissionDeniedError):
        return FacadeError(ErrorCode.FORBIDDEN, "This operation is not allowed.", extensions=extra)
    if isinstance(error, UnavailableError | DeadlineExceededError):
        message = "A backend service is unavailable; retry later."
        return FacadeError(ErrorCode.UNAVAILABLE, message, extensions={"reason": error.reason, "retryable": True})
    # UNAUTHENTICATED (the facade's own credentials were refused), INTERNAL and the rest.
    _log.error("backend_error_masked", code=error.code.name, reason=error.reason, method=error.method)
    return FacadeError(ErrorCode.INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE)


def _public(original: BaseException) -> FacadeError | LimitError | None:
    if isinstance(original, FacadeError | LimitError):
        return original
    if isinstance(original, MesClientError):
        return from_client_error(original)
    return None


def shape_error(error: GraphQLError, *, hide_suggestions: bool) -> GraphQLError:
    """The client-safe version of one error (see the module docstring)."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if original is not None and not isinstance(original, GraphQLError):
        public = _public(original)
        if public is None:
            _log.error("unexpected_error", path=error.path, exc_info=original)
            return GraphQLError(
                INTERNAL_MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": "INTERNAL_SERVER_ERROR"}
            )
        return GraphQLError(public.message, nodes=error.nodes, path=error.path, extensions=dict(public.extensions))
    if error.extensions and "code" in error.extensions:
        return error  # already shaped
    if error.path is not None:
        # A completion error on a field (e.g. a null in a non-null field): nothing useful to show.
        _log.error("field_error_masked", path=error.path, error=error.message)
        return GraphQLError(
            INTERNAL_MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": "INTERNAL_SERVER_ERROR"}
        )
    message = _SUGGESTION.sub("", error.message) if hide_suggestions else error.message
    code = ErrorCode.GRAPHQL_PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else ErrorCode.BAD_USER_INPUT
    return GraphQLError(
        message, nodes=error.nodes, source=error.source, positions=error.positions, extensions={"code": code}
    )


def syntax_error(error: GraphQLSyntaxError) -> GraphQLError:
    """A document that does not parse, in the public shape (``GRAPHQL_PARSE_FAILED``)."""
    return GraphQLError(
        error.message,
        source=error.source,
        positions=error.positions,
        extensions={"code": ErrorCode.GRAPHQL_PARSE_FAILED},
    )


def validation_error(error: GraphQLError, *, hide_suggestions: bool) -> GraphQLError:
    """A validation error (from ``graphql.validate``) in the public shape."""
    message = _SUGGESTION.sub("", error.message) if hide_suggestions else error.message
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        extensions={"code": ErrorCode.GRAPHQL_VALIDATION_FAILED},
    )


def format_errors(errors: Sequence[GraphQLError]) -> list[dict[str, Any]]:
    return [dict(error.formatted) for error in errors]


class ErrorShaping(SchemaExtension):
    """Applies :func:`shape_error` to the errors of every result, streamed ones included."""

    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self._hide = hide_suggestions

    def _shape(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [shape_error(e, hide_suggestions=self._hide) for e in errors]  # type: ignore[attr-defined]

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None:
            self._shape(result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._shape(result)
        yield None
