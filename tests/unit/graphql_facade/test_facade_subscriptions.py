"""Subscriptions over graphql-transport-ws (driven through ASGI): auth in connection_init, tenant
filtering, sequences (operators) and sealed positions (partners) on events and snapshots, limits."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from graphql_facade.config import DEFAULT_POSITION_SECRET
from graphql_facade.events import EventEnvelope
from graphql_facade.positions_sealed import sealer_for
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED
from tests._infra.graphql import data as answer_data
from tests.unit.graphql_facade.conftest import (
    PARTNER_A,
    PARTNER_A_KEY,
    PARTNER_B,
    PARTNER_B_KEY,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket, websocket

#: Partners: positions, not sequences.
STATUS = """subscription($ids: [ID!], $since: String) { orderStatusChanged(orderIds: $ids, since: $since) {
  __typename ... on OrderStatusChanged { position orderId toStatus } ... on ResyncRequired { position reason } } }"""
OPERATOR_STATUS = """subscription($ids: [ID!], $since: Long) { orderStatusChanged(orderIds: $ids, since: $since) {
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
        position = sealer_for(client.facade.settings.position_secret).seal("partner-a", 102)
        assert data == {
            "orderStatusChanged": {
                "__typename": "OrderStatusChanged",
                "position": position,
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
        await ws.subscribe("all", OPERATOR_STATUS)
        await ws.subscribe("one", OPERATOR_STATUS, {"ids": ["o-2"]})
        await asyncio.sleep(0.05)
        hub.publish(status_changed(1, "o-1", "partner-a"))
        hub.publish(status_changed(2, "o-2", "partner-b"))
        got: dict[str, list[int]] = {"all": [], "one": []}
        for _ in range(3):
            message = await ws.receive()
            got[message["id"]].append(message["payload"]["data"]["orderStatusChanged"]["seq"])
        assert got == {"all": [1, 2], "one": [2]}


def published(client: FacadeClient, count: int) -> None:
    """The hub read from the start of the orders' stream, then ``count`` status changes of partner-a's
    orders ``o-1``, ``o-2``... published (at positions 1, 2...)."""
    hub = client.facade.hub
    hub.start_at({"ORDERS": 0})
    for seq in range(1, count + 1):
        hub.publish(status_changed(seq, f"o-{seq}", "partner-a"))


async def test_resume_with_since(client: FacadeClient) -> None:
    published(client, 3)
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("s", OPERATOR_STATUS, {"since": 1})
        seqs = [(await next_data(ws, "s"))["orderStatusChanged"]["seq"] for _ in range(2)]  # type: ignore[index]
        assert seqs == [2, 3]


async def as_of(client: FacadeClient, headers: dict[str, str]) -> str:
    position: str = answer_data(await client.gql("{ asOf { position at } }", headers=headers))["asOf"]["position"]
    return position


async def events(ws: AsgiWebSocket, op_id: str, count: int) -> list[dict[str, str]]:
    return [(await next_data(ws, op_id))["orderStatusChanged"] for _ in range(count)]  # type: ignore[misc]


async def test_partners_resume_with_their_positions(client: FacadeClient) -> None:
    published(client, 3)
    async with websocket(client.app) as ws:
        await ws.init({"apiKey": PARTNER_A_KEY})
        await ws.subscribe(
            "all", STATUS, {"since": sealer_for(client.facade.settings.position_secret).seal("partner-a", 0)}
        )
        first = await events(ws, "all", 3)
        assert [e["orderId"] for e in first] == ["o-1", "o-2", "o-3"]
        await ws.subscribe("after-1", STATUS, {"since": first[0]["position"]})
        assert [e["orderId"] for e in await events(ws, "after-1", 2)] == ["o-2", "o-3"]


async def test_positions_say_nothing_about_other_partners(client: FacadeClient) -> None:
    """The stream's sequence counts every partner's events: partners never see it. Their positions
    are opaque, differ per partner, and do not move with other partners' events."""
    hub = client.facade.hub
    hub.start_at({"ORDERS": 0})
    hub.publish(status_changed(1, "o-a1", "partner-a"))
    before = await as_of(client, PARTNER_A)
    for seq in range(2, 52):  # 50 events of another partner
        hub.publish(status_changed(seq, f"o-b{seq}", "partner-b"))
    after = await as_of(client, PARTNER_A)
    assert before == after  # B's 50 events left no trace in A's position
    b_now = await as_of(client, PARTNER_B)
    assert b_now != after
    async with websocket(client.app) as ws:
        await ws.init({"apiKey": PARTNER_A_KEY})
        await ws.subscribe("s", STATUS, {"since": after})
        await asyncio.sleep(0.05)
        hub.publish(status_changed(52, "o-b52", "partner-b"))
        hub.publish(status_changed(53, "o-a53", "partner-a"))
        event = (await next_data(ws, "s"))["orderStatusChanged"]
        assert event == {  # the stream's sequence (53) appears nowhere
            "__typename": "OrderStatusChanged",
            "position": sealer_for(client.facade.settings.position_secret).seal("partner-a", 53),
            "orderId": "o-a53",
            "toStatus": "ACCEPTED",
        }


@pytest.mark.parametrize(
    "since",
    [
        "12",  # a sequence is not a position
        "p1.AAAAAAAAAAAAAAAAAAAAAA",  # well formed, not sealed by this installation
        "p1.!!!!",
    ],
)
async def test_a_bad_position_is_an_invalid_argument_on_since(client: FacadeClient, since: str) -> None:
    async with websocket(client.app) as ws:
        await ws.init({"apiKey": PARTNER_A_KEY})
        await ws.subscribe("s", STATUS, {"since": since})
        message = await ws.receive()
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "INVALID_ARGUMENT"
        assert errors[0]["extensions"]["fieldViolations"][0]["field"] == "since"


async def test_another_partners_position_is_refused(client: FacadeClient) -> None:
    client.facade.hub.start_at({"ORDERS": 0})
    b_position = await as_of(client, PARTNER_B)
    async with websocket(client.app) as ws:
        await ws.init({"apiKey": PARTNER_A_KEY})
        await ws.subscribe("s", STATUS, {"since": b_position})
        message = await ws.receive()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "INVALID_ARGUMENT"
        assert "was not issued to you" in errors[0]["message"]


async def test_a_quiet_partner_resumes_however_many_events_others_had(backend: FakeBackend) -> None:
    """The replay buffer (3 here) drops other partners' events: a partner whose own events are all
    still known resumes without a resync; one whose events were dropped resyncs once, and the
    position of the resync resumes without another."""
    settings = facade_settings(MES_FACADE_EVENT_REPLAY_BUFFER="3")
    async with running_app(backend, settings) as client:
        hub = client.facade.hub
        hub.start_at({"ORDERS": 10})
        hub.publish(status_changed(11, "o-a11", "partner-a"))
        hub.publish(status_changed(12, "o-b12", "partner-b"))
        quiet = await as_of(client, PARTNER_A)
        for seq in range(13, 20):
            hub.publish(status_changed(seq, f"o-b{seq}", "partner-b"))
        async with websocket(client.app) as ws:
            await ws.init({"apiKey": PARTNER_A_KEY})
            await ws.subscribe("a", STATUS, {"since": quiet})
            await asyncio.sleep(0.05)
            hub.publish(status_changed(20, "o-a20", "partner-a"))
            assert (await next_data(ws, "a"))["orderStatusChanged"]["orderId"] == "o-a20"  # type: ignore[index]
        b_old = sealer_for(settings.position_secret).seal("partner-b", 12)
        async with websocket(client.app) as ws:
            await ws.init({"apiKey": PARTNER_B_KEY})
            await ws.subscribe("b", STATUS, {"since": b_old})
            resync = (await next_data(ws, "b"))["orderStatusChanged"]
            assert resync["__typename"] == "ResyncRequired" and resync["reason"] == "EVENTS_NOT_RETAINED"  # type: ignore[index]
            await ws.subscribe("b2", STATUS, {"since": resync["position"]})  # type: ignore[index]
            await asyncio.sleep(0.05)
            hub.publish(status_changed(21, "o-b21", "partner-b"))
            got = {}
            for _ in range(2):  # both subscriptions go on: the resync did not end the first
                message = await ws.receive()
                got[message["id"]] = message["payload"]["data"]["orderStatusChanged"]
            assert got["b2"]["orderId"] == got["b"]["orderId"] == "o-b21"
            assert got["b2"]["__typename"] == "OrderStatusChanged"  # no second resync


async def test_partner_as_of_answers_the_same_on_both_execution_paths(backend: FakeBackend) -> None:
    answers = []
    for compiled in ("1", "0"):
        async with running_app(backend, facade_settings(MES_FACADE_COMPILED=compiled)) as client:
            client.facade.hub.start_at({"ORDERS": 7})
            body = await client.gql("{ asOf { position at } orders(first: 1) { nodes { id } } }", headers=PARTNER_A)
            assert body.status_code == 200 and "errors" not in body.json(), body.text
            answers.append(body.json()["data"]["asOf"]["position"])
    assert answers[0] == answers[1] == sealer_for(DEFAULT_POSITION_SECRET).seal("partner-a", 7)


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


async def test_dashboard_counters_are_read_at_the_position_of_the_events_seen(
    client: FacadeClient, backend: FakeBackend
) -> None:
    """The counters claim to reflect every ORDERS event seen: on a replica they are read at the highest
    ``Mes-Commit-Lsn`` those events carried."""
    hub = client.facade.hub
    hub.start_at({"ORDERS": 40})
    order = backend.add_order("partner-a", status=orders_pb2.ORDER_STATUS_SUBMITTED)
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("c", "subscription { dashboardCounters { seq counts { total } } }")
        await next_data(ws, "c")
        backend.reset_calls()
        order.status = orders_pb2.ORDER_STATUS_ACCEPTED
        hub.publish(dataclasses.replace(status_changed(41, order.order_id, "partner-a"), position=(2 << 32) | 0xFF))
        await next_data(ws, "c")
    sent = [dict(md).get("x-mes-min-lsn") for method, md in backend.metadata if method == "CountOrders"]
    assert sent == ["2/FF"]
