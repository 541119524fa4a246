"""Catalogue lists (styles, alloys) shared by both audiences; pages are reference data (cached)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from graphql_facade.context import RequestContext
from graphql_facade.pagination import Fetch
from graphql_facade.schema.common import Alloy, Style
from graphql_facade.schema.connections import Connection, list_fetch, paged_connection
from graphql_facade.schema.info import Info
from mes.inventory.v1 import inventory_pb2 as inv
from mes.production.v1 import production_pb2 as prod

__all__ = ["alloys_fetch", "alloys_page", "styles_fetch", "styles_page"]

R = TypeVar("R", bound=Message)


def _cached(
    context: RequestContext, kind: str, cls: type[R], call: Callable[[Any], Awaitable[R]]
) -> Callable[[Any], Awaitable[R]]:
    """``call`` behind the reference cache, keyed by page size and token."""
    reference = context.reference
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


def styles_fetch(context: RequestContext) -> Fetch[prod.Style]:
    """Pages of the catalogue's styles (through the reference cache)."""
    call = _cached(context, "stylePage", prod.ListStylesResponse, context.backend.production.list_styles)
    return list_fetch(call, prod.ListStylesRequest(), lambda page: page.styles)


def alloys_fetch(context: RequestContext) -> Fetch[inv.Alloy]:
    """Pages of the catalogue's alloys (through the reference cache)."""
    call = _cached(context, "alloyPage", inv.ListAlloysResponse, context.backend.inventory.list_alloys)
    return list_fetch(call, inv.ListAlloysRequest(), lambda page: page.alloys)


async def styles_page(info: Info, first: int, after: str | None) -> Connection[Style]:
    return await paged_connection(styles_fetch(info.context), Style.from_pb, first, after)


async def alloys_page(info: Info, first: int, after: str | None) -> Connection[Alloy]:
    return await paged_connection(alloys_fetch(info.context), Alloy.from_pb, first, after)
