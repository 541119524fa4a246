"""The floor in the operators' schema (over the fake backend): the work centers' tiles (state, queue,
WIP in pieces and fine metal, output this hour and shift), the late orders, the bench fields of a
work center (``current``, ``dueTime``), the calls they cost whatever the floor's size, the cache tags
that make a cached floor stale, and the same answer on the compiled and generic paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from graphql import parse

from clients import UnavailableError
from graphql_facade.response_cache.reads import reads_of
from graphql_facade.response_cache.tags import touches
from graphql_facade.schema import build_schemas
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events
from tests._infra.graphql import data
from tests.unit.graphql_facade.conftest import FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

OPERATOR_SCHEMA = build_schemas().operator_documents.graphql
FLOOR = """query Floor { floor {
  asOf { seq at } lateOrderCount
  workCenters { id name kind state stateReason stateTime capacity version
    queue { length oldestQueuedAt } inProgress paused wip { pieces grossMg fineMg }
    finishedLastHour finishedThisShift
    output { shiftName shiftStart shiftEnd finishedThisHour targetThisHour finishedThisShift targetThisShift
      busyMinutes availableMinutes utilisation } }
  lateOrders(first: 10) { nodes { id partnerId dueTime late } pageInfo { hasNextPage endCursor } } } }"""
BENCH = """query Bench($id: ID!) { workCenter(id: $id) { id state
  current { id status startedBy startTime pauseReason pauseTime dueTime }
  queue(first: 10) { nodes { id orderId dueTime workOrder { quantity styleSku alloyCode } } } } }"""


def stamp(message: Any, field: str, at: datetime) -> None:
    getattr(message, field).FromDatetime(at)


def seed(backend: FakeBackend, now: datetime) -> dict[str, str]:
    """Two orders at CAST-1 and FILE-1: one operation in progress, one paused, three queued."""
    first = backend.add_order("partner-a")
    second = backend.add_order("partner-b")
    first.late = True
    stamp(first, "due_time", now - timedelta(days=1))
    ops = {op.name: op for op in backend.operations.values()}
    [wo1] = [wo for wo in backend.work_orders.values() if wo.order_id == first.order_id]
    [wo2] = [wo for wo in backend.work_orders.values() if wo.order_id == second.order_id]
    wo1.quantity, wo2.quantity = 3, 2
    wo2.alloy_code = "AG925"
    stamp(wo1, "create_time", now - timedelta(hours=5))
    stamp(wo2, "create_time", now - timedelta(hours=2))
    names = {}
    for wo in (wo1, wo2):
        for op in (o for o in ops.values() if o.work_order_id == wo.work_order_id):
            op.alloy_code = wo.alloy_code
            op.status = prod.OPERATION_STATUS_PENDING
            op.work_center = ""
    running = ops[f"workOrders/{wo1.work_order_id}/operations/2"]
    done = ops[f"workOrders/{wo1.work_order_id}/operations/1"]
    done.status = prod.OPERATION_STATUS_DONE
    done.work_center = "workCenters/CAST-1"
    stamp(done, "finish_time", now - timedelta(minutes=40))
    running.status, running.work_center, running.weigh_in_mg = (
        prod.OPERATION_STATUS_IN_PROGRESS,
        "workCenters/FILE-1",
        5000,
    )
    running.started_by = "OP-01"
    paused = ops[f"workOrders/{wo2.work_order_id}/operations/2"]
    paused.status, paused.work_center, paused.weigh_in_mg = prod.OPERATION_STATUS_PAUSED, "workCenters/FILE-1", 2000
    paused.pause_reason = "waiting for stones"
    stamp(paused, "pause_time", now - timedelta(minutes=3))
    queued_first = ops[f"workOrders/{wo2.work_order_id}/operations/1"]
    queued_first.status, queued_first.work_center = prod.OPERATION_STATUS_QUEUED, "workCenters/CAST-1"
    queued_next = ops[f"workOrders/{wo1.work_order_id}/operations/3"]
    queued_next.status, queued_next.work_center = prod.OPERATION_STATUS_QUEUED, "workCenters/POL-1"
    backend.work_centers["FILE-1"].state = prod.WORK_CENTER_STATE_RUNNING
    backend.work_centers["FILE-1"].display_name = "Filing bench 1"
    backend.work_centers["POL-1"].state = prod.WORK_CENTER_STATE_BLOCKED
    backend.work_centers["POL-1"].state_reason = "no polishing paste"
    stamp(backend.work_centers["POL-1"], "state_time", now - timedelta(minutes=12))
    backend.finished_minutes_ago = {"CAST-1": [40, 59, 61, 100_000], "FILE-1": [], "POL-1": [1]}
    # CAST-1 on its calendar's early shift; FILE-1 off shift; POL-1 on shift with no target
    early = prod.WorkCenterOutput(
        work_center="workCenters/CAST-1",
        shift_name="Early",
        finished_this_hour=1,
        target_this_hour=4,
        finished_this_shift=3,
        target_this_shift=10,
        busy_minutes=90.25,
        available_minutes=150.0,
        utilisation=0.60166,
    )
    stamp(early, "shift_start_time", now - timedelta(minutes=150))
    stamp(early, "shift_end_time", now + timedelta(minutes=330))
    late = prod.WorkCenterOutput(work_center="workCenters/POL-1", shift_name="Late", finished_this_shift=1)
    backend.outputs = {
        "CAST-1": early,
        "FILE-1": prod.WorkCenterOutput(work_center="workCenters/FILE-1"),
        "POL-1": late,
    }
    names.update(
        order=first.order_id,
        running=f"{wo1.work_order_id}.2",
        paused=f"{wo2.work_order_id}.2",
        queued=f"{wo2.work_order_id}.1",
    )
    return names


async def test_each_tile_shows_the_shift_of_its_own_calendar(client: FacadeClient, backend: FakeBackend) -> None:
    now = datetime.now(UTC)
    seed(backend, now)
    floor = data(await client.gql(FLOOR))["floor"]
    tiles = {tile["id"]: tile for tile in floor["workCenters"]}
    casting = tiles["CAST-1"]
    assert casting["output"] == {
        "shiftName": "Early",
        "shiftStart": (now - timedelta(minutes=150)).isoformat(),
        "shiftEnd": (now + timedelta(minutes=330)).isoformat(),
        "finishedThisHour": 1,
        "targetThisHour": 4,
        "finishedThisShift": 3,
        "targetThisShift": 10,
        "busyMinutes": 90.25,
        "availableMinutes": 150.0,
        "utilisation": 0.6017,
    }
    # "this shift" is the calendar's, not a block of the UTC day; off shift nothing is this shift's
    assert casting["finishedThisShift"] == 3
    assert tiles["FILE-1"]["output"]["shiftName"] is None and tiles["FILE-1"]["finishedThisShift"] == 0
    assert (tiles["POL-1"]["output"]["shiftName"], tiles["POL-1"]["output"]["targetThisShift"]) == ("Late", 0)
    assert tiles["POL-1"]["finishedThisShift"] == 1
    # one ListWorkCenterOutput for every tile; ListWorkCenterStats only for the last hour
    assert backend.count()["ListWorkCenterOutput"] == 1
    assert [request.window_minutes for name, request in backend.requests if name == "ListWorkCenterStats"] == [60]


async def test_the_floor_shows_every_work_center_tile(client: FacadeClient, backend: FakeBackend) -> None:
    now = datetime.now(UTC)
    seeded = seed(backend, now)
    floor = data(await client.gql(FLOOR))["floor"]
    tiles = {tile["id"]: tile for tile in floor["workCenters"]}
    assert list(tiles) == ["CAST-1", "FILE-1", "POL-1"]
    filing = tiles["FILE-1"]
    assert filing["name"] == "Filing bench 1" and filing["kind"] == "FILE" and filing["state"] == "RUNNING"
    assert (filing["inProgress"], filing["paused"], filing["capacity"]) == (1, 1, 4)
    # 3 + 2 pieces; 5000 mg of AU750Y (750) and 2000 mg of AG925 (925)
    assert filing["wip"] == {"pieces": 5, "grossMg": 7000, "fineMg": 5000 * 750 // 1000 + 2000 * 925 // 1000}
    assert filing["queue"] == {"length": 0, "oldestQueuedAt": None}
    casting = tiles["CAST-1"]
    # queued since its work order's release (the first step)
    assert casting["queue"]["length"] == 1
    released = datetime.fromisoformat(casting["queue"]["oldestQueuedAt"])
    assert abs(released - (now - timedelta(hours=2))) < timedelta(seconds=1)
    assert casting["wip"] == {"pieces": 0, "grossMg": 0, "fineMg": 0}
    assert casting["finishedLastHour"] == 2
    polishing = tiles["POL-1"]
    assert (polishing["state"], polishing["stateReason"]) == ("BLOCKED", "no polishing paste")
    # queued since the previous step finished (40 minutes ago), not since the release
    queued = datetime.fromisoformat(polishing["queue"]["oldestQueuedAt"])
    assert abs(queued - (now - timedelta(minutes=40))) < timedelta(seconds=1)
    assert polishing["finishedLastHour"] == 1
    assert floor["lateOrderCount"] == 1
    assert [node["id"] for node in floor["lateOrders"]["nodes"]] == [seeded["order"]]


async def test_the_floor_costs_the_same_calls_whatever_its_size(client: FacadeClient, backend: FakeBackend) -> None:
    seed(backend, datetime.now(UTC))
    data(await client.gql(FLOOR))
    small = backend.count()
    for n in range(2, 40):
        code = f"BENCH-{n:02d}"
        backend.work_centers[code] = prod.WorkCenter(
            name=f"workCenters/{code}", code=code, work_center_type="FILE", capacity=2, active=True
        )
    for _ in range(5):
        backend.add_order("partner-a")
    for op in backend.operations.values():
        if op.status == prod.OPERATION_STATUS_QUEUED:
            op.work_center = f"workCenters/BENCH-{int(op.work_order_id[2:]) % 38 + 2:02d}"
    backend.reset_calls()
    body = data(await client.gql(FLOOR.replace("query Floor", "query FloorAgain")))  # not the cached answer
    assert len(body["floor"]["workCenters"]) == 41
    small.pop("BatchGetAlloys")  # kept by the reference cache since the first answer
    assert backend.count() == small


async def test_a_work_center_bench(client: FacadeClient, backend: FakeBackend) -> None:
    now = datetime.now(UTC)
    seeded = seed(backend, now)
    order = backend.stored_orders[seeded["order"]]
    bench = data(await client.gql(BENCH, {"id": "FILE-1"}))["workCenter"]
    current = {op["id"]: op for op in bench["current"]}
    assert set(current) == {seeded["running"], seeded["paused"]}
    assert current[seeded["running"]]["startedBy"] == "OP-01"
    assert current[seeded["running"]]["dueTime"] == order.due_time.ToDatetime(tzinfo=UTC).isoformat()
    assert current[seeded["paused"]]["pauseReason"] == "waiting for stones"
    assert current[seeded["paused"]]["status"] == "PAUSED" and current[seeded["paused"]]["dueTime"] is None
    queue = data(await client.gql(BENCH, {"id": "CAST-1"}))["workCenter"]["queue"]["nodes"]
    assert [(op["id"], op["workOrder"]["quantity"], op["workOrder"]["alloyCode"]) for op in queue] == [
        (seeded["queued"], 2, "AG925")
    ]


def test_an_operation_or_work_center_event_makes_a_cached_floor_stale() -> None:
    answer = {"floor": {"asOf": {"seq": 1}, "workCenters": [{"id": "CAST-1"}], "lateOrders": {"nodes": [{"id": "o1"}]}}}
    document = parse("{ floor { asOf { seq } workCenters { id } lateOrders(first: 10) { nodes { id } } } }")
    reads = reads_of(OPERATOR_SCHEMA, document, None, None, None, answer)
    assert reads == {"wc:*", "o:*:*", "order:o1"}
    started = prod_ev.OperationChangedEvent(
        operation=prod.Operation(
            order_id="o9", work_center="workCenters/FILE-1", status=prod.OPERATION_STATUS_IN_PROGRESS
        )
    )
    blocked = prod_ev.WorkCenterChangedEvent(work_center=prod.WorkCenter(code="POL-1"))
    shipped = ords.ORDER_STATUS_SHIPPED
    status = events.ORDER_STATUS_CHANGED.message(order_id="o2", partner_id="p", from_status=4, to_status=shipped)
    for subject, message in (
        (events.OPERATION_STARTED.subject, started),
        (events.WORK_CENTER_CHANGED.subject, blocked),
        (events.ORDER_STATUS_CHANGED.subject, status),
    ):
        touched = touches(subject, message.SerializeToString())
        assert touched is not None and touched & reads, subject
    style = events.STYLE_UPSERTED.message()
    style.style.sku = "RNG-1"
    assert not (touches(events.STYLE_UPSERTED.subject, style.SerializeToString()) or set()) & reads


def test_a_bench_answer_reads_its_work_center() -> None:
    document = parse('{ workCenter(id: "FILE-1") { current { id dueTime } } }')
    answer = {"workCenter": {"current": [{"id": "wo1.1", "dueTime": None}]}}
    assert reads_of(OPERATOR_SCHEMA, document, None, None, None, answer) == {"wc:FILE-1", "wc:?"}


@pytest.mark.parametrize("document", [FLOOR, BENCH])
async def test_compiled_and_generic_answers_agree(backend: FakeBackend, document: str) -> None:
    seed(backend, datetime.now(UTC))
    variables = {"id": "FILE-1"} if "$id" in document else None
    off = {"MES_FACADE_CACHE": "0"}
    async with running_app(backend, facade_settings(**off)) as fast:
        compiled = data(await fast.gql(document, variables))
    async with running_app(backend, facade_settings(MES_FACADE_COMPILED="0", **off)) as slow:
        generic = data(await slow.gql(document, variables))
    if "floor" in compiled:
        compiled["floor"].pop("asOf"), generic["floor"].pop("asOf")
    assert compiled == generic


async def test_orders_out_of_reach_leave_the_tiles(client: FacadeClient, backend: FakeBackend) -> None:
    seed(backend, datetime.now(UTC))
    for method in ("CountOrders", "ListOrders"):
        backend.fail[method] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    body = (await client.gql(FLOOR)).json()
    floor = body["data"]["floor"]
    assert floor["lateOrderCount"] is None and floor["lateOrders"] is None
    assert len(floor["workCenters"]) == 3
    failed = sorted((tuple(e["path"]), e["extensions"]["code"]) for e in body["errors"])
    assert failed == [(("floor", "lateOrderCount"), "UNAVAILABLE"), (("floor", "lateOrders"), "UNAVAILABLE")]
