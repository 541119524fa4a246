"""What every handler shares: dependencies, paging, batch gets and who may act as whom."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from mes_kernel.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from mes_kernel.paging import PageTokens, page_size
from mes_platform.auth import Principal, partner_scope, require_staff
from services.production.service_layer.commands import PageRequest
from services.production.service_layer.ports import UnitOfWorkFactory

__all__ = [
    "MAX_BATCH",
    "BatchResult",
    "Clock",
    "Context",
    "Page",
    "act_as",
    "batch_result",
    "check_batch_size",
    "default_clock",
    "new_work_order_id",
    "paginate",
]

T = TypeVar("T")
K = TypeVar("K")
Clock = Callable[[], datetime]
MAX_BATCH = 1000


def default_clock() -> datetime:
    return datetime.now(UTC)


def new_work_order_id() -> str:
    return f"wo-{uuid.uuid4().hex}"


@dataclass
class Context:
    uow: UnitOfWorkFactory
    tokens: PageTokens
    clock: Clock = default_clock
    new_id: Callable[[], str] = new_work_order_id


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str = ""


@dataclass(frozen=True)
class BatchResult(Generic[K, T]):
    items: list[T]
    missing: list[K] = field(default_factory=list)


@dataclass(frozen=True)
class Paging:
    """A decoded page request: how many rows, after which key, for which filter."""

    size: int
    after: list[Any] | None
    filters: Mapping[str, Any]
    tokens: PageTokens

    def page(self, rows: Sequence[T], key: Callable[[T], list[Any]]) -> Page[T]:
        """``rows`` were fetched with ``size + 1``: the extra row says there is a next page."""
        if len(rows) <= self.size:
            return Page(list(rows))
        items = list(rows[: self.size])
        token = self.tokens.encode(key(items[-1]), scope=partner_scope(), filters=self.filters)
        return Page(items, token)


def paginate(ctx: Context, request: PageRequest, filters: Mapping[str, Any]) -> Paging:
    size = page_size(request.page_size)
    after = ctx.tokens.decode(request.page_token, scope=partner_scope(), filters=filters)
    return Paging(size, after, filters, ctx.tokens)


def check_batch_size(count: int, field_name: str = "names") -> None:
    if count > MAX_BATCH:
        raise InvalidArgument(
            f"at most {MAX_BATCH} names per call", violations=[FieldViolation(field_name, f"at most {MAX_BATCH}")]
        )


def batch_result(
    keys: Sequence[K], found: Mapping[K, T], *, allow_missing: bool, label: Callable[[K], str]
) -> BatchResult[K, T]:
    """Items in the order of ``keys`` (duplicates repeated); missing keys fail unless allowed."""
    missing = [key for key in keys if key not in found]
    if missing and not allow_missing:
        raise NotFound(f"{label(missing[0])} not found", metadata={"missing": label(missing[0])})
    return BatchResult([found[key] for key in keys if key in found], missing)


def act_as(code: str) -> Principal:
    """Staff only; an operator's own token may only act as that operator."""
    principal = require_staff()
    if principal.kind == "operator" and principal.subject != code:
        raise PermissionDenied("an operator may only record their own work")
    return principal
