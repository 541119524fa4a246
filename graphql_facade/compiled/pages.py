"""Relay connections on the compiled path: a page of the service's messages and its cursors.

Every ``<Node>Connection`` / ``<Node>Edge`` type reads the same :class:`PageSource`; the cursors
and page information are the ones :func:`graphql_facade.schema.connections.connection` (or
``fixed_connection``) gives the generic path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter, itemgetter
from typing import Any

from graphql_facade.compiled.fields import Getter, Spec
from graphql_facade.pagination import Fetch, Page, fetch_page

__all__ = ["CONNECTION", "EDGE", "PAGE_INFO", "PageSource"]


class PageSource:
    """A page of items; cursors are encoded only when the document reads them."""

    __slots__ = ("_cursor", "_page", "has_next", "items")

    def __init__(
        self, page: Page[Any] | None, items: Sequence[Any], cursor: Callable[[Any], str] | None = None
    ) -> None:
        self._page = page
        self._cursor = cursor
        self.items = items
        self.has_next = page.has_next if page is not None else False

    @classmethod
    async def fetch(cls, fetch: Fetch[Any], first: int, after: str | None) -> PageSource:
        """Up to ``first`` items after ``after`` (:func:`graphql_facade.pagination.fetch_page`)."""
        page = await fetch_page(fetch, first, after)
        return cls(page, page.items)

    @classmethod
    def fixed(cls, items: Sequence[Any], cursor: Callable[[Any], str]) -> PageSource:
        """Every item at once, no further page (``fixed_connection``: no start or end cursor)."""
        return cls(None, items, cursor)

    def edges(self) -> list[tuple[str, Any]]:
        if self._page is not None:
            cursors: Sequence[str] = self._page.cursors
        else:
            assert self._cursor is not None
            cursors = [self._cursor(item) for item in self.items]
        return list(zip(cursors, self.items, strict=True))

    @property
    def start_cursor(self) -> str | None:
        return self._page.start_cursor if self._page is not None else None

    @property
    def end_cursor(self) -> str | None:
        return self._page.end_cursor if self._page is not None else None


CONNECTION: dict[str, Spec] = {
    "edges": Getter(PageSource.edges),
    "nodes": Getter(attrgetter("items")),
    "pageInfo": Getter(lambda page: page),
}
EDGE: dict[str, Spec] = {"cursor": Getter(itemgetter(0)), "node": Getter(itemgetter(1))}
PAGE_INFO: dict[str, Spec] = {
    "hasNextPage": Getter(attrgetter("has_next")),
    "endCursor": Getter(attrgetter("end_cursor")),
    "hasPreviousPage": Getter(lambda page: False),
    "startCursor": Getter(attrgetter("start_cursor")),
}
