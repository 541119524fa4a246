"""Pauses and work-center states through gRPC, on SQLite and PostgreSQL: PauseOperation and
ResumeOperation (reasons, paused time, idempotency, finishing refused while paused),
BlockWorkCenter and UnblockWorkCenter, the state every work-center read answers, and the
events each change writes to the outbox in its transaction."""

from __future__ import annotations

from typing import Any

import grpc

from mes.production.v1 import production_pb2 as pb
from mes_contracts.events import OPERATION_PAUSED, OPERATION_RESUMED, WORK_CENTER_CHANGED
from services.production.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.production._support import (
    OPERATOR_1,
    SERVICE,
    S,
    T,
    create_order,
    finish_op,
    line,
    op_name,
    outbox,
    ready,
    row_counts,
    start_op,
)

IN_PROGRESS = S.Value("OPERATION_STATUS_IN_PROGRESS")
PAUSED = S.Value("OPERATION_STATUS_PAUSED")
DONE = S.Value("OPERATION_STATUS_DONE")
RUNNING, IDLE, BLOCKED = pb.WORK_CENTER_STATE_RUNNING, pb.WORK_CENTER_STATE_IDLE, pb.WORK_CENTER_STATE_BLOCKED
CAST = "workCenters/CAST-1"


async def pause(
    stub: Any, name: str, reason: str = "break", operator: str = "OP-2", request_id: str = "", metadata: Any = SERVICE
) -> pb.Operation:
    request = pb.PauseOperationRequest(name=name, operator_code=operator, reason=reason, request_id=request_id)
    return (await stub.PauseOperation(request, metadata=metadata, timeout=T)).operation


async def resume(stub: Any, name: str, operator: str = "OP-2", request_id: str = "") -> pb.Operation:
    request = pb.ResumeOperationRequest(name=name, operator_code=operator, request_id=request_id)
    return (await stub.ResumeOperation(request, metadata=SERVICE, timeout=T)).operation


async def get_center(stub: Any, name: str = CAST) -> pb.WorkCenter:
    return (await stub.GetWorkCenter(pb.GetWorkCenterRequest(name=name), metadata=SERVICE, timeout=T)).work_center


async def block(stub: Any, reason: str, name: str = CAST, operator: str = "") -> pb.WorkCenter:
    request = pb.BlockWorkCenterRequest(name=name, reason=reason, operator_code=operator)
    return (await stub.BlockWorkCenter(request, metadata=SERVICE, timeout=T)).work_center


async def unblock(stub: Any, name: str = CAST) -> pb.WorkCenter:
    request = pb.UnblockWorkCenterRequest(name=name)
    return (await stub.UnblockWorkCenter(request, metadata=SERVICE, timeout=T)).work_center


async def center_changes(app: App, code: str = "CAST-1") -> list[tuple[int, int, str]]:
    """(from state, state, reason) of the work center's outbox events, oldest first."""
    events = await outbox(app, WORK_CENTER_CHANGED.subject)
    return [
        (e.from_state, e.work_center.state, e.work_center.state_reason) for _, e in events if e.work_center.code == code
    ]


async def test_pause_resume_finish_with_the_paused_time_and_their_events(app: App, stub: Any) -> None:
    await ready(stub)
    (wo,) = await create_order(stub, "ORD-1", [line(1)])
    name = op_name(wo, 1)
    await start_op(stub, name, 6_000)
    assert (await get_center(stub)).state == RUNNING

    paused = await pause(stub, name, "  waiting for stones ")
    assert (paused.status, paused.pause_reason, paused.HasField("pause_time")) == (PAUSED, "waiting for stones", True)
    assert (await get_center(stub)).state == IDLE  # paused work does not run
    listed = await stub.ListOperations(
        pb.ListOperationsRequest(work_center=CAST, statuses=[PAUSED]), metadata=SERVICE, timeout=T
    )
    assert [op.name for op in listed.operations] == [name]
    got = (await stub.GetOperation(pb.GetOperationRequest(name=name), metadata=SERVICE, timeout=T)).operation
    assert (got.status, got.pause_reason, got.pause_time) == (PAUSED, "waiting for stones", paused.pause_time)
    stats = await stub.ListWorkCenterStats(
        pb.ListWorkCenterStatsRequest(work_centers=[CAST]), metadata=SERVICE, timeout=T
    )
    figures = stats.stats[0]
    assert (figures.in_progress, figures.paused) == (1, 1)  # it keeps its place at the bench, paused
    assert [(m.alloy_code, m.gross_mg) for m in figures.wip_metal] == [("AU750Y", 6_000)]

    finishing = await fails(finish_op(stub, name, 5_900))
    assert (finishing.code, finishing.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    assert "resume it first" in finishing.message

    resumed = await resume(stub, name)
    assert (resumed.status, resumed.pause_reason, resumed.HasField("pause_time")) == (IN_PROGRESS, "", False)
    assert resumed.paused_seconds >= 0
    assert (await finish_op(stub, name, 5_950)).status == DONE

    paused_events = await outbox(app, [OPERATION_PAUSED.subject, OPERATION_RESUMED.subject])
    assert [(subject, S.Name(e.from_status), S.Name(e.operation.status)) for subject, e in paused_events] == [
        (OPERATION_PAUSED.subject, "OPERATION_STATUS_IN_PROGRESS", "OPERATION_STATUS_PAUSED"),
        (OPERATION_RESUMED.subject, "OPERATION_STATUS_PAUSED", "OPERATION_STATUS_IN_PROGRESS"),
    ]
    assert paused_events[0][1].operation.pause_reason == "waiting for stones"
    assert await center_changes(app) == [
        (IDLE, RUNNING, ""),
        (RUNNING, IDLE, ""),
        (IDLE, RUNNING, ""),
        (RUNNING, IDLE, ""),
    ]


async def test_bad_pauses_are_refused_and_write_nothing(app: App, stub: Any) -> None:
    await ready(stub)
    (wo,) = await create_order(stub, "ORD-1", [line(1)])
    name = op_name(wo, 1)
    before = await row_counts(app)
    queued = await fails(pause(stub, name))
    assert (queued.code, queued.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    await start_op(stub, name, 6_000)
    before = await row_counts(app)
    no_reason = await fails(pause(stub, name, "   "))
    assert (no_reason.code, no_reason.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["reason"])
    too_long = await fails(pause(stub, name, "r" * 201))
    assert too_long.fields == ["reason"]
    unknown = await fails(pause(stub, name, operator="OP-404"))
    assert (unknown.code, unknown.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["operator_code"])
    bad_name = await fails(pause(stub, f"{wo.name}/operations/0"))
    assert bad_name.fields == ["name"]
    missing = await fails(pause(stub, f"{wo.name}/operations/99"))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    someone_else = await fails(pause(stub, name, operator="OP-2", metadata=OPERATOR_1))
    assert someone_else.code == grpc.StatusCode.PERMISSION_DENIED
    not_paused = await fails(resume(stub, name))
    assert not_paused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert await row_counts(app) == before
    own = await pause(stub, name, operator="OP-1", metadata=OPERATOR_1)  # an operator's own token, own code
    assert own.status == PAUSED


async def test_pause_and_resume_are_idempotent_by_request_id(app: App, stub: Any) -> None:
    await ready(stub)
    (wo,) = await create_order(stub, "ORD-1", [line(1)])
    name = op_name(wo, 1)
    await start_op(stub, name, 6_000)
    first = await pause(stub, name, request_id="pause-1")
    again = await pause(stub, name, request_id="pause-1")
    assert (again.status, again.version, again.pause_time) == (PAUSED, first.version, first.pause_time)
    other = await fails(pause(stub, name, request_id="pause-2"))
    assert other.code == grpc.StatusCode.FAILED_PRECONDITION  # already paused
    reused = await fails(pause(stub, name, "another reason", request_id="pause-1"))
    assert (reused.code, reused.reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")
    resumed = await resume(stub, name, request_id="resume-1")
    assert (await resume(stub, name, request_id="resume-1")).version == resumed.version
    assert len(await outbox(app, OPERATION_PAUSED.subject)) == 1
    assert len(await outbox(app, OPERATION_RESUMED.subject)) == 1


async def test_block_and_unblock_a_work_center(app: App, stub: Any) -> None:
    await ready(stub)
    a, b = await create_order(stub, "ORD-1", [line(1), line(2)])
    await start_op(stub, op_name(a, 1), 6_000)
    running = await get_center(stub)
    assert (running.state, running.state_reason) == (RUNNING, "")

    blocked = await block(stub, " kiln down ", operator="SUP-1")
    assert (blocked.state, blocked.state_reason, blocked.version) == (BLOCKED, "kiln down", running.version + 1)
    assert blocked.state_time.ToDatetime() >= running.state_time.ToDatetime()
    refused = await fails(start_op(stub, op_name(b, 1), 6_000))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "WORK_CENTER_BLOCKED")
    assert refused.metadata["work_center"] == "CAST-1"

    reason_changed = await block(stub, "no gas")
    assert (reason_changed.state_reason, reason_changed.state_time) == ("no gas", blocked.state_time)
    listed = await stub.ListWorkCenters(pb.ListWorkCentersRequest(page_size=2), metadata=SERVICE, timeout=T)
    rest = await stub.ListWorkCenters(
        pb.ListWorkCentersRequest(page_size=100, page_token=listed.next_page_token), metadata=SERVICE, timeout=T
    )
    states = {c.code: (c.state, c.state_reason) for c in [*listed.work_centers, *rest.work_centers]}
    assert states["CAST-1"] == (BLOCKED, "no gas") and states["BENCH-1"] == (IDLE, "")

    await finish_op(stub, op_name(a, 1), 5_950)  # work in progress goes on; the center stays blocked
    assert (await get_center(stub)).state == BLOCKED
    unblocked = await unblock(stub)
    assert (unblocked.state, unblocked.state_reason) == (IDLE, "")
    assert (await start_op(stub, op_name(b, 1), 6_000)).status == IN_PROGRESS
    assert await center_changes(app) == [
        (IDLE, RUNNING, ""),
        (RUNNING, BLOCKED, "kiln down"),
        (BLOCKED, BLOCKED, "no gas"),
        (BLOCKED, IDLE, ""),
        (IDLE, RUNNING, ""),
    ]


async def test_bad_blocks_are_refused_and_write_nothing(app: App, stub: Any) -> None:
    await ready(stub)
    before = await row_counts(app)
    no_reason = await fails(block(stub, ""))
    assert (no_reason.code, no_reason.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["reason"])
    bad_name = await fails(block(stub, "kiln down", name="CAST-1"))
    assert bad_name.fields == ["name"]
    missing = await fails(block(stub, "kiln down", name="workCenters/NOWHERE"))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    inactive = await fails(block(stub, "kiln down", operator="OP-404"))
    assert inactive.fields == ["operator_code"]
    not_blocked = await fails(unblock(stub))
    assert (not_blocked.code, not_blocked.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    assert await row_counts(app) == before
    assert (await get_center(stub)).state == IDLE
