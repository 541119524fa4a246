"""Relay connections on the compiled path: a page of the service's messages and its cursors.

Every ``<Node>Connection`` / ``<Node>Edge`` type reads the same :class:`PageSource`; the cursors
and page information are the ones :func:`graphql_facade.schema.connections.connection` (or
``fixed_connection``) gives the generic path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

from graphql_facade.compiled.fields import Getter, Spec
from graphql_facade.pagination import Fetch, fetch_page

__all__ = ["CONNECTION", "EDGE", "PAGE_INFO", "PageSource"]


@dataclass(frozen=True, slots=True)
class PageSource:
    items: Sequence[Any]
    cursors: Sequence[str]
    has_next: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    async def fetch(cls, fetch: Fetch[Any], first: int, after: str | None) -> PageSource:
        """Up to ``first`` items after ``after`` (:func:`graphql_facade.pagination.fetch_page`)."""
        page = await fetch_page(fetch, first, after)
        cursors = page.cursors
        return cls(page.items, cursors, page.has_next, cursors[0] if cursors else None, page.end_cursor)

    @classmethod
    def fixed(cls, items: Sequence[Any], cursor: Callable[[Any], str]) -> PageSource:
        """Every item at once, no further page (``fixed_connection``)."""
        return cls(items, [cursor(item) for item in items], False, None, None)

    def edges(self) -> list[tuple[str, Any]]:
        return list(zip(self.cursors, self.items, strict=True))


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
