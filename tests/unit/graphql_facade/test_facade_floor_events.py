"""``floorEvents`` over the fake backend: operation and work-center events pushed in sequence order,
tiles recomputed from the services and coalesced per work center, ``since`` replayed from the feed's
buffer or answered with ``ResyncRequired``, and the subscription slot it holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.metrics import SUBSCRIPTIONS
from graphql_facade.schema.floor import FloorChange, FloorFeed, floor_feed
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events
from tests.unit.graphql_facade.conftest import FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket, websocket

FLOOR_EVENTS = """subscription($since: Long) { floorEvents(since: $since) { __typename
  ... on WorkCenterUpdated { seq workCenter { id state stateReason inProgress paused queue { length } } }
  ... on OperationUpdated { seq operation { id status workCenterId } }
  ... on ResyncRequired { seq reason } } }"""


def operation_event(seq: int, op: prod.Operation, kind: Any = events.OPERATION_STARTED) -> EventEnvelope:
    payload = prod_ev.OperationChangedEvent(operation=op).SerializeToString()
    return EventEnvelope("PRODUCTION", seq, kind.subject, payload, datetime.now(UTC))


def center_event(seq: int, center: prod.WorkCenter) -> EventEnvelope:
    payload = prod_ev.WorkCenterChangedEvent(work_center=center).SerializeToString()
    return EventEnvelope("PRODUCTION", seq, events.WORK_CENTER_CHANGED.subject, payload, datetime.now(UTC))


async def floor_events(ws: AsgiWebSocket, op_id: str, count: int) -> list[dict[str, Any]]:
    got = []
    for _ in range(count):
        message = await ws.receive()
        assert message["type"] == "next" and message["id"] == op_id, message
        got.append(message["payload"]["data"]["floorEvents"])
    return got


def start(backend: FakeBackend, op: prod.Operation, center: str = "FILE-1") -> prod.Operation:
    op.status, op.work_center, op.weigh_in_mg = prod.OPERATION_STATUS_IN_PROGRESS, f"workCenters/{center}", 4000
    backend.work_centers[center].state = prod.WORK_CENTER_STATE_RUNNING
    return op


async def test_events_push_operations_then_their_work_centers_tiles(client: FacadeClient, backend: FakeBackend) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 10})
    backend.add_order("partner-a")
    op = start(backend, next(iter(backend.operations.values())))
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("f", FLOOR_EVENTS)
        await asyncio.sleep(0.05)
        hub.publish(operation_event(11, op))
        got = await floor_events(ws, "f", 2)
    op_id = f"{op.work_order_id}.{op.sequence}"
    assert got == [
        {
            "__typename": "OperationUpdated",
            "seq": 11,
            "operation": {"id": op_id, "status": "IN_PROGRESS", "workCenterId": "FILE-1"},
        },
        {
            "__typename": "WorkCenterUpdated",
            "seq": 11,
            "workCenter": {
                "id": "FILE-1",
                "state": "RUNNING",
                "stateReason": "",
                "inProgress": 1,
                "paused": 0,
                "queue": {"length": 0},
            },
        },
    ]


async def test_a_burst_is_coalesced_per_work_center_in_sequence_order(
    client: FacadeClient, backend: FakeBackend
) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 0})
    blocked = backend.work_centers["POL-1"]
    blocked.state, blocked.state_reason = prod.WORK_CENTER_STATE_BLOCKED, "no paste"
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("f", FLOOR_EVENTS)
        await asyncio.sleep(0.05)
        hub.publish(center_event(1, blocked))  # pushed at once
        first = await floor_events(ws, "f", 1)
        for seq in (2, 3, 4):  # within 250 ms of the first: one tile, with the last sequence
            hub.publish(center_event(seq, blocked))
        hub.publish(center_event(5, backend.work_centers["CAST-1"]))
        rest = await floor_events(ws, "f", 2)
    assert [(e["seq"], e["workCenter"]["id"]) for e in first + rest] == [(1, "POL-1"), (4, "POL-1"), (5, "CAST-1")]
    assert rest[0]["workCenter"]["stateReason"] == "no paste"


async def test_since_replays_what_was_missed(client: FacadeClient, backend: FakeBackend) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 0})
    backend.add_order("partner-a")
    ops = list(backend.operations.values())
    floor_feed(hub)  # the first floor answer starts the feed
    for seq, op in enumerate(ops[:3], start=1):
        hub.publish(operation_event(seq, start(backend, op)))
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("f", FLOOR_EVENTS, {"since": 1})
        got = await floor_events(ws, "f", 3)
    assert [(e["__typename"], e["seq"]) for e in got] == [
        ("OperationUpdated", 2),
        ("OperationUpdated", 3),
        ("WorkCenterUpdated", 3),
    ]


async def test_since_older_than_the_buffer_asks_for_a_resync(client: FacadeClient, backend: FakeBackend) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 500})
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("f", FLOOR_EVENTS, {"since": 20})
        [resync] = await floor_events(ws, "f", 1)
        assert resync == {"__typename": "ResyncRequired", "seq": 500, "reason": "EVENTS_NOT_RETAINED"}
        hub.set_offline()
        [offline] = await floor_events(ws, "f", 1)
    assert offline["reason"] == "EVENT_SOURCE_RESTARTED"


async def test_the_floor_answer_starts_the_feed_at_its_position(client: FacadeClient, backend: FakeBackend) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 40})
    body = (await client.gql("{ floor { asOf { seq } } }")).json()
    assert body["data"]["floor"]["asOf"]["seq"] == 40
    hub.publish(center_event(41, backend.work_centers["CAST-1"]))
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("f", FLOOR_EVENTS, {"since": 40})
        [update] = await floor_events(ws, "f", 1)
    assert (update["__typename"], update["seq"]) == ("WorkCenterUpdated", 41)


async def test_a_subscription_holds_a_slot_while_it_runs(client: FacadeClient) -> None:
    client.facade.hub.start_at({"PRODUCTION": 0})
    before = _active_operator_subscriptions()
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("f", FLOOR_EVENTS)
        assert await _until(lambda: _active_operator_subscriptions() == before + 1)
        await ws.send({"id": "f", "type": "complete"})
        assert await _until(lambda: _active_operator_subscriptions() == before)


async def _until(condition: Callable[[], bool]) -> bool:
    for _ in range(200):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


def _active_operator_subscriptions() -> float:
    return float(SUBSCRIPTIONS.labels("operator")._value.get())


async def test_the_feed_keeps_only_floor_events_and_its_buffer() -> None:
    hub = EventHub(replay_buffer=10)
    hub.start_at({"PRODUCTION": 0, "ORDERS": 0})
    feed = FloorFeed(hub, replay_buffer=2)
    op = prod.Operation(work_order_id="wo1", sequence=1, work_center="workCenters/CAST-1")
    hub.publish(operation_event(1, op))
    style = prod_ev.StyleUpsertedEvent()
    hub.publish(
        EventEnvelope("PRODUCTION", 2, events.STYLE_UPSERTED.subject, style.SerializeToString(), datetime.now(UTC))
    )
    hub.publish(EventEnvelope("PRODUCTION", 3, events.WORK_ORDERS_RELEASED.subject, b"", datetime.now(UTC)))
    hub.publish(center_event(4, prod.WorkCenter(code="POL-1")))
    assert feed.horizon == 1  # the first change was evicted
    changes = feed.changes(3)
    batch = await anext(changes)
    await changes.aclose()
    assert batch == [FloorChange(4, "POL-1")]
