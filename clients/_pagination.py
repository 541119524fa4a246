"""Iterate over every item of a paginated List call by following ``next_page_token``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

__all__ = ["Page", "paginate"]

T = TypeVar("T")
P = TypeVar("P", bound="Page")


class Page(Protocol):
    """A List response: some items and the token of the next page (empty on the last page)."""

    @property
    def next_page_token(self) -> str: ...


async def paginate(
    fetch: Callable[[str], Awaitable[P]],
    items: Callable[[P], Iterable[T]],
    *,
    limit: int | None = None,
) -> AsyncIterator[T]:
    """Yield the items of every page (at most ``limit`` items); ``fetch(token)`` returns one page.

    A server answering the same non-empty token twice would loop forever; that raises RuntimeError.
    """
    if limit is not None and limit <= 0:
        return
    token = ""
    seen: set[str] = set()
    count = 0
    while True:
        page = await fetch(token)
        for item in items(page):
            yield item
            count += 1
            if limit is not None and count >= limit:
                return
        token = page.next_page_token
        if not token:
            return
        if token in seen:
            raise RuntimeError("the server returned a page token twice; stopping to avoid an endless loop")
        seen.add(token)
