"""A partner's open WebSockets follow its credentials (driven through ASGI, the fake backend as the
orders service): a revocation or rotation event closes the connections opened with the key with 4403,
so does a ``subscribe`` after the key stopped holding and, without any event, the periodic re-check;
other partners' connections stay open; a tier change moves an open connection to the new tier's limits."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.message import Message

from clients import UnavailableError
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.partner_sockets import tier_name
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import PARTNER_KEY_REVOKED, PARTNER_KEY_ROTATED, PARTNER_TIER_CHANGED, EventType
from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import (
    PARTNER_A,
    PARTNER_A_KEY,
    PARTNER_B_KEY,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket, websocket
from tests.unit.graphql_facade.test_facade_subscriptions import OPERATOR_STATUS, STATUS, next_data, status_changed

ORDERS_QUERY = "{ orders(first: 1) { nodes { id } } }"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def publish(hub: EventHub, kind: EventType[Message], message: Message) -> None:
    """The event as the next of the ORDERS stream."""
    seq = hub.latest("ORDERS") + 1
    hub.publish(EventEnvelope("ORDERS", seq, kind.subject, message.SerializeToString(), datetime.now(UTC)))


def key_revoked(partner: str, key: str) -> orders_events_pb2.PartnerKeyRevokedEvent:
    return orders_events_pb2.PartnerKeyRevokedEvent(partner_id=partner, key_id="k1", key_hash=digest(key))


async def closed_with(ws: AsgiWebSocket, timeout: float = 5.0) -> tuple[int | None, str]:
    """Read until the server closes the socket: (close code, the error text with its reason)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionError as closed:
            return ws.close_code, str(closed)


async def still_open(ws: AsgiWebSocket, partner: str, op_id: str, client: FacadeClient) -> None:
    """The connection still delivers ``partner``'s events."""
    hub = client.facade.hub
    seq = hub.latest("ORDERS") + 1
    hub.publish(status_changed(seq, f"o-{seq}", partner))
    data = await next_data(ws, op_id)
    assert data["orderStatusChanged"]["orderId"] == f"o-{seq}"  # type: ignore[index]


async def test_a_revocation_event_closes_that_keys_sockets_with_4403_and_no_other(
    client: FacadeClient, backend: FakeBackend
) -> None:
    client.facade.hub.start_at({"ORDERS": 0})
    async with websocket(client.app) as a, websocket(client.app) as b, websocket(client.app) as op:
        await a.init({"apiKey": PARTNER_A_KEY})
        await b.init({"apiKey": PARTNER_B_KEY})
        await op.init({"token": "op-token"})
        for ws, document in ((a, STATUS), (b, STATUS), (op, OPERATOR_STATUS)):
            await ws.subscribe("s", document)
        await asyncio.sleep(0.05)
        assert client.facade.sockets is not None and len(client.facade.sockets) == 2  # partners only
        assert (await client.gql(ORDERS_QUERY, headers=PARTNER_A)).status_code == 200  # the key is cached now

        del backend.api_keys[PARTNER_A_KEY]  # what RevokePartnerApiKey does at the orders service
        started = time.monotonic()
        publish(client.facade.hub, PARTNER_KEY_REVOKED, key_revoked("partner-a", PARTNER_A_KEY))

        code, reason = await closed_with(a)
        assert (code, time.monotonic() - started < 1.0) == (4403, True)
        assert "API key revoked" in reason
        # HTTP asks the orders service again at once (the event dropped the cached key): 401.
        assert (await client.gql(ORDERS_QUERY, headers=PARTNER_A)).status_code == 401
        # Partner B and the operator keep their connections and their events.
        await still_open(b, "partner-b", "s", client)
        message = await op.receive()
        assert message["type"] == "next"  # the operator sees partner B's event too
        assert len(client.facade.sockets) == 1


async def test_an_event_of_another_key_or_partner_closes_nothing(client: FacadeClient) -> None:
    client.facade.hub.start_at({"ORDERS": 0})
    async with websocket(client.app) as a:
        await a.init({"apiKey": PARTNER_A_KEY})
        await a.subscribe("s", STATUS)
        await asyncio.sleep(0.05)
        publish(client.facade.hub, PARTNER_KEY_REVOKED, key_revoked("partner-a", api_keys.issue()))  # another key
        publish(client.facade.hub, PARTNER_KEY_REVOKED, key_revoked("partner-b", PARTNER_B_KEY))
        await asyncio.sleep(0.05)
        await still_open(a, "partner-a", "s", client)


async def both_partners_connected(client: FacadeClient, a: AsgiWebSocket, b: AsgiWebSocket) -> None:
    """The hub read from the start of the orders' stream; ``a`` signed in with partner-a's key, ``b``
    with partner-b's."""
    client.facade.hub.start_at({"ORDERS": 0})
    await a.init({"apiKey": PARTNER_A_KEY})
    await b.init({"apiKey": PARTNER_B_KEY})


async def test_a_subscribe_after_the_key_was_revoked_closes_with_4403(backend: FakeBackend) -> None:
    # No sweep and no event: only the subscribe message's re-check can notice.
    settings = facade_settings(MES_FACADE_WS_RECHECK_S="0", MES_FACADE_API_KEY_CACHE_TTL_S="0")
    async with running_app(backend, settings) as client, websocket(client.app) as a, websocket(client.app) as b:
        await both_partners_connected(client, a, b)
        await a.subscribe("s1", STATUS)
        await asyncio.sleep(0.05)
        del backend.api_keys[PARTNER_A_KEY]
        await asyncio.sleep(0.2)
        assert a.close_code is None  # nothing noticed it yet
        await a.subscribe("s2", STATUS)
        code, reason = await closed_with(a)
        assert code == 4403 and "API key revoked" in reason
        await b.subscribe("s", STATUS)  # the other partner subscribes as before
        await asyncio.sleep(0.05)
        client.facade.hub.publish(status_changed(1, "o-1", "partner-b"))
        assert (await next_data(b, "s"))["orderStatusChanged"]["orderId"] == "o-1"  # type: ignore[index]


async def test_the_sweep_closes_a_revoked_keys_socket_without_the_event(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_WS_RECHECK_S="0.05", MES_FACADE_API_KEY_CACHE_TTL_S="0.2")
    async with running_app(backend, settings) as client, websocket(client.app) as a, websocket(client.app) as b:
        await both_partners_connected(client, a, b)
        for ws in (a, b):
            await ws.subscribe("s", STATUS)
        await asyncio.sleep(0.3)  # several sweeps: a valid key keeps its connection
        await still_open(a, "partner-a", "s", client)

        del backend.api_keys[PARTNER_A_KEY]
        started = time.monotonic()
        code, reason = await closed_with(a, timeout=3.0)
        elapsed = time.monotonic() - started
        assert code == 4403 and "API key revoked" in reason
        assert elapsed < 2.0, elapsed  # the cache TTL (0.2 s) plus one interval (0.05 s), with room
        await still_open(b, "partner-b", "s", client)


async def test_the_sweep_keeps_sockets_open_while_the_orders_service_cannot_answer(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_WS_RECHECK_S="0.05", MES_FACADE_API_KEY_CACHE_TTL_S="0")
    async with running_app(backend, settings) as client, websocket(client.app) as a:
        client.facade.hub.start_at({"ORDERS": 0})
        await a.init({"apiKey": PARTNER_A_KEY})
        await a.subscribe("s", STATUS)
        await asyncio.sleep(0.05)  # running
        backend.fail["AuthenticatePartner"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "orders down")
        await asyncio.sleep(0.3)
        await still_open(a, "partner-a", "s", client)
        # A subscribe is refused (the key cannot be checked), the connection stays.
        await a.subscribe("s2", STATUS)
        refused = await a.receive()
        assert refused["type"] == "error" and refused["id"] == "s2"
        assert refused["payload"][0]["extensions"]["code"] == "UNAVAILABLE"
        await still_open(a, "partner-a", "s", client)


async def test_a_rotation_closes_the_old_keys_sockets_and_keeps_the_new_ones(
    client: FacadeClient, backend: FakeBackend
) -> None:
    client.facade.hub.start_at({"ORDERS": 0})
    new_key = api_keys.issue()
    backend.add_partner("partner-a", new_key)
    async with websocket(client.app) as old, websocket(client.app) as new, websocket(client.app) as b:
        await old.init({"apiKey": PARTNER_A_KEY})
        await new.init({"apiKey": new_key})
        await b.init({"apiKey": PARTNER_B_KEY})
        for ws in (old, new, b):
            await ws.subscribe("s", STATUS)
        await asyncio.sleep(0.05)

        del backend.api_keys[PARTNER_A_KEY]
        rotated = orders_events_pb2.PartnerKeyRotatedEvent(
            partner_id="partner-a",
            revoked_keys=[orders_events_pb2.RevokedApiKey(key_id="k1", key_hash=digest(PARTNER_A_KEY))],
            new_key_id="k2",
        )
        publish(client.facade.hub, PARTNER_KEY_ROTATED, rotated)

        code, reason = await closed_with(old)
        assert code == 4403 and "API key revoked" in reason
        await still_open(new, "partner-a", "s", client)
        await still_open(b, "partner-b", "s", client)


async def test_a_tier_change_moves_an_open_connection_to_the_new_limits(backend: FakeBackend) -> None:
    settings = facade_settings(
        MES_FACADE_LIMITS_STANDARD_MAX_SUBSCRIPTIONS="1", MES_FACADE_LIMITS_ENTERPRISE_MAX_SUBSCRIPTIONS="3"
    )
    async with running_app(backend, settings) as client, websocket(client.app) as a:
        client.facade.hub.start_at({"ORDERS": 0})
        await a.init({"apiKey": PARTNER_A_KEY})
        await a.subscribe("s1", STATUS)
        await a.subscribe("s2", STATUS)
        refused = await a.receive()
        assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"

        backend.api_keys[PARTNER_A_KEY].tier = orders_pb2.PARTNER_TIER_ENTERPRISE  # SetPartnerTier
        changed = orders_events_pb2.PartnerTierChangedEvent(
            partner_id="partner-a",
            tier=orders_pb2.PARTNER_TIER_ENTERPRISE,
            previous_tier=orders_pb2.PARTNER_TIER_STANDARD,
        )
        publish(client.facade.hub, PARTNER_TIER_CHANGED, changed)
        await asyncio.sleep(0.05)

        assert a.close_code is None  # not closed
        await a.subscribe("s3", STATUS)
        await a.subscribe("s4", STATUS)
        await asyncio.sleep(0.05)
        seq = client.facade.hub.latest("ORDERS") + 1
        client.facade.hub.publish(status_changed(seq, f"o-{seq}", "partner-a"))
        got = sorted([(await a.receive())["id"] for _ in range(3)])
        assert got == ["s1", "s3", "s4"]  # three subscriptions now run on the connection
        await a.subscribe("s5", STATUS)
        refused = await a.receive()
        assert refused["type"] == "error" and refused["payload"][0]["extensions"]["maxSubscriptions"] == 3


async def test_a_tier_change_without_the_event_follows_the_recheck(backend: FakeBackend) -> None:
    settings = facade_settings(
        MES_FACADE_LIMITS_STANDARD_MAX_SUBSCRIPTIONS="1",
        MES_FACADE_LIMITS_PLUS_MAX_SUBSCRIPTIONS="2",
        MES_FACADE_API_KEY_CACHE_TTL_S="0",
        MES_FACADE_WS_RECHECK_S="0",
    )
    async with running_app(backend, settings) as client, websocket(client.app) as a:
        await a.init({"apiKey": PARTNER_A_KEY})
        await a.subscribe("s1", STATUS)
        backend.api_keys[PARTNER_A_KEY].tier = orders_pb2.PARTNER_TIER_PLUS
        await a.subscribe("s2", STATUS)  # admitted under PLUS: the re-check brought the new tier
        await a.subscribe("s3", STATUS)
        refused = await a.receive()
        assert refused["id"] == "s3" and refused["payload"][0]["extensions"]["maxSubscriptions"] == 2


async def test_a_closed_socket_leaves_the_registry(client: FacadeClient) -> None:
    sockets = client.facade.sockets
    assert sockets is not None
    async with websocket(client.app) as a:
        await a.init({"apiKey": PARTNER_A_KEY})
        assert [s.partner_id for s in sockets.of("partner-a")] == ["partner-a"]
        assert sockets.of("partner-a")[0].key_hash == digest(PARTNER_A_KEY)
    assert len(sockets) == 0 and sockets.of("partner-a") == []


def test_tier_names() -> None:
    assert [tier_name(t) for t in (0, 1, 2, 3, 99)] == ["STANDARD", "STANDARD", "PLUS", "ENTERPRISE", "STANDARD"]


def test_the_recheck_interval_setting() -> None:
    assert facade_settings().ws_recheck_s == 2.0
    assert facade_settings(MES_FACADE_WS_RECHECK_S="0.5").ws_recheck_s == 0.5
    with pytest.raises(ValueError, match="MES_FACADE_WS_RECHECK_S"):
        facade_settings(MES_FACADE_WS_RECHECK_S="-1")
