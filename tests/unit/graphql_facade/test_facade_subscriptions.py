"""Subscriptions over graphql-transport-ws (driven through ASGI): auth in connection_init, tenant
filtering, sequences on events and snapshots, limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from graphql_facade.events import EventEnvelope
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED
from tests.unit.graphql_facade.conftest import PARTNER_A_KEY, FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket, websocket

STATUS = """subscription($ids: [ID!], $since: Long) { orderStatusChanged(orderIds: $ids, since: $since) {
  __typename ... on OrderStatusChanged { seq orderId toStatus } ... on ResyncRequired { seq reason } } }"""


def status_changed(seq: int, order_id: str, partner: str, to: int = orders_pb2.ORDER_STATUS_ACCEPTED) -> EventEnvelope:
    msg = orders_events_pb2.OrderStatusChangedEvent(order_id=order_id, partner_id=partner, from_status=1, to_status=to)
    return EventEnvelope("ORDERS", seq, ORDER_STATUS_CHANGED.subject, msg.SerializeToString(), datetime.now(UTC))


async def next_data(ws: AsgiWebSocket, op_id: str) -> dict[str, object]:
    message = await ws.receive()
    assert message["type"] == "next" and message["id"] == op_id, message
    data: dict[str, object] = message["payload"]["data"]
    return data


async def test_bad_credentials_close_the_connection(client: FacadeClient) -> None:
    async with websocket(client.app) as ws:
        await ws.send({"type": "connection_init", "payload": {"apiKey": "wrong"}})
        with pytest.raises(ConnectionError):
            await ws.receive()
        assert ws.close_code == 4403


async def test_subscribing_before_init_is_refused(client: FacadeClient) -> None:
    async with websocket(client.app) as ws:
        await ws.subscribe("1", STATUS)
        with pytest.raises(ConnectionError):
            await ws.receive()
        assert ws.close_code == 4401


async def test_partners_only_see_their_own_orders(client: FacadeClient) -> None:
    hub = client.facade.hub
    hub.start_at({"ORDERS": 100})
    async with websocket(client.app) as ws:
        ack = await ws.init({"apiKey": PARTNER_A_KEY})
        assert ack == {"type": "connection_ack", "payload": {"audience": "partner"}}
        await ws.subscribe("s1", STATUS)
        await asyncio.sleep(0.05)
        hub.publish(status_changed(101, "o-b", "partner-b"))
        hub.publish(status_changed(102, "o-a", "partner-a"))
        data = await next_data(ws, "s1")
        assert data == {
            "orderStatusChanged": {
                "__typename": "OrderStatusChanged",
                "seq": 102,
                "orderId": "o-a",
                "toStatus": "ACCEPTED",
            }
        }
        with pytest.raises(TimeoutError):
            await ws.receive(timeout=0.2)


async def test_operators_see_everything_and_can_filter(client: FacadeClient) -> None:
    hub = client.facade.hub
    hub.start_at({"ORDERS": 0})
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("all", STATUS)
        await ws.subscribe("one", STATUS, {"ids": ["o-2"]})
        await asyncio.sleep(0.05)
        hub.publish(status_changed(1, "o-1", "partner-a"))
        hub.publish(status_changed(2, "o-2", "partner-b"))
        got: dict[str, list[int]] = {"all": [], "one": []}
        for _ in range(3):
            message = await ws.receive()
            got[message["id"]].append(message["payload"]["data"]["orderStatusChanged"]["seq"])
        assert got == {"all": [1, 2], "one": [2]}


async def test_resume_with_since(client: FacadeClient) -> None:
    hub = client.facade.hub
    hub.start_at({"ORDERS": 0})
    for seq in (1, 2, 3):
        hub.publish(status_changed(seq, f"o-{seq}", "partner-a"))
    async with websocket(client.app) as ws:
        await ws.init({"apiKey": PARTNER_A_KEY})
        await ws.subscribe("s", STATUS, {"since": 1})
        seqs = [(await next_data(ws, "s"))["orderStatusChanged"]["seq"] for _ in range(2)]  # type: ignore[index]
        assert seqs == [2, 3]


async def test_dashboard_counters_snapshot_then_updates(client: FacadeClient, backend: FakeBackend) -> None:
    hub = client.facade.hub
    hub.start_at({"ORDERS": 40})
    order = backend.add_order("partner-a", status=orders_pb2.ORDER_STATUS_SUBMITTED)
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("c", "subscription { dashboardCounters { seq counts { total byStatus { status count } } } }")
        snapshot = (await next_data(ws, "c"))["dashboardCounters"]
        assert snapshot == {"seq": 40, "counts": {"total": 1, "byStatus": [{"status": "SUBMITTED", "count": 1}]}}
        order.status = orders_pb2.ORDER_STATUS_ACCEPTED
        hub.publish(status_changed(41, order.order_id, "partner-a"))
        update = (await next_data(ws, "c"))["dashboardCounters"]
        assert update == {"seq": 41, "counts": {"total": 1, "byStatus": [{"status": "ACCEPTED", "count": 1}]}}


async def test_partners_cannot_use_operator_subscriptions_or_run_queries(client: FacadeClient) -> None:
    async with websocket(client.app) as ws:
        await ws.init({"apiKey": PARTNER_A_KEY})
        await ws.subscribe("c", "subscription { dashboardCounters { seq } }")
        refused = await ws.receive()
        assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        await ws.subscribe("q", "{ orders(first: 1) { nodes { id } } }")
        query = await ws.receive()
        assert query["type"] == "error" and query["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_subscription_limits(backend: FakeBackend) -> None:
    settings = facade_settings(
        MES_FACADE_MAX_SUBSCRIPTIONS_PER_PARTNER="2", MES_FACADE_LIMITS_STANDARD_MAX_SUBSCRIPTIONS="3"
    )
    async with running_app(backend, settings) as client, websocket(client.app) as one, websocket(client.app) as two:
        await one.init({"apiKey": PARTNER_A_KEY})
        await two.init({"apiKey": PARTNER_A_KEY})
        await one.subscribe("1", STATUS)
        await one.subscribe("2", STATUS)
        await asyncio.sleep(0.05)
        await two.subscribe("3", STATUS)  # a third for the same partner on this replica
        message = await two.receive()
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        for op in ("4", "5"):
            await one.subscribe(op, STATUS)
        per_connection = None
        for _ in range(3):
            message = await one.receive()
            if message["type"] == "error":
                per_connection = message
                break
        assert per_connection is not None
        assert per_connection["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
