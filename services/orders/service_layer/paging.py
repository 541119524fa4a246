"""Keyset pages with opaque tokens bound to the caller's tenant and the request's filter."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mes_kernel.errors import InvalidArgument
from mes_kernel.paging import PageTokens

__all__ = ["Page", "PageRequest", "Pager"]

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True)
class PageRequest:
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str = ""


@dataclass(frozen=True)
class Pager:
    """Decodes the start key of a page and builds the next token (``limit`` = size + 1 rows)."""

    tokens: PageTokens
    scope: str | None
    filters: Mapping[str, Any] = field(default_factory=dict)

    def start(self, token: str, parse: Callable[[list[Any]], K]) -> K | None:
        key = self.tokens.decode(token, scope=self.scope, filters=self.filters)
        if key is None:
            return None
        try:
            return parse(key)
        except (ValueError, TypeError, IndexError):
            raise InvalidArgument("page_token is invalid", reason="INVALID_PAGE_TOKEN") from None

    def page(self, rows: list[T], size: int, key: Callable[[T], Sequence[Any]]) -> Page[T]:
        if len(rows) <= size:
            return Page(rows)
        rows = rows[:size]
        return Page(rows, self.tokens.encode(key(rows[-1]), scope=self.scope, filters=self.filters))
