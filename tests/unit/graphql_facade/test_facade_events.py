"""EventHub: positions and listeners (the response cache), status events with sequences, replay with `since`, resync."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from graphql_facade.events import EventEnvelope, EventHub, Resync, StatusEvent
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED


def status_event(seq: int, order_id: str = "o1", partner: str = "partner-a", to: int = 2) -> EventEnvelope:
    msg = orders_events_pb2.OrderStatusChangedEvent(
        order_id=order_id, partner_id=partner, from_status=1, to_status=to, order_version=seq
    )
    return EventEnvelope("ORDERS", seq, ORDER_STATUS_CHANGED.subject, msg.SerializeToString(), datetime.now(UTC))


def other_event(stream: str, seq: int) -> EventEnvelope:
    return EventEnvelope(stream, seq, f"{stream.lower()}.something", b"", datetime.now(UTC))


async def test_positions_follow_sequences_and_listeners_see_new_events_and_resets() -> None:
    hub = EventHub()
    seen: list[tuple[str, int]] = []
    resets: list[dict[str, int] | None] = []
    hub.add_listener(lambda event: seen.append((event.stream, event.seq)))
    hub.add_reset_listener(lambda positions: resets.append(None if positions is None else dict(positions)))
    hub.start_at({"ORDERS": 7, "INVENTORY": 3, "PRODUCTION": 0})
    assert hub.live and resets == [{"ORDERS": 7, "INVENTORY": 3, "PRODUCTION": 0}]
    hub.publish(other_event("PRODUCTION", 1))
    hub.publish(other_event("ORDERS", 8))
    assert hub.as_of() == {"ORDERS": 8, "INVENTORY": 3, "PRODUCTION": 1} == dict(hub.seen)  # no delay
    hub.publish(other_event("ORDERS", 8))  # redelivered: ignored
    assert hub.latest("ORDERS") == 8 and seen == [("PRODUCTION", 1), ("ORDERS", 8)]
    hub.set_offline()
    assert not hub.live and resets[-1] is None
    await hub.aclose()


async def test_two_replicas_agree_on_positions() -> None:
    one, two = EventHub(), EventHub()
    one.start_at({"ORDERS": 4})
    two.start_at({"ORDERS": 4})
    for hub in (one, two):
        hub.publish(other_event("INVENTORY", 9))
    assert one.as_of() == two.as_of() == {"ORDERS": 4, "INVENTORY": 9, "PRODUCTION": 0}


async def test_status_events_carry_their_sequence() -> None:
    hub = EventHub()
    hub.start_at({"ORDERS": 0})
    received: list[StatusEvent | Resync] = []

    async def consume() -> None:
        async for event in hub.status_events():
            received.append(event)
            if len(received) == 2:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    hub.publish(status_event(1, "o1"))
    hub.publish(other_event("ORDERS", 2))  # another subject on the same stream
    hub.publish(status_event(3, "o2", to=5))
    await asyncio.wait_for(task, 2)
    assert [(e.seq, e.order_id) for e in received if isinstance(e, StatusEvent)] == [(1, "o1"), (3, "o2")]
    assert isinstance(received[1], StatusEvent) and received[1].to_status == orders_pb2.ORDER_STATUS_SHIPPED
    await hub.aclose()


async def test_since_replays_buffered_events_or_asks_for_resync() -> None:
    hub = EventHub(replay_buffer=3)
    hub.start_at({"ORDERS": 10})
    for seq in range(11, 16):
        hub.publish(status_event(seq))

    async def first(since: int) -> list[StatusEvent | Resync]:
        out: list[StatusEvent | Resync] = []
        stream = hub.status_events(since)
        async for event in stream:
            out.append(event)
            if isinstance(event, Resync) or event.seq == 15:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        return out

    replayed = await first(12)
    assert [e.seq for e in replayed] == [13, 14, 15]
    too_old = await first(5)
    assert isinstance(too_old[0], Resync) and too_old[0].reason == "EVENTS_NOT_RETAINED" and too_old[0].seq == 15
    await hub.aclose()


async def test_a_slow_subscriber_is_told_to_resync() -> None:
    hub = EventHub(subscriber_queue=2)
    hub.start_at({"ORDERS": 0})
    stream = hub.status_events()
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    for seq in range(1, 6):
        hub.publish(status_event(seq))
    event = await asyncio.wait_for(first, 1)
    assert isinstance(event, StatusEvent) and event.seq == 1
    resync = await asyncio.wait_for(stream.__anext__(), 1)  # what was queued is dropped: refetch instead
    assert isinstance(resync, Resync) and resync.reason == "SLOW_CONSUMER" and resync.seq == 5
    hub.publish(status_event(6))
    after = await asyncio.wait_for(stream.__anext__(), 1)
    assert isinstance(after, StatusEvent) and after.seq == 6
    await stream.aclose()  # type: ignore[attr-defined]
    await hub.aclose()


async def test_listeners_see_every_event_and_failures_are_contained() -> None:
    hub = EventHub()
    seen: list[str] = []

    def broken(event: EventEnvelope) -> None:
        raise RuntimeError("listener bug")

    hub.add_listener(broken)
    hub.add_listener(lambda e: seen.append(e.subject))
    hub.publish(other_event("INVENTORY", 1))
    assert seen == ["inventory.something"]
    await hub.aclose()
