"""The resolver ``info`` type of the facade and small helpers shared by resolvers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, cast

import strawberry

from graphql_facade.context import RequestContext
from graphql_facade.errors import ErrorCode, FacadeError

__all__ = ["Info", "check_id", "check_key", "field", "mutation", "subscription"]

Info: TypeAlias = strawberry.Info[RequestContext, None]
F = TypeVar("F", bound=Callable[..., Any])


def field(*, description: str | None = None) -> Callable[[F], F]:
    """``strawberry.field(description=...)`` keeping the resolver's type for type checkers."""
    return cast(Callable[[F], F], strawberry.field(description=description))


def mutation(*, description: str | None = None) -> Callable[[F], F]:
    return cast(Callable[[F], F], strawberry.mutation(description=description))


def subscription(*, description: str | None = None) -> Callable[[F], F]:
    return cast(Callable[[F], F], strawberry.subscription(description=description))


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _invalid(field: str, description: str) -> FacadeError:
    return FacadeError(
        ErrorCode.INVALID_ARGUMENT,
        f"`{field}` {description}.",
        extensions={"fieldViolations": [{"field": field, "description": description}]},
    )


def check_id(value: str, field: str = "id") -> str:
    """Resource ids are 1..64 of letters, digits, '-' and '_'."""
    if not _ID.match(value):
        raise _invalid(field, "is not a valid id")
    return value


def check_key(value: str | None, field: str = "idempotencyKey") -> str:
    """Idempotency keys: 1..64 printable characters without surrounding spaces (empty: none)."""
    if value is None or value == "":
        return ""
    if len(value) > 64 or not value.isprintable() or value.strip() != value:
        raise _invalid(field, "must be 1..64 printable characters without surrounding spaces")
    return value
