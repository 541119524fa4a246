"""The floor states in the operators' schema (over the fake backend): pausing and resuming an
operation, blocking and unblocking a work center, the fields that show them, and the cache tags
that keep cached pages showing them fresh."""

from __future__ import annotations

from typing import Any

from graphql_facade.response_cache.tags import touches
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events
from tests._infra.graphql import data, error
from tests.unit.graphql_facade.cache_tags import reads, touched
from tests.unit.graphql_facade.conftest import FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend

PAUSE = """mutation($id: ID!, $reason: String!, $key: String) {
  pauseOperation(id: $id, reason: $reason, idempotencyKey: $key) { id status pauseReason pauseTime pausedSeconds }
}"""
RESUME = "mutation($id: ID!) { resumeOperation(id: $id) { id status pauseReason pauseTime pausedSeconds } }"


def requests_of(backend: FakeBackend, method: str) -> list[Any]:
    return [request for name, request in backend.requests if name == method]


async def test_pause_and_resume_an_operation(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    op = next(iter(backend.operations.values()))
    op.status = prod.OPERATION_STATUS_IN_PROGRESS
    op_id = f"{op.work_order_id}.{op.sequence}"

    paused = data(await client.gql(PAUSE, {"id": op_id, "reason": "waiting for stones", "key": "p-1"}))[
        "pauseOperation"
    ]
    assert paused["status"] == "PAUSED" and paused["pauseReason"] == "waiting for stones"
    assert paused["pauseTime"] is not None and paused["pausedSeconds"] == 0
    [sent] = requests_of(backend, "PauseOperation")
    assert (sent.name, sent.operator_code, sent.reason, sent.request_id) == (
        f"workOrders/{op.work_order_id}/operations/{op.sequence}",
        "OP-01",
        "waiting for stones",
        "p-1",
    )
    resumed = data(await client.gql(RESUME, {"id": op_id}))["resumeOperation"]
    assert resumed == {"id": op_id, "status": "IN_PROGRESS", "pauseReason": "", "pauseTime": None, "pausedSeconds": 60}
    assert requests_of(backend, "ResumeOperation")[0].operator_code == "OP-01"


async def test_pause_errors_are_mapped(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    op = next(iter(backend.operations.values()))  # QUEUED: it cannot pause
    op_id = f"{op.work_order_id}.{op.sequence}"
    refused = error(await client.gql(PAUSE, {"id": op_id, "reason": "break"}))
    assert refused["extensions"]["code"] == "INVALID_STATE_TRANSITION"
    bad_id = error(await client.gql(PAUSE, {"id": "bad", "reason": "break"}))
    assert (bad_id["extensions"]["code"], bad_id["extensions"]["fieldViolations"][0]["field"]) == (
        "INVALID_ARGUMENT",
        "id",
    )
    foreign = error(
        await client.gql('mutation($id: ID!) { resumeOperation(id: $id, operatorCode: "OP-99") { id } }', {"id": op_id})
    )
    assert foreign["extensions"]["code"] == "FORBIDDEN"
    bad_key = error(await client.gql(PAUSE, {"id": op_id, "reason": "break", "key": " spaced "}))
    assert bad_key["extensions"]["code"] == "INVALID_ARGUMENT"
    assert len(requests_of(backend, "PauseOperation")) == 1  # only the refused one reached the service
    assert requests_of(backend, "ResumeOperation") == []


async def test_block_and_unblock_a_work_center(client: FacadeClient, backend: FakeBackend) -> None:
    fields = "id state stateReason stateTime"
    blocked = data(
        await client.gql(f'mutation {{ blockWorkCenter(id: "CAST-1", reason: "kiln down") {{ {fields} }} }}')
    )["blockWorkCenter"]
    assert (blocked["id"], blocked["state"], blocked["stateReason"]) == ("CAST-1", "BLOCKED", "kiln down")
    assert blocked["stateTime"] is not None
    [sent] = requests_of(backend, "BlockWorkCenter")
    assert (sent.name, sent.reason, sent.operator_code) == ("workCenters/CAST-1", "kiln down", "OP-01")

    shown = data(await client.gql(f'{{ workCenter(id: "CAST-1") {{ {fields} }} }}'))["workCenter"]
    assert shown == blocked
    listed = data(await client.gql("{ workCenters(first: 10) { nodes { id state stateReason } } }"))["workCenters"]
    assert {n["id"]: (n["state"], n["stateReason"]) for n in listed["nodes"]} == {
        "CAST-1": ("BLOCKED", "kiln down"),
        "FILE-1": ("IDLE", ""),
        "POL-1": ("IDLE", ""),
    }

    unblocked = data(await client.gql(f'mutation {{ unblockWorkCenter(id: "CAST-1") {{ {fields} }} }}'))
    assert unblocked["unblockWorkCenter"]["state"] == "IDLE"
    again = error(await client.gql('mutation { unblockWorkCenter(id: "CAST-1") { id } }'))
    assert again["extensions"]["code"] == "INVALID_STATE_TRANSITION"
    missing = error(await client.gql('mutation { blockWorkCenter(id: "NOWHERE", reason: "x") { id } }'))
    assert missing["extensions"]["code"] == "NOT_FOUND"
    bad_id = error(await client.gql('mutation { blockWorkCenter(id: "no/such", reason: "x") { id } }'))
    assert bad_id["extensions"]["code"] == "INVALID_ARGUMENT"


async def test_paused_operations_are_listed_in_a_work_centers_queue(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    op = next(iter(backend.operations.values()))
    op.status, op.pause_reason = prod.OPERATION_STATUS_PAUSED, "break"
    query = '{ workCenter(id: "CAST-1") { queue(first: 10, statuses: [PAUSED]) { nodes { id status pauseReason } } } }'
    nodes = data(await client.gql(query))["workCenter"]["queue"]["nodes"]
    assert nodes == [{"id": f"{op.work_order_id}.{op.sequence}", "status": "PAUSED", "pauseReason": "break"}]
    [sent] = requests_of(backend, "ListOperations")
    assert list(sent.statuses) == [prod.OPERATION_STATUS_PAUSED]


def test_a_work_centers_change_makes_the_answers_showing_its_state_stale() -> None:
    change = touched(
        events.WORK_CENTER_CHANGED,
        prod_ev.WorkCenterChangedEvent(
            work_center=prod.WorkCenter(code="CAST-1", state=prod.WORK_CENTER_STATE_BLOCKED),
            from_state=prod.WORK_CENTER_STATE_RUNNING,
        ),
    )
    assert reads("{ workCenters(first: 5) { nodes { code state } } }", {"workCenters": {"nodes": []}}) & change
    assert reads('{ workCenter(id: "CAST-1") { state } }', {"workCenter": {"state": "IDLE"}}) & change
    nested = '{ order(id: "o1") { workOrders { operations { workCenter { code state stateReason } } } } }'
    answer = {"order": {"workOrders": [{"operations": [{"workCenter": {"code": "CAST-1", "state": "IDLE"}}]}]}}
    assert "wc:CAST-1" in reads(nested, answer) & change
    reference = '{ order(id: "o1") { workOrders { operations { workCenter { code displayName } } } } }'
    answer = {"order": {"workOrders": [{"operations": [{"workCenter": {"code": "CAST-1", "displayName": "C"}}]}]}}
    assert not reads(reference, answer) & change  # its name is reference data: no event touches it
    unreadable = touches(events.WORK_CENTER_CHANGED.subject, prod_ev.WorkCenterChangedEvent().SerializeToString())
    assert unreadable is None  # no code: it touches every answer
