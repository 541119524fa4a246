"""Catalogue lists (styles, alloys) shared by both audiences; pages are reference data (cached)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from graphql_facade.pagination import fetch_page
from graphql_facade.schema.common import Alloy, Connection, Style, connection
from graphql_facade.schema.info import Info
from mes.inventory.v1 import inventory_pb2 as inv
from mes.production.v1 import production_pb2 as prod

__all__ = ["alloys_page", "styles_page"]

R = TypeVar("R", bound=Message)


async def _cached_page(
    info: Info, kind: str, token: str, size: int, cls: type[R], load: Callable[[], Awaitable[R]]
) -> R:
    reference = info.context.reference
    key = f"{size}:{token}"
    if reference is not None:
        cached = await reference.get(kind, key, cls)
        if cached is not None:
            return cached
    page = await load()
    if reference is not None:
        await reference.put(kind, key, page)
    return page


async def styles_page(info: Info, first: int, after: str | None) -> Connection[Style]:
    backend = info.context.backend

    async def fetch(token: str, size: int) -> tuple[list[prod.Style], str]:
        page = await _cached_page(
            info,
            "stylePage",
            token,
            size,
            prod.ListStylesResponse,
            lambda: backend.production.list_styles(prod.ListStylesRequest(page_size=size, page_token=token)),
        )
        return list(page.styles), page.next_page_token

    return connection(await fetch_page(fetch, first, after), Style.from_pb)


async def alloys_page(info: Info, first: int, after: str | None) -> Connection[Alloy]:
    backend = info.context.backend

    async def fetch(token: str, size: int) -> tuple[list[inv.Alloy], str]:
        page = await _cached_page(
            info,
            "alloyPage",
            token,
            size,
            inv.ListAlloysResponse,
            lambda: backend.inventory.list_alloys(inv.ListAlloysRequest(page_size=size, page_token=token)),
        )
        return list(page.alloys), page.next_page_token

    return connection(await fetch_page(fetch, first, after), Alloy.from_pb)
