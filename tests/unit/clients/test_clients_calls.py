"""What a call sends and returns: the request as given, the acting partner per call, the response as the
service sent it, and the call observer (method, code, seconds) once per call after its retries."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest

from clients import (
    ClientConfig,
    InventoryClient,
    MesClients,
    NotFoundError,
    OrdersClient,
    ProductionClient,
    RetryPolicy,
)
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2
from tests.unit.clients.clients_fakes import FakeChannel, rich_error

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.002)
TOKEN = ("authorization", "Bearer svc")


def _orders(channel: FakeChannel, **config: object) -> OrdersClient:
    return OrdersClient(ClientConfig(token="svc", retry=FAST, **config), channel=channel)  # type: ignore[arg-type]


async def test_a_request_message_is_sent_as_given_and_the_response_returned_as_received() -> None:
    reply = orders_pb2.ListOrdersResponse(orders=[orders_pb2.Order(order_id="o-1")], next_page_token="t")
    channel = FakeChannel({"ListOrders": lambda request: reply, "BatchGetOrders": lambda request: reply})
    client = _orders(channel)
    request = orders_pb2.ListOrdersRequest(parent="partners/acme", page_size=5, late_only=True)
    assert await client.list_orders(request) is reply
    assert channel.calls[0].request is request
    batch = orders_pb2.BatchGetOrdersRequest(names=["orders/o-1"], allow_missing=True)
    await client.batch_get_orders(batch)
    assert channel.calls[1].request is batch


async def test_keyword_fields_and_a_positional_name_build_the_request() -> None:
    channel = FakeChannel(
        {
            "GetOrder": [orders_pb2.GetOrderResponse(order=orders_pb2.Order(order_id="o-1"))] * 2,
            "BatchGetOrders": [orders_pb2.BatchGetOrdersResponse()],
            "SubmitOrder": [orders_pb2.SubmitOrderResponse()],
        }
    )
    client = _orders(channel)
    assert (await client.get_order("orders/o-1")).order_id == "o-1"
    await client.get_order(orders_pb2.GetOrderRequest(name="orders/o-2"))
    await client.batch_get_orders(["orders/a", "orders/b"], allow_missing=True)
    due = datetime(2031, 6, 1, 12, tzinfo=UTC)
    await client.submit_order(partner_reference="PO-1", due_time=due)
    sent = [call.request for call in channel.calls]
    assert [sent[0].name, sent[1].name] == ["orders/o-1", "orders/o-2"]
    assert list(sent[2].names) == ["orders/a", "orders/b"] and sent[2].allow_missing
    assert sent[3].due_time.ToDatetime(tzinfo=UTC) == due and sent[3].request_id


async def test_a_message_of_another_type_or_a_message_with_fields_is_refused() -> None:
    client = _orders(FakeChannel())
    with pytest.raises(TypeError):
        await client.get_order(orders_pb2.GetPartnerRequest(name="partners/x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await client.cancel_order(orders_pb2.CancelOrderRequest(name="orders/1"), reason="late")
    assert client.channel.calls == []  # type: ignore[attr-defined]


async def test_partner_is_sent_per_call_and_replaces_the_configured_one() -> None:
    reply = orders_pb2.CountOrdersResponse()
    channel = FakeChannel({"CountOrders": lambda request: reply})
    client = _orders(channel, partner="configured")
    await client.count_orders()
    await client.count_orders(partner="acme")
    await client.count_orders(orders_pb2.CountOrdersRequest(), partner="globex")
    assert [tuple(call.metadata) for call in channel.calls] == [
        (TOKEN, ("x-mes-partner", "configured")),
        (TOKEN, ("x-mes-partner", "acme")),
        (TOKEN, ("x-mes-partner", "globex")),
    ]


async def test_every_kind_of_method_takes_partner() -> None:
    channel = FakeChannel(
        {
            "GetPartner": [orders_pb2.GetPartnerResponse()],
            "ListPartners": [orders_pb2.ListPartnersResponse()] * 2,
            "BatchGetAlloys": [inventory_pb2.BatchGetAlloysResponse()],
            "ListWorkCenterStats": [production_pb2.ListWorkCenterStatsResponse()],
        }
    )
    config = ClientConfig(token="svc", retry=FAST)
    orders = OrdersClient(config, channel=channel)  # type: ignore[arg-type]
    await orders.get_partner("partners/p", partner="p1")
    await orders.list_partners(page_size=5, partner="p2")
    assert [p.name async for p in orders.iter_partners(partner="p3")] == []
    await InventoryClient(config, channel=channel).batch_get_alloys(["alloys/A"], partner="p4")  # type: ignore[arg-type]
    await ProductionClient(config, channel=channel).list_work_center_stats(partner="p5")  # type: ignore[arg-type]
    partners = [dict(call.metadata).get("x-mes-partner") for call in channel.calls]
    assert partners == ["p1", "p2", "p3", "p4", "p5"]


async def test_lists_the_facade_reads_come_back_as_response_messages() -> None:
    stats = production_pb2.ListWorkCenterStatsResponse(stats=[production_pb2.WorkCenterStats(work_center="w")])
    loss = production_pb2.SummarizeMetalLossResponse(summaries=[production_pb2.LossSummary(key="CASTING")])
    balances = inventory_pb2.BatchGetBalancesResponse(balances=[inventory_pb2.Balance(material_code="AU")])
    channel = FakeChannel(
        {
            "ListWorkCenterStats": lambda r: stats,
            "SummarizeMetalLoss": lambda r: loss,
            "BatchGetBalances": lambda r: balances,
        }
    )
    config = ClientConfig(retry=FAST)
    production = ProductionClient(config, channel=channel)  # type: ignore[arg-type]
    assert await production.list_work_center_stats(work_centers=["workCenters/w"]) is stats
    assert await production.summarize_metal_loss() is loss
    assert channel.calls[-1].request.grouping == production_pb2.LOSS_GROUPING_OPERATION_CODE
    inventory = InventoryClient(config, channel=channel)  # type: ignore[arg-type]
    assert await inventory.batch_get_balances(["balances/AU"]) is balances


async def test_the_observer_sees_each_call_once_after_its_retries() -> None:
    unavailable = rich_error(grpc.StatusCode.UNAVAILABLE, "down", reason="UNAVAILABLE")
    missing = rich_error(grpc.StatusCode.NOT_FOUND, "no such order", reason="NOT_FOUND")
    channel = FakeChannel({"GetOrder": [unavailable, orders_pb2.GetOrderResponse(), missing]})
    seen: list[tuple[str, str, float]] = []
    client = OrdersClient(
        ClientConfig(retry=FAST),
        channel=channel,  # type: ignore[arg-type]
        observe=lambda method, code, seconds: seen.append((method, code, seconds)),
    )
    await client.get_order("orders/1")
    with pytest.raises(NotFoundError):
        await client.get_order("orders/2")
    assert [(method, code) for method, code, _ in seen] == [("GetOrder", "OK"), ("GetOrder", "NOT_FOUND")]
    assert all(seconds >= 0 for _, _, seconds in seen) and len(channel.calls) == 3


async def test_mes_clients_share_options_and_keep_given_channels_open() -> None:
    channel = FakeChannel(
        {"GetAlloy": [inventory_pb2.GetAlloyResponse()], "GetStyle": [production_pb2.GetStyleResponse()]}
    )
    seen: list[str] = []
    mes = MesClients(
        ClientConfig(token="svc", retry=FAST),
        channels={"orders": channel, "inventory": channel, "production": channel},  # type: ignore[dict-item]
        extra_metadata=lambda: (("traceparent", "00-t"),),
        observe=lambda method, code, seconds: seen.append(method),
    )
    await mes.inventory.get_alloy("alloys/A")  # ready at once: the channels are the caller's
    async with mes:
        await mes.production.get_style("styles/S")
    assert not channel.closed and seen == ["GetAlloy", "GetStyle"]
    assert all(tuple(call.metadata) == (TOKEN, ("traceparent", "00-t")) for call in channel.calls)
    with pytest.raises(RuntimeError, match="not open"):
        _ = mes.orders
    await mes.open()
    assert mes.orders.channel is channel
