"""Starting an operation: an active operator weighs the metal in at a work center that has room."""

from __future__ import annotations

import pytest

from mes_kernel.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied, ResourceExhausted
from services.production.domain.events import OperationChanged
from services.production.domain.operations import OperationStatus
from services.production.domain.work_orders import WorkOrderStatus
from tests.unit.production._factories import line
from tests.unit.production._floor import OPERATOR_1, PARTNER, Floor

S = OperationStatus


async def test_start_records_the_weigh_in_and_puts_the_work_order_in_progress(floor: Floor) -> None:
    [wo] = await floor.create()
    floor.clock.tick(5)
    op = await floor.start(wo.id, 1, 5_200, "OP-1", by=OPERATOR_1)
    assert (op.status, op.weigh_in_mg, op.started_by, op.start_time) == (S.IN_PROGRESS, 5_200, "OP-1", floor.clock.now)
    assert (await floor.work_order(wo.id)).status is WorkOrderStatus.IN_PROGRESS
    last = floor.events(OperationChanged)[-1]
    assert (last.operation.sequence, last.operation.status, last.from_status) == (1, S.IN_PROGRESS, S.QUEUED)


async def test_the_operator_must_exist_and_be_active(floor: Floor) -> None:
    [wo] = await floor.create()
    for code in ("OP-OLD", "NOBODY"):
        with pytest.raises(InvalidArgument) as err:
            await floor.start(wo.id, 1, 5_000, code)
        assert [v.field for v in err.value.violations] == ["operator_code"]
    assert (await floor.operation(wo.id, 1)).status is S.QUEUED


async def test_who_may_start(floor: Floor) -> None:
    [wo] = await floor.create()
    with pytest.raises(PermissionDenied):  # an operator records only their own work
        await floor.start(wo.id, 1, 5_000, "OP-2", by=OPERATOR_1)
    with pytest.raises(PermissionDenied):
        await floor.start(wo.id, 1, 5_000, "OP-2", by=PARTNER)


async def test_a_work_center_at_capacity_refuses_another_start() -> None:
    floor = Floor()
    await floor.seed(capacity=1)
    [a, b] = await floor.create("ORD-1", line(1), line(2))
    await floor.start(a.id, 1, 5_000)
    with pytest.raises(ResourceExhausted) as err:
        await floor.start(b.id, 1, 5_000)
    assert (err.value.reason, err.value.metadata) == ("CAPACITY_EXCEEDED", {"work_center": "CAST-1", "capacity": "1"})
    assert (await floor.operation(b.id, 1)).status is S.QUEUED


async def test_weigh_in_must_be_positive_and_only_a_queued_operation_starts(floor: Floor) -> None:
    [wo] = await floor.create()
    with pytest.raises(InvalidArgument) as err:
        await floor.start(wo.id, 1, 0)
    assert [v.field for v in err.value.violations] == ["weigh_in_mg"]
    with pytest.raises(FailedPrecondition):  # still PENDING
        await floor.start(wo.id, 2, 5_000)


async def test_a_start_is_idempotent_by_request_id(floor: Floor) -> None:
    [wo] = await floor.create()
    first = await floor.start(wo.id, 1, 5_000, request_id="req-1")
    again = await floor.start(wo.id, 1, 5_000, request_id="req-1")
    assert (again.status, again.version) == (first.status, first.version)
    assert len([e for e in floor.events(OperationChanged) if e.operation.status is S.IN_PROGRESS]) == 1
    with pytest.raises(AlreadyExists) as err:
        await floor.start(wo.id, 1, 6_000, request_id="req-1")
    assert err.value.reason == "IDEMPOTENCY_KEY_REUSED"
