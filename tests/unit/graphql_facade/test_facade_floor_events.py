"""``floorEvents`` over the fake backend: operation and work-center events pushed in sequence order,
tiles recomputed from the services and coalesced per work center, computed once per batch for every
subscriber, ``since`` replayed from the feed's buffer (kept from the facade's start) or answered with
``ResyncRequired``, and the subscription slot it holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry

from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.metrics import SUBSCRIPTIONS
from graphql_facade.schema.common import Long
from graphql_facade.schema.floor import (
    FloorChange,
    FloorFeed,
    FloorTiles,
    FloorWorkCenter,
    QueueSummary,
    Wip,
    floor_feed,
)
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


async def test_since_replays_what_was_missed_before_any_floor_answer(
    client: FacadeClient, backend: FakeBackend
) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 0})
    backend.add_order("partner-a")
    ops = list(backend.operations.values())
    # No floor answer nor subscription yet: the feed's buffer started with the facade.
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


async def no_tiles(codes: Sequence[str] | None, now: datetime) -> list[FloorWorkCenter]:
    return []


async def test_the_feed_keeps_only_floor_events_and_its_buffer() -> None:
    hub = EventHub(replay_buffer=10)
    hub.start_at({"PRODUCTION": 0, "ORDERS": 0})
    feed = FloorFeed(hub, no_tiles, replay_buffer=2)
    op = prod.Operation(work_order_id="wo1", sequence=1, work_center="workCenters/CAST-1")
    hub.publish(operation_event(1, op))
    style = prod_ev.StyleUpsertedEvent()
    hub.publish(
        EventEnvelope("PRODUCTION", 2, events.STYLE_UPSERTED.subject, style.SerializeToString(), datetime.now(UTC))
    )
    hub.publish(EventEnvelope("PRODUCTION", 3, events.WORK_ORDERS_RELEASED.subject, b"", datetime.now(UTC)))
    hub.publish(center_event(4, prod.WorkCenter(code="POL-1")))
    assert feed.horizon == 1  # the first change was evicted
    assert feed.buffered(3) == [FloorChange(4, "POL-1")]
    assert [c.seq for c in feed.buffered(0)] == [3, 4]


# -- one computation for every subscriber ------------------------------------------------------------


def tile(code: str) -> FloorWorkCenter:
    return FloorWorkCenter(
        id=strawberry.ID(code),
        name=code,
        kind="CASTING",
        state=None,
        state_reason="",
        state_time=None,
        capacity=1,
        version=Long(1),
        queue=QueueSummary(length=0, oldest_queued_at=None),
        in_progress=0,
        paused=0,
        wip=Wip(pieces=0, gross_mg=Long(0), fine_mg=Long(0)),
        finished_last_hour=0,
        finished_this_shift=0,
    )


class CountingTiles:
    """A tile source that records every computation (the work centers asked for); ``fail`` makes it raise."""

    def __init__(self) -> None:
        self.computed: list[tuple[str, ...] | None] = []
        self.fail = False

    async def __call__(self, codes: Sequence[str] | None, now: datetime) -> list[FloorWorkCenter]:
        self.computed.append(None if codes is None else tuple(codes))
        if self.fail:
            raise RuntimeError("production is away")
        return [tile(code) for code in codes or ("CAST-1", "POL-1")]


def live_feed(tiles: CountingTiles, latest: int = 0) -> tuple[EventHub, FloorFeed]:
    hub = EventHub(replay_buffer=10)
    hub.start_at({"PRODUCTION": latest})
    return hub, FloorFeed(hub, tiles)


async def subscribed(feed: FloorFeed, count: int, since: int | None = None) -> list[Any]:
    """``count`` subscribers' update streams, each registered with the feed (its first item requested)."""
    streams = [feed.updates(since) for _ in range(count)]
    firsts = [asyncio.create_task(anext(stream)) for stream in streams]
    assert await _until(lambda: len(feed._subscribers) == count)
    return list(zip(streams, firsts, strict=True))


async def test_one_computation_serves_every_subscriber() -> None:
    tiles = CountingTiles()
    hub, feed = live_feed(tiles)
    subscribers = await subscribed(feed, 2)
    hub.publish(center_event(1, prod.WorkCenter(code="POL-1")))
    got = [await asyncio.wait_for(first, 5) for _, first in subscribers]
    assert tiles.computed == [("POL-1",)]  # once, not once per subscriber
    assert [[(type(u).__name__, u.seq) for u in batch] for batch in got] == [[("WorkCenterUpdated", 1)]] * 2
    assert got[0][0] is got[1][0]  # the very same update handed to both
    op = prod.Operation(work_order_id="wo1", sequence=1, work_center="workCenters/CAST-1")
    hub.publish(operation_event(2, op))
    nexts = [await asyncio.wait_for(anext(stream), 5) for stream, _ in subscribers]
    assert tiles.computed == [("POL-1",), ("CAST-1",)]
    assert nexts[0] == nexts[1] and [(type(u).__name__, u.seq) for u in nexts[0]] == [
        ("OperationUpdated", 2),
        ("WorkCenterUpdated", 2),
    ]
    for stream, _ in subscribers:
        await stream.aclose()
    assert feed._pump is None  # nobody listens: no task left


async def test_a_resuming_subscriber_gets_its_own_replay_then_the_shared_batches() -> None:
    tiles = CountingTiles()
    hub, feed = live_feed(tiles)
    [(live, first_live)] = await subscribed(feed, 1)
    hub.publish(center_event(1, prod.WorkCenter(code="POL-1")))
    assert [u.seq for u in await asyncio.wait_for(first_live, 5)] == [1]
    [(resumed, replay)] = await subscribed(feed, 1, since=0)
    assert [(type(u).__name__, u.seq) for u in await asyncio.wait_for(replay, 5)] == [("WorkCenterUpdated", 1)]
    assert tiles.computed == [("POL-1",), ("POL-1",)]  # the replay: for the resuming subscriber alone
    hub.publish(center_event(2, prod.WorkCenter(code="CAST-1")))
    shared = [await asyncio.wait_for(anext(stream), 5) for stream in (live, resumed)]
    assert shared[0] == shared[1] and [u.seq for u in shared[0]] == [2]
    assert tiles.computed[2:] == [("CAST-1",)]
    for stream in (live, resumed):
        await stream.aclose()


async def test_a_failed_computation_asks_every_subscriber_to_resync() -> None:
    tiles = CountingTiles()
    tiles.fail = True
    hub, feed = live_feed(tiles, latest=7)
    subscribers = await subscribed(feed, 2)
    hub.publish(center_event(8, prod.WorkCenter(code="POL-1")))
    got = [await asyncio.wait_for(first, 5) for _, first in subscribers]
    assert [(g.seq, g.reason) for g in got] == [(8, "UPDATE_FAILED")] * 2 and len(tiles.computed) == 1
    await feed.aclose()
    for stream, _ in subscribers:
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), 5)  # closing the feed ends its subscribers


async def test_two_subscriptions_cost_the_services_one_computation(client: FacadeClient, backend: FakeBackend) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 0})
    blocked = backend.work_centers["POL-1"]
    blocked.state, blocked.state_reason = prod.WORK_CENTER_STATE_BLOCKED, "no paste"
    async with websocket(client.app) as first, websocket(client.app) as second:
        for ws in (first, second):
            await ws.init({"token": "op-token"})
            await ws.subscribe("f", FLOOR_EVENTS)
        feed = floor_feed(hub, CountingTiles())  # the facade's own (started with it): the source given is unused
        assert await _until(lambda: len(feed._subscribers) == 2)
        backend.reset_calls()
        hub.publish(center_event(1, blocked))
        got = [await floor_events(ws, "f", 1) for ws in (first, second)]
    assert got[0] == got[1] and got[0][0]["workCenter"]["stateReason"] == "no paste"
    # One tile computation: one read of the last hour's stats and one of the output, not one per subscriber.
    assert backend.count("ListWorkCenterStats", "ListWorkCenterOutput") == {
        "ListWorkCenterStats": 1,
        "ListWorkCenterOutput": 1,
    }


async def test_the_tiles_read_the_figures_of_their_centers_in_one_call(backend: FakeBackend) -> None:
    """A batch touching a few work centers reads those centers' figures in one ``ListWorkCenterStats``
    (counts, oldest queued, the bench's pieces and metal: aggregates in the service), never a listing
    of operations; its tiles equal those of the whole floor, which reads every center's at once."""
    for partner in ("partner-a", "partner-b", "partner-a"):
        backend.add_order(partner)
    ops = list(backend.operations.values())
    start(backend, ops[0], "FILE-1")
    start(backend, ops[3], "POL-1")
    ops[1].status, ops[1].work_center = prod.OPERATION_STATUS_QUEUED, "workCenters/POL-1"
    ops[4].status, ops[4].work_center = prod.OPERATION_STATUS_QUEUED, "workCenters/CAST-1"
    tiles = FloorTiles(backend, None, 60)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    backend.requests.clear()
    whole = {tile.id: tile for tile in await tiles(None, now)}
    stats = [r for name, r in backend.requests if name == "ListWorkCenterStats"]
    assert [list(r.work_centers) for r in stats] == [[]]  # the floor at once
    backend.requests.clear()
    few = await tiles(["POL-1", "FILE-1"], now)
    assert [tile.id for tile in few] == ["FILE-1", "POL-1"]
    assert few == [whole[tile.id] for tile in few]
    assert few[1].in_progress == 1 and few[1].queue.length == 1 and few[1].wip.pieces > 0
    stats = [r for name, r in backend.requests if name == "ListWorkCenterStats"]
    assert [list(r.work_centers) for r in stats] == [["workCenters/FILE-1", "workCenters/POL-1"]]
    assert not [name for name, _ in backend.requests if name == "ListOperations"]


async def test_the_tiles_of_an_event_are_read_at_its_commit_position(
    client: FacadeClient, backend: FakeBackend
) -> None:
    """An event's ``Mes-Commit-Lsn`` (``EventEnvelope.position``) goes with its tiles' reads as the
    minimum position, so a service reading on a replica answers what the event says happened."""
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 0})
    blocked = backend.work_centers["POL-1"]
    async with websocket(client.app) as ws:
        await ws.init({"token": "op-token"})
        await ws.subscribe("f", FLOOR_EVENTS)
        feed = floor_feed(hub, CountingTiles())
        assert await _until(lambda: len(feed._subscribers) == 1)
        backend.reset_calls()
        hub.publish(replace(center_event(1, blocked), position=(0x1A << 32) | 0x10))
        await floor_events(ws, "f", 1)
        positioned = [dict(md).get("x-mes-min-lsn") for m, md in backend.metadata if m == "ListWorkCenterStats"]
        backend.reset_calls()
        hub.publish(center_event(2, blocked))  # none given (a service that reads on its writer)
        await floor_events(ws, "f", 1)
        unpositioned = [dict(md).get("x-mes-min-lsn") for m, md in backend.metadata if m == "ListWorkCenterStats"]
    assert positioned == ["1A/10"] and unpositioned == [None]
    assert hub.position("PRODUCTION") == (0x1A << 32) | 0x10
