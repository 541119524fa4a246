"""``extra_metadata``: pairs computed per call and sent after the credentials (e.g. traceparent)."""

from __future__ import annotations

import grpc

from clients import ClientConfig, InventoryClient, OrdersClient, ProductionClient, RetryPolicy
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2
from tests.unit.clients.clients_fakes import FakeChannel, rich_error

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.002)


async def test_extra_metadata_is_read_per_call_and_kept_across_retries() -> None:
    unavailable = rich_error(grpc.StatusCode.UNAVAILABLE, "down", reason="UNAVAILABLE")
    order = orders_pb2.Order(name="orders/1", order_id="1")
    channel = FakeChannel(
        {"GetOrder": [unavailable, orders_pb2.GetOrderResponse(order=order), orders_pb2.GetOrderResponse(order=order)]}
    )
    values = iter(["00-trace-a", "00-trace-b"])
    client = OrdersClient(
        ClientConfig(token="tok", retry=FAST),
        channel=channel,  # type: ignore[arg-type]
        extra_metadata=lambda: (("traceparent", next(values)),),
    )
    await client.get_order("orders/1")
    await client.get_order("orders/1")
    sent = [tuple(call.metadata) for call in channel.calls]
    first_call = (("authorization", "Bearer tok"), ("traceparent", "00-trace-a"))
    assert sent == [first_call, first_call, (("authorization", "Bearer tok"), ("traceparent", "00-trace-b"))]


async def test_without_extra_metadata_only_the_credentials_are_sent() -> None:
    channel = FakeChannel(
        {
            "GetAlloy": [inventory_pb2.GetAlloyResponse()],
            "GetStyle": [production_pb2.GetStyleResponse()],
        }
    )
    config = ClientConfig(token="tok", retry=FAST)
    await InventoryClient(config, channel=channel).get_alloy("alloys/AU750Y")  # type: ignore[arg-type]
    await ProductionClient(config, channel=channel, extra_metadata=lambda: ()).get_style("styles/S")  # type: ignore[arg-type]
    assert [tuple(call.metadata) for call in channel.calls] == [(("authorization", "Bearer tok"),)] * 2
