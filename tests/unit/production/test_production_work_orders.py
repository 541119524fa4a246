"""Work order state machine, planning with routing snapshots, work-center choice, metal."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from mes_kernel.errors import FailedPrecondition
from services.production.domain.operations import AttemptRecord, OperationStatus
from services.production.domain.resources import WorkCenterPicker
from services.production.domain.work_orders import (
    TRANSITIONS,
    MetalBalance,
    WorkOrder,
    WorkOrderStatus,
    next_operation,
    plan_work_order,
    reconcile,
)
from tests.unit.production._factories import NOW, center, line, operation, ring, work_order

W = WorkOrderStatus
TARGETS = {
    "release": W.RELEASED,
    "start": W.IN_PROGRESS,
    "hold": W.HELD,
    "resume": W.IN_PROGRESS,
    "complete": W.COMPLETED,
    "close": W.CLOSED,
    "cancel": W.CANCELLED,
}


def act(wo: WorkOrder, action: str) -> None:
    metal = MetalBalance(100, 90, 8, 2)
    match action:
        case "release":
            wo.release(NOW)
        case "start":
            wo.start(NOW)
        case "hold":
            wo.hold(NOW)
        case "resume":
            wo.resume(NOW)
        case "complete":
            wo.complete(metal, NOW)
        case "close":
            wo.close(metal, NOW)
        case _:
            wo.cancel(NOW)


@given(st.lists(st.sampled_from(sorted(TARGETS)), max_size=30))
def test_work_orders_move_only_along_their_transitions(actions: list[str]) -> None:
    wo = work_order()
    for action in actions:
        before = wo.copy()
        try:
            act(wo, action)
        except FailedPrecondition as err:
            assert err.reason == "INVALID_STATE_TRANSITION"
            assert wo == before
            continue
        assert wo.status is TARGETS[action]
        # Starting an order already in progress is the only success that changes nothing.
        assert wo.status in TRANSITIONS[before.status] or (action == "start" and before.status is W.IN_PROGRESS)
        assert before.status not in (W.CLOSED, W.CANCELLED)


def test_held_work_orders_refuse_work() -> None:
    wo = work_order()
    wo.release(NOW)
    wo.start(NOW)
    wo.hold(NOW)
    for refused in (wo.require_workable, lambda: wo.start(NOW)):
        try:
            refused()
        except FailedPrecondition as err:
            assert "hold" in err.message
        else:
            raise AssertionError("a held work order accepted work")


def test_plan_snapshots_routing_skips_unasked_optional_steps_and_queues_the_first() -> None:
    style = ring()
    picker = WorkCenterPicker([center("CAST-1", "CAST"), center("LAS-1", "LASER")], {})
    wo, ops = plan_work_order(
        work_order_id="wo-1",
        order_id="ORD-1",
        priority=3,
        line=line(engraving="J+K"),
        style=style,
        picker=picker,
        now=NOW,
    )
    assert (wo.status, wo.routing_version, wo.routing_snapshot) == (W.RELEASED, 1, style.routing)
    assert [op.status for op in ops] == [
        OperationStatus.QUEUED,
        *[OperationStatus.PENDING] * 4,
        OperationStatus.SKIPPED,
        OperationStatus.PENDING,
    ]
    assert [op.work_center for op in ops] == ["CAST-1", "", "", "", "LAS-1", "", ""]
    assert {(op.priority, op.alloy_code, op.order_id) for op in ops} == {(3, "AU750Y", "ORD-1")}

    _, plain = plan_work_order(
        work_order_id="wo-2", order_id="ORD-1", priority=3, line=line(2), style=style, picker=picker, now=NOW
    )
    assert plain[4].status is OperationStatus.SKIPPED
    assert next_operation(plain, after=4) is plain[6]
    assert next_operation(plain, after=7) is None


def test_picker_prefers_the_least_loaded_center_relative_to_capacity() -> None:
    picker = WorkCenterPicker(
        [center("A", "CAST", 1), center("B", "CAST", 3), center("C", "CAST", 10, active=False)], {"A": 0, "B": 1}
    )
    assert [picker.pick("CAST") for _ in range(5)] == ["A", "B", "B", "A", "B"]
    assert picker.pick("QC") == ""


def test_reconcile_first_weigh_in_last_weigh_out_and_every_loss() -> None:
    def attempt(seq: int, n: int, weigh_in: int, weigh_out: int, scrap: int, loss: int) -> AttemptRecord:
        op = replace(operation(), sequence=seq, attempt=n, weigh_in_mg=weigh_in, weigh_out_mg=weigh_out)
        op.scrap_returned_mg, op.loss_mg = scrap, loss
        return AttemptRecord.of(op)

    attempts = [
        attempt(3, 1, 5_800, 5_850, 0, 0),
        attempt(1, 1, 6_000, 5_900, 50, 50),
        attempt(2, 2, 5_700, 5_690, 0, 10),
        attempt(2, 1, 5_900, 5_700, 0, 200),
    ]
    assert reconcile(attempts) == MetalBalance(issued_mg=6_000, finished_mg=5_850, loss_mg=260, scrap_returned_mg=50)
    assert reconcile([]) == MetalBalance()
