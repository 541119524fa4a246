"""One error model: every error a client sees has a safe message and ``extensions.code``.

* :class:`FacadeError` is raised by the facade itself (authentication, bad arguments,
  overload, timeouts); its message is written for the client.
* Typed service errors (:class:`clients.MesClientError` subclasses) are mapped by
  :func:`from_client_error`: ``NOT_FOUND``, ``INVALID_ARGUMENT`` (with ``fieldViolations`` named as
  in the GraphQL schema: ``input.dueTime``, ``input.lines[0].styleCode``, ``after`` for a bad
  cursor, ``idempotencyKey``; see :func:`graphql_field`),
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
from collections.abc import Collection, Iterator, Mapping, Sequence
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
    "graphql_field",
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
    #: The installation runs no webhooks service (``MES_FACADE_WEBHOOKS_ADDR`` is not set).
    WEBHOOKS_NOT_ENABLED = "WEBHOOKS_NOT_ENABLED"
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


#: Request fields of the services whose GraphQL argument has another name.
_ARGUMENT_NAMES = {"page_token": "after", "page_size": "first", "request_id": "idempotencyKey", "name": "id"}
#: ... and those renamed only for a field that takes that argument (``webhookLog(endpointId:)`` sends
#: the endpoint as the request's ``parent``).
_ARGUMENT_NAMES_IF_TAKEN = {"parent": "endpointId"}
_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(.*)$")
_INVALID_CURSOR = "The cursor is invalid, expired or was issued for another filter."


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def graphql_field(path: str, arguments: Collection[str] = ()) -> str:
    """A service's field path (``lines[0].style_code``) as the GraphQL caller wrote it.

    Each segment becomes camelCase (indexes kept); the request fields that are arguments of another
    name are renamed (``page_token`` -> ``after``, ``request_id`` -> ``idempotencyKey``, ``name`` -> ``id``;
    ``parent`` -> ``endpointId`` when the field takes ``endpointId``).
    ``arguments``: the arguments of the field that failed; when it takes an ``input`` object and the
    first segment is not an argument itself, the path is inside it (``input.dueTime``).
    """
    segments: list[str] = []
    for position, segment in enumerate(path.split(".")):
        found = _SEGMENT.match(segment)
        if found is None:
            segments.append(segment)
            continue
        base, rest = found.groups()
        renamed = _ARGUMENT_NAMES.get(base) if position == 0 else None
        taken = _ARGUMENT_NAMES_IF_TAKEN.get(base) if position == 0 else None
        if taken is not None and taken in arguments:
            renamed = taken
        segments.append((renamed or _camel(base)) + rest)
    first = segments[0].split("[", 1)[0] if segments else ""
    if "input" in arguments and first not in arguments:
        segments.insert(0, "input")
    return ".".join(segments)


def from_client_error(error: MesClientError, arguments: Collection[str] = ()) -> FacadeError:
    """The public form of a typed service error (never the text of an internal failure).

    ``arguments``: the GraphQL arguments of the field that called the service (field violations are
    named after them, see :func:`graphql_field`)."""
    extra: dict[str, Any] = {"reason": error.reason}
    if isinstance(error, InvalidArgumentError):
        message = error.message
        violations = [(v.field, v.description) for v in error.violations]
        if error.reason == "INVALID_PAGE_TOKEN":
            message = _INVALID_CURSOR
            violations = [("page_token", "invalid, expired or issued for another filter")]
        if violations:
            extra["fieldViolations"] = [
                {"field": graphql_field(field, arguments), "description": description}
                for field, description in violations
            ]
        return FacadeError(ErrorCode.INVALID_ARGUMENT, message, extensions=extra)
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


def _public(original: BaseException, arguments: Collection[str] = ()) -> FacadeError | LimitError | None:
    if isinstance(original, FacadeError | LimitError):
        return original
    if isinstance(original, MesClientError):
        return from_client_error(original, arguments)
    return None


def _arguments(error: GraphQLError) -> tuple[str, ...]:
    """The argument names of the field an error was raised on (its first node)."""
    node = error.nodes[0] if error.nodes else None
    arguments = getattr(node, "arguments", None) or ()
    return tuple(argument.name.value for argument in arguments)


def shape_error(error: GraphQLError, *, hide_suggestions: bool) -> GraphQLError:
    """The client-safe version of one error (see the module docstring)."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if original is not None and not isinstance(original, GraphQLError):
        public = _public(original, _arguments(error))
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
