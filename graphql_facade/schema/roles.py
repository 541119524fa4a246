"""Operators' roles, enforced on the server: the mutations only a supervisor may run.

A field declared with :func:`supervisor_mutation` answers ``FORBIDDEN`` to an operator whose role is
``OPERATOR`` (a session of such an operator, or a bearer token ``token=CODE:operator``) before its
resolver does anything (the check wraps the resolver: no field extension, so nothing runs per field on
the generic path of queries). In a jewelry plant a supervisor:

* resolves loss reviews (``resolveLossReview``): accepting a loss of precious metal, or sending the
  piece back to rework, is a decision on the metal account;
* blocks and unblocks work centers (``blockWorkCenter``, ``unblockWorkCenter``): it stops or restarts
  a part of the floor for everyone;
* sets a work center's shifts and hourly output target (``setShiftCalendar``): what the floor is
  measured against;
* receives lots into stores (``receiveLot``): it adds metal or stones to the stock the plant answers for;
* ships and cancels orders (``shipOrder``, ``cancelOrder``): what leaves the plant, and the customer's
  order itself.

Operators record their own work: ``startOperation``, ``finishOperation`` (and pausing and resuming it).
``tests/unit/graphql_facade/test_facade_roles.py`` pins the list.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import strawberry
from strawberry.types.info import Info as StrawberryInfo

from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.schema.info import Info

__all__ = ["SUPERVISOR_ONLY", "check_supervisor", "supervisor_mutation"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
#: Set on the resolvers :func:`supervisor_mutation` guards (read by tests and tools).
SUPERVISOR_ONLY = "__mes_supervisor_only__"


def check_supervisor(info: Info) -> None:
    """``FORBIDDEN`` unless the caller is a supervisor."""
    viewer = info.context.viewer
    if not viewer.is_supervisor:
        raise FacadeError(
            ErrorCode.FORBIDDEN,
            f"Only a supervisor may run `{info.field_name}`; you are signed in as {viewer.subject}"
            f" ({(viewer.role or 'OPERATOR').lower()}).",
            extensions={"requiredRole": "SUPERVISOR"},
        )


def _info_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Info:
    for value in (*kwargs.values(), *args):
        if isinstance(value, StrawberryInfo):
            return cast(Info, value)
    raise TypeError("a supervisor_mutation resolver must take `info`")


def supervisor_mutation(*, description: str | None = None) -> Callable[[F], F]:
    """A mutation only supervisors may run: the check comes first in the resolver itself (no field
    extension: nothing runs per field on the generic path), the service is not called when it fails."""

    def decorate(resolver: F) -> F:
        @functools.wraps(resolver)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            check_supervisor(_info_of(args, kwargs))
            return await resolver(*args, **kwargs)

        setattr(guarded, SUPERVISOR_ONLY, True)
        return cast(F, strawberry.mutation(description=description)(guarded))

    return decorate
