"""The root fields of both schemas on the compiled path (the same calls as the Strawberry resolvers)."""

from __future__ import annotations

import functools
from typing import Any

from graphql_facade.compiled.fields import Args, Getter, Spec, TypeSpecs, one
from graphql_facade.compiled.floor import FLOOR_ROOT
from graphql_facade.compiled.pages import PageSource
from graphql_facade.context import RequestContext
from graphql_facade.schema.catalogue import alloys_fetch, styles_fetch
from graphql_facade.schema.connections import list_fetch
from graphql_facade.schema.info import check_id
from graphql_facade.schema.operator import (
    balances_of,
    board_request,
    counts_request,
    metal_loss_request,
    offset_fetch,
)
from graphql_facade.schema.partner import own_orders_request, partner_as_of, partner_of
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv

__all__ = ["OPERATOR_ROOT", "PARTNER_ROOT"]


async def _as_of(context: RequestContext, args: Args) -> Any:
    return context.as_of or context.hub.as_of(), context.started_at


async def _partner_as_of(context: RequestContext, args: Args) -> Any:
    return partner_as_of(context)


async def _board(context: RequestContext, args: Args) -> PageSource:
    flt = args.get("filter") or {}
    request = board_request(flt.get("statuses"), flt.get("partnerId"), bool(flt.get("lateOnly", False)))
    fetch = list_fetch(context.backend.orders.list_orders, request, lambda page: page.orders)
    return await PageSource.fetch(fetch, args["first"], args.get("after"))


async def _counts(context: RequestContext, args: Args) -> Any:
    return await context.backend.orders.count_orders(counts_request(args.get("partnerId")))


async def _order(context: RequestContext, args: Args) -> Any:
    return await context.loaders.order.load(check_id(str(args["id"])))


async def _work_centers(context: RequestContext, args: Args) -> PageSource:
    centers = await context.loaders.work_centers.all()
    return await PageSource.fetch(offset_fetch(centers), args["first"], args.get("after"))


async def _work_center(context: RequestContext, args: Args) -> Any:
    return await context.loaders.work_center.load(str(args["id"]))


async def _balances(context: RequestContext, args: Args) -> PageSource:
    codes = args.get("codes")
    if codes:
        balances = await balances_of(context.backend, codes, args["first"])
        return PageSource.fixed(balances, lambda balance: f"code:{balance.material_code}")
    request = inv.ListBalancesRequest(kind=common_pb2.MATERIAL_KIND_METAL)
    fetch = list_fetch(context.backend.inventory.list_balances, request, lambda page: page.balances)
    return await PageSource.fetch(fetch, args["first"], args.get("after"))


async def _shortages(context: RequestContext, args: Args) -> PageSource:
    fetch = list_fetch(context.backend.inventory.list_shortages, inv.ListShortagesRequest(), lambda p: p.shortages)
    return await PageSource.fetch(fetch, args["first"], args.get("after"))


async def _metal_loss(context: RequestContext, args: Args) -> Any:
    request = metal_loss_request(args["by"], args.get("since"))
    return list((await context.backend.production.summarize_metal_loss(request)).summaries)


async def _styles(context: RequestContext, args: Args) -> PageSource:
    return await PageSource.fetch(styles_fetch(context), args["first"], args.get("after"))


async def _alloys(context: RequestContext, args: Args) -> PageSource:
    return await PageSource.fetch(alloys_fetch(context), args["first"], args.get("after"))


async def _own_orders(context: RequestContext, args: Args) -> PageSource:
    partner = partner_of(context)
    flt = args.get("filter") or {}
    request = own_orders_request(partner, flt.get("statuses"), bool(flt.get("lateOnly", False)))
    call = functools.partial(context.backend.orders.list_orders, partner=partner)
    return await PageSource.fetch(list_fetch(call, request, lambda page: page.orders), args["first"], args.get("after"))


def _seq(stream: str) -> Getter:
    return Getter(lambda source: source[0].get(stream, 0))


_AS_OF: dict[str, Spec] = {
    "seq": _seq("ORDERS"),
    "inventorySeq": _seq("INVENTORY"),
    "productionSeq": _seq("PRODUCTION"),
    "at": Getter(lambda source: source[1].isoformat()),
}
_CATALOGUE: dict[str, Spec] = {"styles": one(_styles), "alloys": one(_alloys), "order": one(_order)}

OPERATOR_ROOT: TypeSpecs = {
    "Query": {
        **_CATALOGUE,
        "asOf": one(_as_of),
        "orders": one(_board),
        "orderCounts": one(_counts),
        "workCenters": one(_work_centers),
        "workCenter": one(_work_center),
        "alloyBalances": one(_balances),
        "shortages": one(_shortages),
        "metalLoss": one(_metal_loss),
        **FLOOR_ROOT,
    },
    "AsOf": _AS_OF,
}
PARTNER_ROOT: TypeSpecs = {
    "Query": {**_CATALOGUE, "asOf": one(_partner_as_of), "orders": one(_own_orders)},
    "AsOf": {"position": Getter(lambda source: source[0]), "at": Getter(lambda source: source[1].isoformat())},
}
