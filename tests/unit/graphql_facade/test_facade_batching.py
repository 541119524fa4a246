"""DataLoaders: a dashboard page costs the same backend calls for 10 and for 100 orders."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.unit.graphql_facade.conftest import FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

DASHBOARD = """query Dashboard($first: Int!) {
  orders(first: $first) {
    edges { node {
      id status
      lines { style { displayName } alloy { code } }
      workOrders { id style { sku } operations { id status workCenter { code } } }
      reservations { id state }
    } }
    pageInfo { hasNextPage }
  }
  orderCounts { total }
}"""


async def dashboard_calls(orders: int) -> Counter[str]:
    backend = FakeBackend()
    backend.add_catalogue()
    for i in range(orders):
        backend.add_order("partner-a" if i % 2 else "partner-b")
    async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
        response = await client.gql(DASHBOARD, {"first": orders})
        body = response.json()
        assert "errors" not in body, body
        edges = body["data"]["orders"]["edges"]
        assert len(edges) == orders
        assert all(len(e["node"]["workOrders"][0]["operations"]) == 5 for e in edges)
        assert all(e["node"]["lines"][0]["style"]["displayName"] == "Solitaire ring" for e in edges)
    return backend.calls


@pytest.mark.parametrize("size", [10, 100])
async def test_dashboard_calls_are_one_per_rpc(size: int) -> None:
    calls = await dashboard_calls(size)
    assert calls == Counter(
        {
            "ListOrders": 1,
            "CountOrders": 1,
            "ListWorkOrders": 1,
            "ListOperations": 1,
            "ListReservations": 1,
            "BatchGetStyles": 1,
            "BatchGetAlloys": 1,
            "ListWorkCenters": 1,
        }
    )


async def test_dashboard_calls_do_not_grow_with_the_page() -> None:
    assert await dashboard_calls(10) == await dashboard_calls(100)


async def test_reference_data_is_cached_across_requests(client: FacadeClient, backend: FakeBackend) -> None:
    for _ in range(3):
        backend.add_order("partner-a")
    query = (
        "query($f: OrderFilter) { orders(first: 10, filter: $f) { nodes { lines { style { sku } alloy { code } } } } }"
    )
    await client.gql(query)
    await client.gql(query, {"f": {"lateOnly": False}})  # another key: no response-cache hit
    assert backend.calls["ListOrders"] == 2
    assert backend.calls["BatchGetStyles"] == 1 and backend.calls["BatchGetAlloys"] == 1


async def test_loaders_live_for_one_request(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a")
    query = "query($id: ID!) { a: order(id: $id) { id } b: order(id: $id) { id } }"
    await client.gql(query, {"id": order.order_id})
    assert backend.calls["BatchGetOrders"] == 1  # deduplicated within the request
    await client.gql(query + " ", {"id": order.order_id})
    assert backend.calls["BatchGetOrders"] == 2  # a new request, new loaders
