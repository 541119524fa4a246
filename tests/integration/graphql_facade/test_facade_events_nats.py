"""Two facade replicas on a real NATS JetStream: every subscriber gets every event of its tenant,
and an event makes fresh data visible long before the response cache's 60 s TTL would (a liveness
bound of 10 s; how soon it shows on a busy floor is measured in ``perf/``, not asserted here)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

import nats
import pytest
from nats.aio.client import Client

from graphql_facade.adapters.nats_events import NatsEventSource
from graphql_facade.config import FacadeSettings
from graphql_facade.events import EventHub
from graphql_facade.positions_sealed import sealer_for
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED
from mes_platform.messaging import EVENT_POSITION_HEADER
from tests._infra.nats import NatsServer
from tests.integration.graphql_facade.conftest import Facades, facade_app
from tests.unit.graphql_facade.conftest import PARTNER_A_KEY, PARTNER_B_KEY, facade_settings
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket, websocket

STATUS = """subscription { orderStatusChanged {
  ... on OrderStatusChanged { position orderId toStatus } ... on ResyncRequired { reason } } }"""
OPERATOR_STATUS = """subscription { orderStatusChanged {
  ... on OrderStatusChanged { seq orderId toStatus } ... on ResyncRequired { reason } } }"""
OPERATOR = {"Authorization": "Bearer op-token"}


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url, connect_timeout=5)
    yield client
    await client.close()


def settings(nats_url: str, instance: str) -> FacadeSettings:
    return facade_settings(
        NATS_URL=nats_url,
        MES_INSTANCE=instance,
        MES_FACADE_RESPONSE_CACHE_TTL_S="60",
        MES_FACADE_CACHE_MAX_STALE_MS="1000",  # the shipped bounds: stale answers served meanwhile
        MES_FACADE_CACHE_REFRESH_INTERVAL_MS="500",
    )


async def publish_status(nc: Client, order_id: str, partner: str, to: int) -> int:
    event = orders_events_pb2.OrderStatusChangedEvent(
        order_id=order_id, partner_id=partner, from_status=1, to_status=to
    )
    event.meta.event_id = uuid.uuid4().hex
    ack = await nc.jetstream().publish(
        ORDER_STATUS_CHANGED.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.meta.event_id}
    )
    return int(ack.seq)


async def wait_live(*replicas: Facades) -> None:
    for replica in replicas:
        source = replica.facade.events
        assert source is not None
        await source.wait_subscribed(15)  # type: ignore[attr-defined]


async def next_event(ws: AsgiWebSocket, order_id: str, timeout: float = 5.0) -> dict[str, object]:
    """The next status event of ``order_id`` (events of other tests on a shared server are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        payload = message["payload"]["data"]["orderStatusChanged"]
        if payload.get("orderId") == order_id:
            result: dict[str, object] = payload
            return result


async def test_every_replica_delivers_every_event_of_the_tenant(nats_url: str, nc: Client) -> None:
    backend = FakeBackend()
    backend.add_partner("partner-a", PARTNER_A_KEY)
    backend.add_partner("partner-b", PARTNER_B_KEY)
    mine, theirs = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    async with (
        facade_app(settings(nats_url, "one"), backend=backend, events=True) as one,
        facade_app(settings(nats_url, "two"), backend=backend, events=True) as two,
    ):
        await wait_live(one, two)
        async with (
            websocket(one.app) as a1,
            websocket(two.app) as a2,
            websocket(two.app) as operator,
        ):
            await a1.init({"apiKey": PARTNER_A_KEY})
            await a2.init({"apiKey": PARTNER_A_KEY})
            await operator.init({"token": "op-token"})
            for ws, document in ((a1, STATUS), (a2, STATUS), (operator, OPERATOR_STATUS)):
                await ws.subscribe("s", document)
            await asyncio.sleep(0.2)
            foreign_seq = await publish_status(nc, theirs, "partner-b", orders_pb2.ORDER_STATUS_ACCEPTED)
            seq = await publish_status(nc, mine, "partner-a", orders_pb2.ORDER_STATUS_IN_PRODUCTION)
            # Both replicas show the partner the same position: sealed with the secret they share.
            position = sealer_for(one.facade.settings.position_secret).seal("partner-a", seq)
            for ws in (a1, a2):
                event = await next_event(ws, mine)
                assert event == {"position": position, "orderId": mine, "toStatus": "IN_PRODUCTION"}
            seen_by_operator = {(await next_event(operator, o))["seq"] for o in (theirs, mine)}
            assert seen_by_operator == {foreign_seq, seq}
            with pytest.raises(TimeoutError):
                await next_event(a1, theirs, timeout=0.3)  # partner A never sees partner B's order


async def test_an_event_makes_fresh_data_visible_before_the_cache_ttl(nats_url: str, nc: Client) -> None:
    backend = FakeBackend()
    order = backend.add_order("partner-a", status=orders_pb2.ORDER_STATUS_SUBMITTED)
    query = "query($id: ID!) { order(id: $id) { status } asOf { seq } }"
    async with (
        facade_app(settings(nats_url, "one"), backend=backend, events=True) as one,
        facade_app(settings(nats_url, "two"), backend=backend, events=True) as two,
    ):
        await wait_live(one, two)
        for replica in (one, two):
            body = (await replica.gql(query, {"id": order.order_id}, headers=OPERATOR)).json()
            assert body["data"]["order"]["status"] == "SUBMITTED"
        order.status = orders_pb2.ORDER_STATUS_ACCEPTED  # the service changed; the cache does not know yet
        cached = (await one.gql(query, {"id": order.order_id}, headers=OPERATOR)).json()
        assert cached["data"]["order"]["status"] == "SUBMITTED"
        seq = await publish_status(nc, order.order_id, "partner-a", orders_pb2.ORDER_STATUS_ACCEPTED)
        published = time.monotonic()
        for replica in (one, two):
            while True:
                body = (await replica.gql(query, {"id": order.order_id}, headers=OPERATOR)).json()
                if body["data"]["order"]["status"] == "ACCEPTED":
                    assert body["data"]["asOf"]["seq"] >= seq
                    break
                assert time.monotonic() - published < 10.0, "stale data after 10 s (the TTL is 60 s)"
                await asyncio.sleep(0.05)


async def test_a_lost_nats_server_is_a_warning_without_traceback(
    make_nats_server: Callable[..., NatsServer], caplog: pytest.LogCaptureFixture
) -> None:
    """While the server is away the client's reconnect attempts fail: each failure is expected, so
    it is logged as a warning line (as the services do), not nats-py's default ERROR with a traceback."""
    server = make_nats_server()
    source = NatsEventSource(server.url, EventHub(), name="facade-reconnect-test")
    await source.start(wait_s=15)
    try:
        assert source.connected
        with caplog.at_level(logging.WARNING):
            server.stop()
            await asyncio.sleep(3.5)  # several reconnect attempts (1 s apart) fail
        assert not source.connected
        loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not loud, [(r.name, r.getMessage()) for r in loud]
        server.start()
        await source.wait_subscribed(15)
    finally:
        await source.aclose()


async def test_an_events_commit_position_reaches_the_hub(nats_url: str, nc: Client) -> None:
    """The relay's ``Mes-Commit-Lsn`` header becomes the event's position (what the live feeds read at); a
    header that is not a position is left out, and the event still delivered."""

    async def publish(position: str) -> int:
        event = orders_events_pb2.OrderStatusChangedEvent(order_id=uuid.uuid4().hex, partner_id="partner-a")
        event.meta.event_id = uuid.uuid4().hex
        headers = {"Nats-Msg-Id": event.meta.event_id, EVENT_POSITION_HEADER: position}
        return int(
            (await nc.jetstream().publish(ORDER_STATUS_CHANGED.subject, event.SerializeToString(), headers=headers)).seq
        )

    async with facade_app(settings(nats_url, "one"), backend=FakeBackend(), events=True) as one:
        await wait_live(one)
        hub = one.facade.hub
        seq = await publish("FFFFFF/10")  # above any other test's on a shared server
        assert await until(lambda: hub.latest("ORDERS") >= seq)
        assert hub.position("ORDERS") == (0xFFFFFF << 32) | 0x10
        seq = await publish("not a position")
        assert await until(lambda: hub.latest("ORDERS") >= seq)
        assert hub.position("ORDERS") == (0xFFFFFF << 32) | 0x10


async def until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
