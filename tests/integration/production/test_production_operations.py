"""Operations through gRPC: weigh-in/out to COMPLETED and CLOSED, loss review, capacity,
idempotency, queues, work-center stats and metal-loss summaries."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from mes_contracts.events import OPERATION_EVENTS, WORK_ORDER_COMPLETED
from services.production.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.production._support import (
    OPERATOR_1,
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
    review_op,
    row_counts,
    setup_floor,
    start_op,
    style,
    upsert_style,
)

DONE = S.Value("OPERATION_STATUS_DONE")
QUEUED = S.Value("OPERATION_STATUS_QUEUED")
#: An operation's changes, under the subject of each outcome.
OPERATION_SUBJECTS = [operation.subject for operation in OPERATION_EVENTS]
REVIEW = S.Value("OPERATION_STATUS_LOSS_REVIEW")
APPROVE = pb.LOSS_REVIEW_DECISION_APPROVE


async def get_wo(stub: Any, wo: pb.WorkOrder) -> pb.WorkOrder:
    return (await stub.GetWorkOrder(pb.GetWorkOrderRequest(name=wo.name), metadata=SERVICE, timeout=T)).work_order


async def walk(stub: Any, wo: pb.WorkOrder) -> None:
    """Every step of a ring without engraving: (sequence, weigh-in, weigh-out, scrap)."""
    for seq, weigh_in, weigh_out, scrap in (
        (1, 6_000, 5_900, 50),
        (2, 5_900, 5_800, 60),
        (3, 5_800, 5_850, 0),  # stone setting adds weight: recorded as no loss
        (4, 5_850, 5_800, 0),
        (7, 5_800, 5_800, 0),  # 5 (engraving) and 6 (plating) are skipped
    ):
        started = await start_op(stub, op_name(wo, seq), weigh_in)
        assert started.status == S.Value("OPERATION_STATUS_IN_PROGRESS")
        finished = await finish_op(stub, op_name(wo, seq), weigh_out, scrap)
        assert finished.status == DONE, seq


async def test_work_order_walks_to_completed_and_closes_with_reconciled_metal(app: App, stub: Any) -> None:
    await ready(stub)
    wo1, wo2 = await create_order(stub, "ORD-1", [line(1), line(2)])
    await walk(stub, wo1)
    completed = await get_wo(stub, wo1)
    assert completed.status == W.Value("WORK_ORDER_STATUS_COMPLETED")
    assert (completed.issued_mg, completed.finished_mg, completed.loss_mg, completed.scrap_returned_mg) == (
        6_000,
        5_800,
        50 + 40 + 0 + 50 + 0,
        110,
    )
    setting = (await operations_of(stub, wo1))[2]
    assert (setting.weigh_in_mg, setting.weigh_out_mg, setting.loss_mg) == (5_800, 5_850, 0)

    await walk(stub, wo2)
    events = await outbox(app, WORK_ORDER_COMPLETED.subject)
    assert [(e.work_order.name, e.order_completed) for _, e in events] == [(wo1.name, False), (wo2.name, True)]

    closed = (
        await stub.CloseWorkOrder(pb.CloseWorkOrderRequest(name=wo1.name), metadata=SERVICE, timeout=T)
    ).work_order
    assert closed.status == W.Value("WORK_ORDER_STATUS_CLOSED")
    assert (closed.issued_mg, closed.finished_mg, closed.loss_mg, closed.scrap_returned_mg) == (6_000, 5_800, 140, 110)
    again = await fails(stub.CloseWorkOrder(pb.CloseWorkOrderRequest(name=wo1.name), metadata=SERVICE, timeout=T))
    assert again.code == grpc.StatusCode.FAILED_PRECONDITION

    changes = [e for _, e in await outbox(app, OPERATION_SUBJECTS) if e.operation.work_order_id == wo1.work_order_id]
    # queued at release, then per step: started and done, and the next one queued (4 times)
    assert len(changes) == 1 + 5 * 2 + 4
    done = [e.operation for e in changes if e.operation.status == DONE]
    assert [(o.sequence, o.loss_mg, o.alloy_code, o.order_id) for o in done] == [
        (1, 50, "AU750Y", "ORD-1"),
        (2, 40, "AU750Y", "ORD-1"),
        (3, 0, "AU750Y", "ORD-1"),
        (4, 50, "AU750Y", "ORD-1"),
        (7, 0, "AU750Y", "ORD-1"),
    ]
    assert all(e.meta.producer == "production" for e in changes)


async def test_loss_review_approve_and_rework(app: App, stub: Any) -> None:
    await ready(stub)
    (wo,) = await create_order(stub, "ORD-1", [line(1)])
    await start_op(stub, op_name(wo, 1), 10_000)
    review = await finish_op(stub, op_name(wo, 1), 9_700)  # 30 per mille > 20
    assert (review.status, review.loss_mg) == (REVIEW, 300)
    refinish = await fails(finish_op(stub, op_name(wo, 1), 9_990))
    assert (refinish.code, refinish.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    assert (await operations_of(stub, wo))[1].status == S.Value("OPERATION_STATUS_PENDING")

    not_supervisor = await fails(review_op(stub, op_name(wo, 1), APPROVE, supervisor="OP-2"))
    assert (not_supervisor.code, not_supervisor.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["supervisor_code"])
    approved = await review_op(stub, op_name(wo, 1), APPROVE, note="old flask")
    assert (approved.status, approved.reviewed_by) == (DONE, "SUP-1")
    assert (await operations_of(stub, wo))[1].status == QUEUED

    await start_op(stub, op_name(wo, 2), 9_700)
    assert (await finish_op(stub, op_name(wo, 2), 9_500)).status == REVIEW  # 200 mg > 9.7
    reworked = await review_op(stub, op_name(wo, 2), pb.LOSS_REVIEW_DECISION_REWORK)
    assert (reworked.status, reworked.attempt, reworked.weigh_in_mg) == (QUEUED, 2, 0)
    twice = await fails(review_op(stub, op_name(wo, 2), APPROVE))
    assert (twice.code, twice.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    await start_op(stub, op_name(wo, 2), 9_500)
    assert (await finish_op(stub, op_name(wo, 2), 9_480)).status == DONE

    statuses = [
        (S.Name(e.from_status), S.Name(e.operation.status), e.operation.attempt)
        for _, e in await outbox(app, OPERATION_SUBJECTS)
        if e.operation.sequence == 2
    ]
    assert statuses == [
        ("OPERATION_STATUS_PENDING", "OPERATION_STATUS_QUEUED", 1),
        ("OPERATION_STATUS_QUEUED", "OPERATION_STATUS_IN_PROGRESS", 1),
        ("OPERATION_STATUS_IN_PROGRESS", "OPERATION_STATUS_LOSS_REVIEW", 1),
        ("OPERATION_STATUS_LOSS_REVIEW", "OPERATION_STATUS_REWORK", 1),
        ("OPERATION_STATUS_REWORK", "OPERATION_STATUS_QUEUED", 2),
        ("OPERATION_STATUS_QUEUED", "OPERATION_STATUS_IN_PROGRESS", 2),
        ("OPERATION_STATUS_IN_PROGRESS", "OPERATION_STATUS_DONE", 2),
    ]

    by_code = await stub.SummarizeMetalLoss(
        pb.SummarizeMetalLossRequest(grouping=pb.LOSS_GROUPING_OPERATION_CODE), metadata=SERVICE, timeout=T
    )
    assert [(s.key, s.operations, s.weigh_in_mg, s.loss_mg, s.loss_ppm, s.reviews) for s in by_code.summaries] == [
        ("CASTING", 1, 10_000, 300, 30_000, 1),
        ("FILING", 2, 19_200, 220, 220 * 1_000_000 // 19_200, 1),
    ]
    by_operator = await stub.SummarizeMetalLoss(
        pb.SummarizeMetalLossRequest(grouping=pb.LOSS_GROUPING_OPERATOR), metadata=SERVICE, timeout=T
    )
    assert [(s.key, s.operations, s.loss_mg) for s in by_operator.summaries] == [("OP-2", 3, 520)]
    later = pb.SummarizeMetalLossRequest()
    later.since_time.GetCurrentTime()
    later.since_time.seconds += 3600
    assert list((await stub.SummarizeMetalLoss(later, metadata=SERVICE, timeout=T)).summaries) == []


async def test_tolerance_boundary_negative_loss_and_bad_operators(app: App, stub: Any) -> None:
    await ready(stub)
    (wo,) = await create_order(stub, "ORD-1", [line(1)])
    await start_op(stub, op_name(wo, 1), 10_000)
    assert (await finish_op(stub, op_name(wo, 1), 9_800)).status == DONE  # exactly 20 per mille
    await start_op(stub, op_name(wo, 2), 9_800)

    before = await row_counts(app)
    gain = await fails(finish_op(stub, op_name(wo, 2), 9_800, scrap=1))
    assert (gain.code, gain.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["weigh_out_mg"])
    unknown = await fails(finish_op(stub, op_name(wo, 2), 9_700, operator="OP-404"))
    assert (unknown.code, unknown.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["operator_code"])
    invalid = await fails(finish_op(stub, op_name(wo, 2), -1, scrap=-1, operator=""))
    assert set(invalid.fields) == {"weigh_out_mg", "scrap_returned_mg", "operator_code"}
    bad_name = await fails(finish_op(stub, f"{wo.name}/operations/0", 9_700))
    assert bad_name.fields == ["name"]
    missing = await fails(finish_op(stub, f"{wo.name}/operations/99", 9_700))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    not_started = await fails(finish_op(stub, op_name(wo, 3), 9_700))
    assert (not_started.code, not_started.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    assert await row_counts(app) == before

    # An operator's own token acts only for that operator.
    other = await fails(
        stub.FinishOperation(
            pb.FinishOperationRequest(name=op_name(wo, 2), operator_code="OP-2", weigh_out_mg=9_750),
            metadata=OPERATOR_1,
            timeout=T,
        )
    )
    assert other.code == grpc.StatusCode.PERMISSION_DENIED
    mine = await stub.FinishOperation(
        pb.FinishOperationRequest(name=op_name(wo, 2), operator_code="OP-1", weigh_out_mg=9_750),
        metadata=OPERATOR_1,
        timeout=T,
    )
    assert (mine.operation.finished_by, mine.operation.status) == ("OP-1", DONE)


async def test_capacity_and_idempotent_start_and_finish(app: App, stub: Any) -> None:
    await ready(stub, capacity=1)
    wo1, wo2 = await create_order(stub, "ORD-1", [line(1), line(2)])
    first = await start_op(stub, op_name(wo1, 1), 6_000, request_id="start-1")
    replay = await start_op(stub, op_name(wo1, 1), 6_000, request_id="start-1")
    assert replay == first
    reused = await fails(start_op(stub, op_name(wo1, 1), 6_001, request_id="start-1"))
    assert (reused.code, reused.reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")
    assert (await get_wo(stub, wo1)).status == W.Value("WORK_ORDER_STATUS_IN_PROGRESS")

    full = await fails(start_op(stub, op_name(wo2, 1), 6_000))
    assert (full.code, full.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "CAPACITY_EXCEEDED")
    assert (await operations_of(stub, wo2))[0].status == QUEUED

    done = await finish_op(stub, op_name(wo1, 1), 5_950, request_id="finish-1")
    assert await finish_op(stub, op_name(wo1, 1), 5_950, request_id="finish-1") == done
    assert (await start_op(stub, op_name(wo2, 1), 6_000)).work_center == "workCenters/CAST-1"
    starts = [
        e
        for _, e in await outbox(app, OPERATION_SUBJECTS)
        if e.operation.status == S.Value("OPERATION_STATUS_IN_PROGRESS")
    ]
    assert len(starts) == 2  # the replayed start wrote nothing


async def test_queue_order_batch_get_and_stats(stub: Any) -> None:
    await ready(stub, capacity=3)
    low = await create_order(stub, "ORD-LOW", [line(1)], priority=common_pb2.PRIORITY_LOW)
    rush = await create_order(stub, "ORD-RUSH", [line(1), line(2)], priority=common_pb2.PRIORITY_RUSH)
    normal = await create_order(stub, "ORD-NORMAL", [line(1, quantity=2)])
    queue_request = pb.ListOperationsRequest(work_center="workCenters/CAST-1", statuses=[QUEUED], page_size=2)
    page1 = await stub.ListOperations(queue_request, metadata=SERVICE, timeout=T)
    queue_request.page_token = page1.next_page_token
    page2 = await stub.ListOperations(queue_request, metadata=SERVICE, timeout=T)
    assert not page2.next_page_token
    assert [o.name for o in [*page1.operations, *page2.operations]] == [
        *sorted([op_name(rush[0], 1), op_name(rush[1], 1)]),  # same priority and create time: by name
        op_name(normal[0], 1),
        op_name(low[0], 1),
    ]
    other_filter = await fails(
        stub.ListOperations(
            pb.ListOperationsRequest(work_center="workCenters/SET-1", page_token=page1.next_page_token),
            metadata=SERVICE,
            timeout=T,
        )
    )
    assert other_filter.reason == "INVALID_PAGE_TOKEN"

    names = [op_name(low[0], 2), op_name(rush[0], 1), op_name(low[0], 2), f"{low[0].name}/operations/42"]
    batch = await stub.BatchGetOperations(
        pb.BatchGetOperationsRequest(names=names, allow_missing=True), metadata=SERVICE, timeout=T
    )
    assert [o.name for o in batch.operations] == names[:3]
    assert list(batch.missing_names) == names[3:]

    await start_op(stub, op_name(rush[0], 1), 6_000)
    await finish_op(stub, op_name(rush[0], 1), 5_990)
    await start_op(stub, op_name(rush[1], 1), 6_000)
    await finish_op(stub, op_name(rush[1], 1), 5_000)  # loss review
    await start_op(stub, op_name(normal[0], 1), 6_000)
    stats = await stub.ListWorkCenterStats(
        pb.ListWorkCenterStatsRequest(work_centers=["workCenters/CAST-1", "workCenters/BENCH-1"]),
        metadata=SERVICE,
        timeout=T,
    )
    got = [
        (s.work_center, s.queued, s.in_progress, s.in_review, s.done_in_window, s.window_minutes, s.capacity)
        for s in stats.stats
    ]
    assert got == [
        ("workCenters/CAST-1", 1, 1, 1, 1, 480, 3),
        ("workCenters/BENCH-1", 1, 0, 0, 0, 480, 3),
    ]
    cast, bench = stats.stats
    # the bench's figures: the pieces and metal in progress, and since when the longest-waiting one waits
    assert (cast.paused, cast.wip_pieces) == (0, 2)
    assert [(m.alloy_code, m.gross_mg) for m in cast.wip_metal] == [("AU750Y", 6_000)]
    assert cast.oldest_queued_time == low[0].create_time  # queued since its release
    assert bench.oldest_queued_time == (await operations_of(stub, rush[0]))[0].finish_time  # since step 1 finished
    assert (bench.wip_pieces, list(bench.wip_metal)) == (0, [])
    everything = await stub.ListWorkCenterStats(
        pb.ListWorkCenterStatsRequest(window_minutes=5), metadata=SERVICE, timeout=T
    )
    assert [s.work_center for s in everything.stats] == [
        "workCenters/BENCH-1",
        "workCenters/CAST-1",
        "workCenters/LAS-1",
        "workCenters/POL-1",
        "workCenters/SET-1",
    ]
    assert {s.window_minutes for s in everything.stats} == {5}
    unknown = await fails(
        stub.ListWorkCenterStats(
            pb.ListWorkCenterStatsRequest(work_centers=["workCenters/NOPE"]), metadata=SERVICE, timeout=T
        )
    )
    assert unknown.code == grpc.StatusCode.NOT_FOUND


async def test_concurrent_starts_respect_capacity_and_one_completion_completes_the_order(app: App, stub: Any) -> None:
    await setup_floor(stub, capacity=1)
    simple = style("SIMPLE-1", routing=[("CASTING", "CAST", 20, False)])
    await upsert_style(stub, simple)
    work_orders = await create_order(stub, "ORD-1", [line(n, "SIMPLE-1") for n in range(1, 5)])

    async def try_start(wo: pb.WorkOrder) -> bool:
        try:
            await start_op(stub, op_name(wo, 1), 6_000)
            return True
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            return False

    started = await asyncio.gather(*(try_start(wo) for wo in work_orders))
    assert sum(started) == 1

    bigger = pb.WorkCenter(code="CAST-1", work_center_type="CAST", display_name="CAST-1", capacity=10, active=True)
    await stub.UpsertWorkCenter(pb.UpsertWorkCenterRequest(work_center=bigger), metadata=SERVICE, timeout=T)
    await asyncio.gather(
        *(start_op(stub, op_name(wo, 1), 6_000) for wo, ok in zip(work_orders, started, strict=True) if not ok)
    )
    await asyncio.gather(*(finish_op(stub, op_name(wo, 1), 5_990) for wo in work_orders))
    completions = [e.order_completed for _, e in await outbox(app, WORK_ORDER_COMPLETED.subject)]
    assert sorted(completions) == [False, False, False, True]
