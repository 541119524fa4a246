"""Relay connections: one generic ``Connection[N]`` / ``Edge[N]`` (named ``<Node>Connection`` /
``<Node>Edge`` in the schema) and the builders every list field uses.

:func:`list_connection` pages a List RPC: the resolver gives the client's List method, the request
with its filters, where the items are in a response and how an item becomes a node; page size and
token are set per backend page (see :func:`graphql_facade.pagination.fetch_page` for the cursors).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

import strawberry
from google.protobuf.message import Message

from graphql_facade.pagination import Fetch, Page, fetch_page
from graphql_facade.schema.info import field

__all__ = [
    "Connection",
    "Edge",
    "PageInfo",
    "connection",
    "fixed_connection",
    "list_connection",
    "list_fetch",
    "paged_connection",
]

T = TypeVar("T")
N = TypeVar("N")
R = TypeVar("R", bound=Message)


class ListResponse(Protocol):
    @property
    def next_page_token(self) -> str: ...


P = TypeVar("P", bound=ListResponse)


@strawberry.type(description="Relay page information; pages are read forward with `first` and `after`.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type(description="A page of a list (Relay connection).")
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo

    @field(description="The nodes of the edges, for clients that need no cursors.")
    def nodes(self) -> list[N]:
        return [edge.node for edge in self.edges]


def connection(page: Page[T], convert: Callable[[T], N]) -> Connection[N]:
    """The connection of a page of items (with their cursors)."""
    edges = [Edge(cursor=c, node=convert(item)) for item, c in zip(page.items, page.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            end_cursor=page.end_cursor,
            start_cursor=page.start_cursor,
        ),
    )


async def paged_connection(fetch: Fetch[T], convert: Callable[[T], N], first: int, after: str | None) -> Connection[N]:
    """Up to ``first`` nodes after the ``after`` cursor; ``fetch(page_token, page_size)`` reads one page."""
    return connection(await fetch_page(fetch, first, after), convert)


def list_fetch(call: Callable[[R], Awaitable[P]], request: R, items: Callable[[P], Iterable[T]]) -> Fetch[T]:
    """Reads one page of a List RPC: ``call`` (a client's List method) with ``request``'s filters."""

    async def fetch(token: str, size: int) -> tuple[Sequence[T], str]:
        page = type(request)(page_size=size, page_token=token)
        page.MergeFrom(request)
        response = await call(page)
        return list(items(response)), response.next_page_token

    return fetch


async def list_connection(
    call: Callable[[R], Awaitable[P]],
    request: R,
    items: Callable[[P], Iterable[T]],
    convert: Callable[[T], N],
    first: int,
    after: str | None,
) -> Connection[N]:
    """A page of a List RPC: ``call`` (a client's List method) with ``request``'s filters, page by page."""
    return await paged_connection(list_fetch(call, request, items), convert, first, after)


def fixed_connection(nodes: Sequence[N], cursor: Callable[[N], str]) -> Connection[N]:
    """Every node at once (the caller picked them): no further page."""
    return Connection(
        edges=[Edge(cursor=cursor(node), node=node) for node in nodes],
        page_info=PageInfo(has_next_page=False, end_cursor=None),
    )
