"""Finishing an operation: loss = weigh-in - weigh-out - scrap; within tolerance DONE (and the
next step queued), above it LOSS_REVIEW; a gain only at stone setting."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, InvalidArgument
from services.production.domain.events import OperationChanged
from services.production.domain.operations import OperationStatus
from tests.unit.production._floor import Floor

S = OperationStatus


async def test_loss_within_tolerance_is_done_and_queues_the_next_step(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 10_000)
    op = await floor.finish(wo.id, 1, 9_700, scrap=100)  # 200 mg lost: exactly 20 per mille
    assert (op.status, op.loss_mg, op.weigh_out_mg, op.scrap_returned_mg, op.finished_by) == (
        S.DONE,
        200,
        9_700,
        100,
        "OP-2",
    )
    assert (await floor.operation(wo.id, 2)).status is S.QUEUED
    changes = [(e.operation.sequence, e.from_status, e.operation.status) for e in floor.events(OperationChanged)[-2:]]
    assert changes == [(1, S.IN_PROGRESS, S.DONE), (2, S.PENDING, S.QUEUED)]


async def test_loss_above_tolerance_goes_to_review_and_stops_the_routing(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 10_000)
    op = await floor.finish(wo.id, 1, 9_799)  # 201 mg: above 20 per mille
    assert (op.status, op.loss_mg) == (S.LOSS_REVIEW, 201)
    assert (await floor.operation(wo.id, 2)).status is S.PENDING


async def test_a_weight_gain_is_refused_outside_stone_setting(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    with pytest.raises(InvalidArgument) as err:
        await floor.finish(wo.id, 1, 5_001)
    assert [v.field for v in err.value.violations] == ["weigh_out_mg"]
    assert (await floor.operation(wo.id, 1)).status is S.IN_PROGRESS


async def test_stone_setting_may_gain_weight_as_no_loss(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.walk(wo.id, (1, 2))
    await floor.start(wo.id, 3, 5_000)
    op = await floor.finish(wo.id, 3, 5_300)
    assert (op.operation_code, op.status, op.loss_mg) == ("STONE_SETTING", S.DONE, 0)


async def test_only_an_operation_in_progress_finishes(floor: Floor) -> None:
    [wo] = await floor.create()
    with pytest.raises(FailedPrecondition):
        await floor.finish(wo.id, 1, 5_000)
