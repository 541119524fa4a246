"""The facade's work centers (:class:`graphql_facade.loaders.WorkCenterDirectory`): one
``ListWorkCenters`` serves every request while the event hub is live, until a work-center event, a
reset of the event source or the TTL; without a live hub every read asks the service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.loaders import WORK_CENTERS_TTL_S, WorkCenterDirectory
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events
from tests.unit.graphql_facade.conftest import FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend

LIST = "ListWorkCenters"


def center_changed(seq: int, code: str = "POL-1") -> EventEnvelope:
    payload = prod_ev.WorkCenterChangedEvent(work_center=prod.WorkCenter(code=code)).SerializeToString()
    return EventEnvelope("PRODUCTION", seq, events.WORK_CENTER_CHANGED.subject, payload, datetime.now(UTC))


def operation_started(seq: int) -> EventEnvelope:
    op = prod.Operation(work_order_id="wo1", sequence=1, work_center="workCenters/POL-1")
    payload = prod_ev.OperationChangedEvent(operation=op).SerializeToString()
    return EventEnvelope("PRODUCTION", seq, events.OPERATION_STARTED.subject, payload, datetime.now(UTC))


def live_hub() -> EventHub:
    hub = EventHub()
    hub.start_at({"PRODUCTION": 0})
    return hub


async def codes(directory: WorkCenterDirectory) -> list[str]:
    return sorted(wc.code for wc in await directory.all())


async def test_one_read_serves_every_reader_while_the_hub_is_live(backend: FakeBackend) -> None:
    directory = WorkCenterDirectory(backend, hub=live_hub())
    first = await directory.all()
    first.clear()  # a reader's own copy: what is kept is untouched
    assert await codes(directory) == await codes(directory) == sorted(backend.work_centers)
    readers = await asyncio.gather(*(directory.all() for _ in range(10)))
    assert {len(r) for r in readers} == {len(backend.work_centers)}
    assert backend.calls[LIST] == 1


async def test_a_work_center_event_a_reset_or_the_ttl_makes_it_read_again(backend: FakeBackend) -> None:
    now = [100.0]
    hub = live_hub()
    directory = WorkCenterDirectory(backend, hub=hub, clock=lambda: now[0])
    await directory.all()
    hub.publish(operation_started(1))  # an operation's event: the centers' records are unchanged
    await directory.all()
    assert backend.calls[LIST] == 1
    backend.work_centers["POL-1"].state = prod.WORK_CENTER_STATE_BLOCKED
    hub.publish(center_changed(2))
    blocked = {wc.code: wc.state for wc in await directory.all()}
    assert blocked["POL-1"] == prod.WORK_CENTER_STATE_BLOCKED and backend.calls[LIST] == 2
    now[0] += WORK_CENTERS_TTL_S - 0.1
    await directory.all()
    assert backend.calls[LIST] == 2
    now[0] += 0.2  # past the TTL: a definition changed without an event shows now
    await directory.all()
    assert backend.calls[LIST] == 3
    hub.start_at({"PRODUCTION": 5})  # the source subscribed again: what was kept may have missed events
    await directory.all()
    assert backend.calls[LIST] == 4


async def test_without_a_live_hub_every_read_asks_the_service(backend: FakeBackend) -> None:
    for directory in (WorkCenterDirectory(backend), WorkCenterDirectory(backend, hub=EventHub())):
        backend.reset_calls()
        for _ in range(3):
            await directory.all()
        assert backend.calls[LIST] == 3
    hub = live_hub()
    directory = WorkCenterDirectory(backend, hub=hub)
    await directory.all()
    hub.set_offline()  # no event can make it stale now: nothing is kept
    backend.reset_calls()
    await directory.all()
    await directory.all()
    assert backend.calls[LIST] == 2


async def test_a_read_under_way_when_a_center_changes_is_neither_kept_nor_shared(backend: FakeBackend) -> None:
    hub = live_hub()
    directory = WorkCenterDirectory(backend, hub=hub)
    backend.delay[LIST] = 0.05
    before = asyncio.create_task(directory.all())
    await asyncio.sleep(0.01)
    backend.work_centers["POL-1"].state = prod.WORK_CENTER_STATE_BLOCKED
    hub.publish(center_changed(1))
    after = asyncio.create_task(directory.all())  # has seen the event: does not take the older read
    await asyncio.gather(before, after)
    assert {wc.code: wc.state for wc in after.result()}["POL-1"] == prod.WORK_CENTER_STATE_BLOCKED
    assert backend.calls[LIST] == 2
    await directory.all()  # the read that began after the event is the one kept
    assert backend.calls[LIST] == 2


async def test_the_facade_reads_the_work_centers_once_for_every_request(
    client: FacadeClient, backend: FakeBackend
) -> None:
    hub = client.facade.hub
    hub.start_at({"PRODUCTION": 0})
    queries = (
        "{ floor { workCenters { id state } } }",
        "{ workCenters(first: 10) { nodes { code state } } }",
        '{ workCenter(id: "POL-1") { state stateReason } }',
    )
    for query in queries:
        assert "errors" not in (await client.gql(query)).json()
    assert backend.calls[LIST] == 1
    backend.work_centers["POL-1"].state = prod.WORK_CENTER_STATE_BLOCKED
    backend.work_centers["POL-1"].state_reason = "no paste"
    hub.publish(center_changed(1))
    shown = (await client.gql('{ workCenter(id: "POL-1") { state stateReason } }')).json()["data"]
    assert shown == {"workCenter": {"state": "BLOCKED", "stateReason": "no paste"}}
    assert backend.calls[LIST] == 2
