"""Pausing and resuming an operation: IN_PROGRESS <-> PAUSED with a reason, the paused time
summed, finishing refused while paused; on the domain object and through the use cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mes_kernel.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied, ResourceExhausted
from services.production.domain.bom import MaterialRequirement
from services.production.domain.events import OperationChanged, WorkOrdersCancelled
from services.production.domain.operations import OperationStatus, last_known_weight
from services.production.domain.styles import MaterialKind
from services.production.domain.work_orders import WorkOrderStatus
from services.production.service_layer.commands import HoldWorkOrder, OrderCancelled
from tests.unit.production._factories import NOW, line, operation
from tests.unit.production._floor import OPERATOR_1, PARTNER, STAFF, Floor

S = OperationStatus


# -- the domain object ------------------------------------------------------------------


def test_pause_and_resume_sum_the_ended_pauses() -> None:
    op = operation()
    op.status = S.QUEUED
    op.start("OP-1", 5_000, NOW)
    assert op.pause("OP-1", "  waiting for stones  ", NOW + timedelta(minutes=5)) is S.IN_PROGRESS
    assert (op.status, op.pause_reason, op.pause_time, op.paused_by) == (
        S.PAUSED,
        "waiting for stones",
        NOW + timedelta(minutes=5),
        "OP-1",
    )
    assert op.paused_seconds == 0  # the current pause has not ended
    assert op.resume("OP-2", NOW + timedelta(minutes=7, seconds=30)) is S.PAUSED
    assert (op.status, op.pause_reason, op.pause_time, op.resumed_by) == (S.IN_PROGRESS, "", None, "OP-2")
    assert op.paused_seconds == 150
    op.pause("OP-1", "break", NOW + timedelta(minutes=10))
    op.resume("OP-1", NOW + timedelta(minutes=11))
    assert op.paused_seconds == 210
    assert op.start_time == NOW and op.weigh_in_mg == 5_000  # the weigh-in is untouched


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "tab\nnewline"])
def test_a_pause_needs_a_reason_of_at_most_200_characters(reason: str) -> None:
    op = operation()
    op.status = S.IN_PROGRESS
    with pytest.raises(InvalidArgument) as err:
        op.pause("OP-1", reason, NOW)
    assert [v.field for v in err.value.violations] == ["reason"]
    assert op.status is S.IN_PROGRESS


def test_a_reason_of_200_characters_after_trimming_is_kept() -> None:
    op = operation()
    op.status = S.IN_PROGRESS
    op.pause("OP-1", f"  {'r' * 200}  ", NOW)
    assert op.pause_reason == "r" * 200


@pytest.mark.parametrize("status", [S.PENDING, S.QUEUED, S.PAUSED, S.LOSS_REVIEW, S.DONE, S.CANCELLED])
def test_only_an_operation_in_progress_pauses(status: OperationStatus) -> None:
    op = operation()
    op.status = status
    with pytest.raises(FailedPrecondition):
        op.pause("OP-1", "break", NOW)
    assert op.status is status


@pytest.mark.parametrize("status", [S.QUEUED, S.IN_PROGRESS, S.DONE])
def test_only_a_paused_operation_resumes(status: OperationStatus) -> None:
    op = operation()
    op.status = status
    with pytest.raises(FailedPrecondition):
        op.resume("OP-1", NOW)


def test_a_paused_operation_is_not_finished_before_it_is_resumed() -> None:
    op = operation()
    op.status = S.IN_PROGRESS
    op.weigh_in_mg = 5_000
    op.pause("OP-1", "break", NOW)
    with pytest.raises(FailedPrecondition, match="resume it first"):
        op.finish("OP-1", 4_990, 0, NOW)
    assert op.status is S.PAUSED


def test_cancelling_a_paused_operation_ends_its_pause_and_its_metal_is_still_held() -> None:
    op = operation()
    op.status = S.IN_PROGRESS
    op.weigh_in_mg = 5_000
    op.pause("OP-1", "break", NOW)
    assert last_known_weight([op], []) == 5_000  # a paused operation holds its weigh-in
    assert op.cancel(NOW + timedelta(seconds=40)) is S.PAUSED
    assert (op.status, op.pause_reason, op.pause_time, op.paused_seconds) == (S.CANCELLED, "", None, 40)


def test_a_new_attempt_starts_without_pauses() -> None:
    op = operation()
    op.status = S.IN_PROGRESS
    op.pause("OP-1", "break", NOW)
    op.resume("OP-1", NOW + timedelta(seconds=30))
    op.status = S.REWORK
    op.queue(NOW)
    assert (op.attempt, op.paused_seconds, op.paused_by, op.resumed_by) == (2, 0, "", "")


# -- the use cases ----------------------------------------------------------------------


async def test_pause_and_resume_through_the_use_cases(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000, "OP-1", by=OPERATOR_1)
    floor.clock.tick(3)
    paused = await floor.pause(wo.id, 1, " waiting for stones ", "OP-1", by=OPERATOR_1)
    assert (paused.status, paused.pause_reason, paused.pause_time) == (S.PAUSED, "waiting for stones", floor.clock.now)
    floor.clock.tick(2)
    resumed = await floor.resume(wo.id, 1, "OP-2")
    assert (resumed.status, resumed.paused_seconds, resumed.pause_time) == (S.IN_PROGRESS, 120, None)
    stored = await floor.operation(wo.id, 1)
    assert (stored.paused_by, stored.resumed_by, stored.paused_seconds) == ("OP-1", "OP-2", 120)
    changes = [(e.from_status, e.operation.status) for e in floor.events(OperationChanged) if e.operation.sequence == 1]
    assert changes[-2:] == [(S.IN_PROGRESS, S.PAUSED), (S.PAUSED, S.IN_PROGRESS)]
    finished = await floor.finish(wo.id, 1, 4_990)
    assert (finished.status, finished.paused_seconds) == (S.DONE, 120)


async def test_finishing_a_paused_operation_is_refused(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    await floor.pause(wo.id, 1)
    with pytest.raises(FailedPrecondition, match="resume it first"):
        await floor.finish(wo.id, 1, 4_990)
    assert (await floor.operation(wo.id, 1)).status is S.PAUSED


async def test_who_may_pause_and_resume(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    for code in ("OP-OLD", "NOBODY"):  # an active operator only
        with pytest.raises(InvalidArgument) as err:
            await floor.pause(wo.id, 1, operator=code)
        assert [v.field for v in err.value.violations] == ["operator_code"]
    with pytest.raises(PermissionDenied):  # an operator records only their own work
        await floor.pause(wo.id, 1, operator="OP-2", by=OPERATOR_1)
    with pytest.raises(PermissionDenied):
        await floor.pause(wo.id, 1, by=PARTNER)
    await floor.pause(wo.id, 1)
    with pytest.raises(InvalidArgument):
        await floor.resume(wo.id, 1, operator="OP-OLD")
    with pytest.raises(PermissionDenied):
        await floor.resume(wo.id, 1, operator="OP-2", by=OPERATOR_1)
    assert (await floor.operation(wo.id, 1)).status is S.PAUSED


async def test_every_bad_field_is_reported_at_once(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    with pytest.raises(InvalidArgument) as err:
        await floor.pause(wo.id, 1, "r" * 201, operator="bad code", request_id=" padded ")
    assert [v.field for v in err.value.violations] == ["operator_code", "reason", "request_id"]
    assert (await floor.operation(wo.id, 1)).status is S.IN_PROGRESS


async def test_pause_and_resume_are_idempotent_by_request_id(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    first = await floor.pause(wo.id, 1, request_id="p-1")
    again = await floor.pause(wo.id, 1, request_id="p-1")
    assert (again.status, again.version, again.pause_time) == (S.PAUSED, first.version, first.pause_time)
    with pytest.raises(FailedPrecondition):  # already paused: a new request is refused
        await floor.pause(wo.id, 1, request_id="p-2")
    with pytest.raises(AlreadyExists) as err:  # the same key for another request
        await floor.pause(wo.id, 1, "another reason", request_id="p-1")
    assert err.value.reason == "IDEMPOTENCY_KEY_REUSED"
    floor.clock.tick(1)
    resumed = await floor.resume(wo.id, 1, request_id="r-1")
    assert (await floor.resume(wo.id, 1, request_id="r-1")).version == resumed.version
    with pytest.raises(FailedPrecondition):
        await floor.resume(wo.id, 1, request_id="r-2")
    pauses = [e for e in floor.events(OperationChanged) if e.operation.status is S.PAUSED]
    assert len(pauses) == 1


async def test_a_held_work_order_neither_pauses_nor_resumes(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    await floor.pause(wo.id, 1)
    await floor.handlers.work_orders.hold_work_order(HoldWorkOrder(STAFF, wo.id, "audit"))
    with pytest.raises(FailedPrecondition, match="on hold"):
        await floor.resume(wo.id, 1)
    assert (await floor.work_order(wo.id)).status is WorkOrderStatus.HELD


async def test_a_paused_operation_keeps_its_place_against_the_capacity() -> None:
    floor = Floor()
    await floor.seed(capacity=1)
    [a, b] = await floor.create("ORD-1", line(1), line(2))
    await floor.start(a.id, 1, 5_000)
    await floor.pause(a.id, 1)
    with pytest.raises(ResourceExhausted):  # the bench is still taken
        await floor.start(b.id, 1, 5_000)
    await floor.resume(a.id, 1)  # resuming needs no room: the place was kept
    await floor.finish(a.id, 1, 5_000)
    assert (await floor.start(b.id, 1, 5_000)).status is S.IN_PROGRESS


async def test_cancelling_an_order_returns_the_metal_of_a_paused_operation(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 6_000)
    await floor.pause(wo.id, 1)
    await floor.consume("evt-c", "on_order_cancelled", OrderCancelled("ORD-1", "customer"))
    cancelled = await floor.operation(wo.id, 1)
    assert (cancelled.status, cancelled.pause_reason, cancelled.pause_time) == (S.CANCELLED, "", None)
    [event] = floor.events(WorkOrdersCancelled)
    assert list(event.returned) == [MaterialRequirement("AU750Y", MaterialKind.METAL, weight_mg=6_000)]
    cancels = [e for e in floor.events(OperationChanged) if e.operation.status is S.CANCELLED]
    assert [e.from_status for e in cancels if e.operation.sequence == 1] == [S.PAUSED]
