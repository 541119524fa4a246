"""Loss review: an active supervisor approves (DONE, the routing goes on) or sends the
operation to rework (queued again as a new attempt; the reviewed loss is kept)."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, InvalidArgument
from services.production.domain.events import OperationChanged
from services.production.domain.operations import LossDecision, OperationStatus
from services.production.domain.views import LossGrouping
from services.production.service_layer.commands import SummarizeMetalLoss
from tests.unit.production._floor import STAFF, Floor

S = OperationStatus


async def _in_review(floor: Floor) -> str:
    await floor.seed()
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 10_000)
    await floor.finish(wo.id, 1, 9_500)  # 500 mg: above 20 per mille
    return wo.id


async def test_approve_makes_the_operation_done_and_queues_the_next() -> None:
    floor = Floor()
    wo = await _in_review(floor)
    op = await floor.review(wo, 1, LossDecision.APPROVE)
    assert (op.status, op.reviewed_by, op.review_note, op.loss_mg) == (S.DONE, "SUP-1", "checked", 500)
    assert (await floor.operation(wo, 2)).status is S.QUEUED
    assert floor.events(OperationChanged)[-2].from_status is S.LOSS_REVIEW


async def test_rework_queues_a_new_attempt_and_keeps_the_reviewed_loss() -> None:
    floor = Floor()
    wo = await _in_review(floor)
    op = await floor.review(wo, 1, LossDecision.REWORK)
    assert (op.status, op.attempt, op.weigh_in_mg, op.loss_mg) == (S.QUEUED, 2, 0, 0)
    changes = [(e.from_status, e.operation.status) for e in floor.events(OperationChanged)[-2:]]
    assert changes == [(S.LOSS_REVIEW, S.REWORK), (S.REWORK, S.QUEUED)]
    assert (await floor.operation(wo, 2)).status is S.PENDING
    [summary] = await floor.handlers.views.summarize_metal_loss(SummarizeMetalLoss(STAFF, LossGrouping.OPERATION_CODE))
    assert (summary.key, summary.operations, summary.loss_mg, summary.reviews) == ("CASTING", 1, 500, 1)


@pytest.mark.parametrize("supervisor", ["OP-1", "NOBODY"])
async def test_only_a_supervisor_may_review(supervisor: str) -> None:
    floor = Floor()
    wo = await _in_review(floor)
    with pytest.raises(InvalidArgument) as err:
        await floor.review(wo, 1, LossDecision.APPROVE, supervisor)
    assert [v.field for v in err.value.violations] == ["supervisor_code"]
    assert (await floor.operation(wo, 1)).status is S.LOSS_REVIEW


async def test_an_inactive_supervisor_may_not_review() -> None:
    floor = Floor()
    await floor.seed(supervisor_active=False)
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 10_000)
    await floor.finish(wo.id, 1, 9_000)
    with pytest.raises(InvalidArgument):
        await floor.review(wo.id, 1, LossDecision.APPROVE)


async def test_only_an_operation_in_review_is_reviewed(floor: Floor) -> None:
    [wo] = await floor.create()
    with pytest.raises(FailedPrecondition):
        await floor.review(wo.id, 1, LossDecision.APPROVE)
