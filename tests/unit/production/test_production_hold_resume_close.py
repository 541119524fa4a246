"""Hold, resume and close: a held work order blocks its operations until resumed; only a
completed work order closes."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.production.domain.operations import LossDecision, OperationStatus
from services.production.domain.work_orders import WorkOrderStatus
from services.production.service_layer.commands import CloseWorkOrder, HoldWorkOrder, ResumeWorkOrder
from tests.unit.production._floor import PARTNER, STAFF, Floor

W = WorkOrderStatus


async def test_hold_blocks_start_finish_and_review_until_resumed(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 10_000)
    held = await floor.handlers.work_orders.hold_work_order(HoldWorkOrder(STAFF, wo.id, "scale check"))
    assert held.status is W.HELD
    with pytest.raises(FailedPrecondition) as err:
        await floor.finish(wo.id, 1, 9_000)
    assert err.value.metadata == {"status": "HELD"}
    resumed = await floor.handlers.work_orders.resume_work_order(ResumeWorkOrder(STAFF, wo.id))
    assert resumed.status is W.IN_PROGRESS
    await floor.finish(wo.id, 1, 9_000)  # into loss review
    await floor.handlers.work_orders.hold_work_order(HoldWorkOrder(STAFF, wo.id))
    with pytest.raises(FailedPrecondition):
        await floor.review(wo.id, 1, LossDecision.APPROVE)
    assert (await floor.operation(wo.id, 1)).status is OperationStatus.LOSS_REVIEW


async def test_hold_and_resume_need_the_right_state(floor: Floor) -> None:
    [wo] = await floor.create()
    with pytest.raises(FailedPrecondition):  # RELEASED: nothing in progress to hold
        await floor.handlers.work_orders.hold_work_order(HoldWorkOrder(STAFF, wo.id))
    with pytest.raises(FailedPrecondition):
        await floor.handlers.work_orders.resume_work_order(ResumeWorkOrder(STAFF, wo.id))
    with pytest.raises(InvalidArgument):
        await floor.handlers.work_orders.hold_work_order(HoldWorkOrder(STAFF, wo.id, "x" * 501))
    with pytest.raises(NotFound):
        await floor.handlers.work_orders.hold_work_order(HoldWorkOrder(STAFF, "wo-missing"))
    with pytest.raises(PermissionDenied):
        await floor.handlers.work_orders.resume_work_order(ResumeWorkOrder(PARTNER, wo.id))


async def test_only_a_completed_work_order_closes(floor: Floor) -> None:
    [wo] = await floor.create()
    with pytest.raises(FailedPrecondition):
        await floor.handlers.work_orders.close_work_order(CloseWorkOrder(STAFF, wo.id))
    await floor.walk(wo.id, (1, 2, 3, 4, 7))
    closed = await floor.handlers.work_orders.close_work_order(CloseWorkOrder(STAFF, wo.id))
    assert closed.status is W.CLOSED
    with pytest.raises(FailedPrecondition):
        await floor.handlers.work_orders.close_work_order(CloseWorkOrder(STAFF, wo.id))
