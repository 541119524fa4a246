"""The loaders read work orders with a read mask of what the schema can show (never the routing
snapshot), list the operations of their work orders in pages of up to 1000, and answer the same
as reading every field: the mask leaves out nothing a client can ask for."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_facade import loaders
from mes.production.v1 import production_pb2 as prod
from tests.unit.graphql_facade.conftest import FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

_FIELDS = """query { __type(name: "WorkOrder") { fields { name type { kind ofType { kind ofType { kind } } } } } }"""
_ORDER = """query Order($id: ID!) { order(id: $id) { workOrders { %s operations { id sequence status } } } }"""
_BOARD = """query Board($first: Int!) { orders(first: $first) { nodes { workOrders { %s operations { id } } } } }"""


def _leaf(kind: dict[str, Any]) -> bool:
    while kind.get("kind") in ("NON_NULL", "LIST"):
        kind = kind["ofType"]
    return kind.get("kind") in ("SCALAR", "ENUM")


async def _every_field(client: FacadeClient) -> str:
    """Every scalar and enum field of the schema's WorkOrder."""
    body = (await client.gql(_FIELDS)).json()
    return " ".join(f["name"] for f in body["data"]["__type"]["fields"] if _leaf(f["type"]))


def _nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [data["order"]] if "order" in data else data["orders"]["nodes"]


def _backend(orders: int, lines: int = 2) -> tuple[FakeBackend, list[str]]:
    backend = FakeBackend()
    backend.add_catalogue()
    ids = [backend.add_order("partner-a", lines=lines).order_id for _ in range(orders)]
    for n, wo in enumerate(backend.work_orders.values(), start=1):  # no field left at its default
        wo.MergeFrom(
            prod.WorkOrder(
                size="52",
                engraving=f"E{n}",
                routing_version=n,
                issued_mg=1000 + n,
                finished_mg=900 + n,
                loss_mg=10 + n,
                scrap_returned_mg=n,
                priority=3,  # type: ignore[arg-type]
                version=n,
            )
        )
        wo.create_time.FromSeconds(1_800_000_000 + n)
        wo.update_time.FromSeconds(1_800_000_100 + n)
    return backend, ids


async def test_work_orders_are_read_without_routing_snapshots() -> None:
    backend, ids = _backend(3)
    async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
        body = (await client.gql(_ORDER % (await _every_field(client)), {"id": ids[0]})).json()
    assert "errors" not in body, body
    sent = [request for method, request in backend.requests if method == "ListWorkOrders"]
    assert [list(request.read_mask.paths) for request in sent] == [list(loaders.WORK_ORDER_MASK.paths)]
    assert "routing_snapshot" not in sent[0].read_mask.paths
    assert sent[0].page_size == 1000
    assert set(sent[0].read_mask.paths) == {f.name for f in prod.WorkOrder.DESCRIPTOR.fields} - {"routing_snapshot"}
    operations = [request for method, request in backend.requests if method == "ListOperations"]
    assert [(len(r.work_order_ids), r.page_size) for r in operations] == [(2, 1000)]
    assert backend.calls.get("BatchGetOperations", 0) == 0


@pytest.mark.parametrize("query", [_ORDER, _BOARD])
async def test_the_masked_answer_is_the_full_answer(query: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Differential: the same document answered with the mask and with every field read."""
    answers = []
    for mask in (loaders.WORK_ORDER_MASK, None):
        if mask is None:
            monkeypatch.setattr(loaders, "WORK_ORDER_MASK", prod.ListWorkOrdersRequest().read_mask)
        backend, ids = _backend(4)
        async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
            variables = {"id": ids[1]} if query is _ORDER else {"first": 4}
            body = (await client.gql(query % (await _every_field(client)), variables)).json()
        assert "errors" not in body, body
        answers.append(body["data"])
    masked, full = answers
    assert masked == full
    work_orders = [wo for node in _nodes(full) for wo in node["workOrders"]]
    assert work_orders and all(all(value not in (0, "", None) for value in wo.values()) for wo in work_orders)


async def test_more_than_a_thousand_work_orders_list_their_operations_in_chunks() -> None:
    backend, _ids = _backend(2, lines=1)
    found = await loaders.Loaders(backend, partner=None, reference=None).operations.load_many(
        [(f"wo-{i}", ()) for i in range(1500)]
    )
    assert len(found) == 1500
    sent = [request for method, request in backend.requests if method == "ListOperations"]
    assert [(len(request.work_order_ids), request.page_size) for request in sent] == [(1000, 1000), (500, 1000)]
