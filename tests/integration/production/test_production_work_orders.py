"""Work orders through gRPC: creation, routing snapshots, assignment, reads, hold, cancel."""

from __future__ import annotations

from typing import Any

import grpc

from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from mes_contracts.events import OPERATION_QUEUED, WORK_ORDERS_CANCELLED, WORK_ORDERS_RELEASED
from services.production.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.production._support import (
    METAL,
    SERVICE,
    S,
    T,
    W,
    create_order,
    finish_op,
    line,
    op_name,
    operations_of,
    outbox,
    ready,
    row_counts,
    setup_floor,
    start_op,
    style,
    upsert_style,
)


async def test_create_is_idempotent_per_order_and_snapshots_the_routing(app: App, stub: Any) -> None:
    await ready(stub)
    lines = [line(1, engraving="For ever"), line(2, quantity=3)]
    first = await create_order(stub, "ORD-1", lines, priority=common_pb2.PRIORITY_HIGH)
    again = await create_order(stub, "ORD-1", lines)
    assert [w.name for w in again] == [w.name for w in first]
    assert [(w.line_number, w.status, w.routing_version, w.priority) for w in first] == [
        (1, W.Value("WORK_ORDER_STATUS_RELEASED"), 1, common_pb2.PRIORITY_HIGH),
        (2, W.Value("WORK_ORDER_STATUS_RELEASED"), 1, common_pb2.PRIORITY_HIGH),
    ]
    assert [s.operation_code for s in first[0].routing_snapshot][:3] == ["CASTING", "FILING", "STONE_SETTING"]

    released = await outbox(app, WORK_ORDERS_RELEASED.subject)
    assert len(released) == 1
    assert [w.name for w in released[0][1].work_orders] == [w.name for w in first]

    engraved, plain = await operations_of(stub, first[0]), await operations_of(stub, first[1])
    assert [S.Name(o.status) for o in engraved] == [
        "OPERATION_STATUS_QUEUED",
        *["OPERATION_STATUS_PENDING"] * 4,  # filing, setting, polishing, engraving (asked for)
        "OPERATION_STATUS_SKIPPED",  # optional plating
        "OPERATION_STATUS_PENDING",
    ]
    assert [S.Name(o.status) for o in plain][4:6] == ["OPERATION_STATUS_SKIPPED", "OPERATION_STATUS_SKIPPED"]
    assert engraved[0].work_center == "workCenters/CAST-1"
    assert engraved[6].work_center == ""  # no QC work center exists: unassigned, still typed
    assert engraved[6].work_center_type == "QC"

    # A new routing version changes new work orders only.
    changed = style(routing=[("CASTING", "CAST", 20, False), ("PACKING", "QC", 0, False)])
    await upsert_style(stub, changed)
    reread = await stub.GetWorkOrder(pb.GetWorkOrderRequest(name=first[0].name), metadata=SERVICE, timeout=T)
    assert reread.work_order.routing_version == 1
    assert list(reread.work_order.routing_snapshot) == list(first[0].routing_snapshot)
    assert len(await operations_of(stub, first[0])) == 7
    newer = await create_order(stub, "ORD-2", [line(1)])
    assert newer[0].routing_version == 2 and len(newer[0].routing_snapshot) == 2

    # The operation queued at creation was announced too.
    changed_events = await outbox(app, OPERATION_QUEUED.subject)
    assert {e.operation.name for _, e in changed_events} == {
        op_name(first[0], 1),
        op_name(first[1], 1),
        op_name(newer[0], 1),
    }


async def test_unknown_style_and_invalid_lines_write_nothing(app: App, stub: Any) -> None:
    await upsert_style(stub)
    before = await row_counts(app)
    unknown = await fails(
        stub.CreateWorkOrders(
            pb.CreateWorkOrdersRequest(order_id="ORD-1", lines=[line(1), line(2, "GHOST")]), metadata=SERVICE, timeout=T
        )
    )
    assert (unknown.code, unknown.reason, unknown.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UNKNOWN_STYLE",
        ["lines[1].style_code"],
    )
    invalid = await fails(
        stub.CreateWorkOrders(
            pb.CreateWorkOrdersRequest(order_id="bad id!", priority=9, lines=[line(1, quantity=10_001)]),  # type: ignore[arg-type]
            metadata=SERVICE,
            timeout=T,
        )
    )
    assert set(invalid.fields) == {"order_id", "priority", "lines[0].quantity"}
    no_lines = await fails(
        stub.CreateWorkOrders(pb.CreateWorkOrdersRequest(order_id="ORD-1"), metadata=SERVICE, timeout=T)
    )
    assert no_lines.fields == ["lines"]
    assert await row_counts(app) == before


async def test_operations_go_to_the_least_loaded_center_and_orphans_are_adopted(stub: Any) -> None:
    await setup_floor(stub)
    second = pb.WorkCenter(code="CAST-2", work_center_type="CAST", display_name="Caster 2", capacity=4, active=True)
    await stub.UpsertWorkCenter(pb.UpsertWorkCenterRequest(work_center=second), metadata=SERVICE, timeout=T)
    await upsert_style(stub)
    work_orders = await create_order(stub, "ORD-1", [line(n) for n in range(1, 7)])
    casting = [(await operations_of(stub, w))[0].work_center for w in work_orders]
    # Load relative to capacity: CAST-1 (capacity 2) gets 2, CAST-2 (capacity 4) gets 4.
    assert sorted(casting) == ["workCenters/CAST-1"] * 2 + ["workCenters/CAST-2"] * 4

    qc = pb.WorkCenter(code="QC-1", work_center_type="QC", display_name="QC", capacity=1, active=True)
    await stub.UpsertWorkCenter(pb.UpsertWorkCenterRequest(work_center=qc), metadata=SERVICE, timeout=T)
    assert {(await operations_of(stub, w))[6].work_center for w in work_orders} == {"workCenters/QC-1"}


async def test_read_work_orders_by_batch_and_pages(stub: Any) -> None:
    await upsert_style(stub)
    first = await create_order(stub, "ORD-1", [line(1), line(2), line(3)])
    other = await create_order(stub, "ORD-2", [line(1)])

    names = [first[2].name, other[0].name, first[2].name, "workOrders/wo-missing"]
    batch = await stub.BatchGetWorkOrders(
        pb.BatchGetWorkOrdersRequest(names=names, allow_missing=True), metadata=SERVICE, timeout=T
    )
    assert [w.name for w in batch.work_orders] == names[:3]
    assert list(batch.missing_names) == ["workOrders/wo-missing"]
    strict = await fails(
        stub.BatchGetWorkOrders(pb.BatchGetWorkOrdersRequest(names=names), metadata=SERVICE, timeout=T)
    )
    assert strict.code == grpc.StatusCode.NOT_FOUND
    malformed = await fails(
        stub.BatchGetWorkOrders(pb.BatchGetWorkOrdersRequest(names=["x/1", "workOrders/"]), metadata=SERVICE, timeout=T)
    )
    assert malformed.fields == ["names[0]", "names[1]"]

    request = pb.ListWorkOrdersRequest(page_size=2, order_ids=["ORD-1"])
    page1 = await stub.ListWorkOrders(request, metadata=SERVICE, timeout=T)
    request.page_token = page1.next_page_token
    page2 = await stub.ListWorkOrders(request, metadata=SERVICE, timeout=T)
    assert [w.name for w in [*page1.work_orders, *page2.work_orders]] == [w.name for w in first]
    assert not page2.next_page_token
    reused = await fails(
        stub.ListWorkOrders(
            pb.ListWorkOrdersRequest(page_size=2, page_token=page1.next_page_token), metadata=SERVICE, timeout=T
        )
    )
    assert reused.reason == "INVALID_PAGE_TOKEN"

    everything = await stub.ListWorkOrders(pb.ListWorkOrdersRequest(), metadata=SERVICE, timeout=T)
    assert len(everything.work_orders) == 4
    none_done = await stub.ListWorkOrders(
        pb.ListWorkOrdersRequest(statuses=[W.Value("WORK_ORDER_STATUS_COMPLETED")]), metadata=SERVICE, timeout=T
    )
    assert list(none_done.work_orders) == []


async def test_hold_blocks_operations_until_resumed(stub: Any) -> None:
    await ready(stub)
    (wo,) = await create_order(stub, "ORD-1", [line(1)])
    not_started = await fails(stub.HoldWorkOrder(pb.HoldWorkOrderRequest(name=wo.name), metadata=SERVICE, timeout=T))
    assert (not_started.code, not_started.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")

    await start_op(stub, op_name(wo, 1), 6_000)
    await finish_op(stub, op_name(wo, 1), 5_950)
    held = await stub.HoldWorkOrder(
        pb.HoldWorkOrderRequest(name=wo.name, reason="scale check"), metadata=SERVICE, timeout=T
    )
    assert held.work_order.status == W.Value("WORK_ORDER_STATUS_HELD")
    blocked = await fails(start_op(stub, op_name(wo, 2), 5_950))
    assert (blocked.code, blocked.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")

    resumed = await stub.ResumeWorkOrder(pb.ResumeWorkOrderRequest(name=wo.name), metadata=SERVICE, timeout=T)
    assert resumed.work_order.status == W.Value("WORK_ORDER_STATUS_IN_PROGRESS")
    assert resumed.work_order.version == held.work_order.version + 1
    assert (await start_op(stub, op_name(wo, 2), 5_950)).status == S.Value("OPERATION_STATUS_IN_PROGRESS")
    missing = await fails(
        stub.ResumeWorkOrder(pb.ResumeWorkOrderRequest(name="workOrders/nope"), metadata=SERVICE, timeout=T)
    )
    assert missing.code == grpc.StatusCode.NOT_FOUND


async def test_cancel_returns_the_last_known_metal_per_alloy(app: App, stub: Any) -> None:
    await ready(stub)
    wo1, wo2, wo3, wo4 = await create_order(
        stub,
        "ORD-1",
        [line(1, alloy="AU750Y"), line(2, alloy="AU750Y"), line(3, alloy="AG925"), line(4, alloy="AG925")],
    )
    await start_op(stub, op_name(wo1, 1), 6_000)
    await finish_op(stub, op_name(wo1, 1), 5_900, scrap=50)  # last weigh-out: 5 900
    await start_op(stub, op_name(wo2, 1), 6_100)  # in progress: its weigh-in, 6 100
    await start_op(stub, op_name(wo3, 1), 3_000)
    await finish_op(stub, op_name(wo3, 1), 2_990)
    await start_op(stub, op_name(wo3, 2), 2_990)  # in progress after a weigh-out: 2 990
    # wo4 never started: 0

    reply = await stub.CancelWorkOrders(
        pb.CancelWorkOrdersRequest(order_id="ORD-1", reason="customer cancelled"), metadata=SERVICE, timeout=T
    )
    assert {w.status for w in reply.work_orders} == {W.Value("WORK_ORDER_STATUS_CANCELLED")}
    cancelled = await outbox(app, WORK_ORDERS_CANCELLED.subject)
    assert len(cancelled) == 1
    event = cancelled[0][1]
    assert event.order_id == "ORD-1" and len(event.work_orders) == 4
    assert [(r.material_code, r.kind, r.weight_mg) for r in event.returned] == [
        ("AG925", METAL, 2_990),
        ("AU750Y", METAL, 5_900 + 6_100),
    ]
    for wo in (wo1, wo2, wo3, wo4):
        statuses = {S.Name(o.status) for o in await operations_of(stub, wo)}
        assert statuses <= {"OPERATION_STATUS_CANCELLED", "OPERATION_STATUS_DONE", "OPERATION_STATUS_SKIPPED"}

    again = await stub.CancelWorkOrders(pb.CancelWorkOrdersRequest(order_id="ORD-1"), metadata=SERVICE, timeout=T)
    assert [w.version for w in again.work_orders] == [w.version for w in reply.work_orders]
    assert len(await outbox(app, WORK_ORDERS_CANCELLED.subject)) == 1
    too_late = await fails(start_op(stub, op_name(wo4, 1), 1_000))
    assert too_late.code == grpc.StatusCode.FAILED_PRECONDITION

    # A cancelled order gets no new work orders; one never created leaves a tombstone.
    await stub.CancelWorkOrders(pb.CancelWorkOrdersRequest(order_id="ORD-2"), metadata=SERVICE, timeout=T)
    refused = await fails(
        stub.CreateWorkOrders(
            pb.CreateWorkOrdersRequest(order_id="ORD-2", lines=[line(1)]), metadata=SERVICE, timeout=T
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
