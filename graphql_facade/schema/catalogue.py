"""Catalogue lists (styles, alloys) shared by both audiences; pages are reference data (cached)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from graphql_facade.schema.common import Alloy, Style
from graphql_facade.schema.connections import Connection, list_connection
from graphql_facade.schema.info import Info
from mes.inventory.v1 import inventory_pb2 as inv
from mes.production.v1 import production_pb2 as prod

__all__ = ["alloys_page", "styles_page"]

R = TypeVar("R", bound=Message)


def _cached(info: Info, kind: str, cls: type[R], call: Callable[[Any], Awaitable[R]]) -> Callable[[Any], Awaitable[R]]:
    """``call`` behind the reference cache, keyed by page size and token."""
    reference = info.context.reference
    if reference is None:
        return call

    async def cached(request: Any) -> R:
        key = f"{request.page_size}:{request.page_token}"
        page = await reference.get(kind, key, cls)
        if page is None:
            page = await call(request)
            await reference.put(kind, key, page)
        return page

    return cached


async def styles_page(info: Info, first: int, after: str | None) -> Connection[Style]:
    call = _cached(info, "stylePage", prod.ListStylesResponse, info.context.backend.production.list_styles)
    return await list_connection(call, prod.ListStylesRequest(), lambda page: page.styles, Style.from_pb, first, after)


async def alloys_page(info: Info, first: int, after: str | None) -> Connection[Alloy]:
    call = _cached(info, "alloyPage", inv.ListAlloysResponse, info.context.backend.inventory.list_alloys)
    return await list_connection(call, inv.ListAlloysRequest(), lambda page: page.alloys, Alloy.from_pb, first, after)
