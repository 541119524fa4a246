"""Page iteration follows next_page_token, keeps the filter, honours limits and stops on loops."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from clients import ClientConfig, InventoryClient, OrdersClient
from clients._pagination import paginate
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from tests.unit.clients.clients_fakes import FakeChannel


@dataclass
class _Page:
    items: list[int]
    next_page_token: str = ""


@dataclass
class _Pages:
    pages: dict[str, _Page]
    asked: list[str] = field(default_factory=list)

    async def __call__(self, token: str) -> _Page:
        self.asked.append(token)
        return self.pages[token]


async def test_paginate_yields_every_page_in_order() -> None:
    fetch = _Pages({"": _Page([1, 2], "t1"), "t1": _Page([3], "t2"), "t2": _Page([4, 5])})
    assert [x async for x in paginate(fetch, lambda p: p.items)] == [1, 2, 3, 4, 5]
    assert fetch.asked == ["", "t1", "t2"]


async def test_paginate_limit_stops_early_without_fetching_more() -> None:
    fetch = _Pages({"": _Page([1, 2], "t1"), "t1": _Page([3, 4], "t2")})
    assert [x async for x in paginate(fetch, lambda p: p.items, limit=3)] == [1, 2, 3]
    assert fetch.asked == ["", "t1"]
    assert [x async for x in paginate(fetch, lambda p: p.items, limit=0)] == []


async def test_paginate_handles_empty_pages_and_detects_token_loops() -> None:
    fetch = _Pages({"": _Page([], "t1"), "t1": _Page([], "")})
    assert [x async for x in paginate(fetch, lambda p: p.items)] == []
    looping = _Pages({"": _Page([1], "t1"), "t1": _Page([2], "t1")})
    with pytest.raises(RuntimeError, match="page token twice"):
        _ = [x async for x in paginate(looping, lambda p: p.items)]


async def test_iter_orders_sends_the_same_filter_with_each_token() -> None:
    pages = {
        "": orders_pb2.ListOrdersResponse(orders=[orders_pb2.Order(order_id="1")], next_page_token="p2"),
        "p2": orders_pb2.ListOrdersResponse(orders=[orders_pb2.Order(order_id="2")]),
    }
    channel = FakeChannel({"ListOrders": lambda req: pages[req.page_token]})
    client = OrdersClient(ClientConfig(), channel=channel)  # type: ignore[arg-type]
    statuses = [orders_pb2.ORDER_STATUS_ON_HOLD]
    found = [o.order_id async for o in client.iter_orders(statuses=statuses, late_only=True, page_size=1)]
    assert found == ["1", "2"]
    requests = [call.request for call in channel.calls]
    assert [r.page_token for r in requests] == ["", "p2"]
    assert all(list(r.statuses) == statuses and r.late_only and r.page_size == 1 for r in requests)


async def test_iter_lots_with_limit() -> None:
    lots = [inventory_pb2.MaterialLot(lot_id=str(i)) for i in range(5)]
    channel = FakeChannel(
        {"ListLots": lambda req: inventory_pb2.ListLotsResponse(lots=lots[:2], next_page_token="more")}
    )
    client = InventoryClient(ClientConfig(), channel=channel)  # type: ignore[arg-type]
    found = [lot.lot_id async for lot in client.iter_lots(material_code="AU750Y", limit=2)]
    assert found == ["0", "1"] and len(channel.calls) == 1
    assert channel.calls[0].request.material_code == "AU750Y"
