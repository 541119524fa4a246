"""Operation state machine, loss and tolerance."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mes_kernel.errors import FailedPrecondition, InvalidArgument
from services.production.domain.operations import (
    TRANSITIONS,
    AttemptRecord,
    LossDecision,
    Operation,
    OperationStatus,
    compute_loss,
    last_known_weight,
    within_tolerance,
)
from tests.unit.production._factories import NOW, operation

S = OperationStatus
TARGETS = {
    "queue": S.QUEUED,
    "start": S.IN_PROGRESS,
    "finish_ok": S.DONE,
    "finish_over": S.LOSS_REVIEW,
    "approve": S.DONE,
    "rework": S.REWORK,
    "cancel": S.CANCELLED,
}


def act(op: Operation, action: str) -> S:
    match action:
        case "queue":
            return op.queue(NOW)
        case "start":
            return op.start("OP-1", 1_000, NOW)
        case "finish_ok":
            return op.finish("OP-1", 995, 0, NOW)  # 5 per mille, tolerance 10
        case "finish_over":
            return op.finish("OP-1", 900, 50, NOW)  # 50 per mille
        case "approve":
            return op.resolve(LossDecision.APPROVE, "SUP-1", "ok", NOW)
        case "rework":
            return op.resolve(LossDecision.REWORK, "SUP-1", "redo", NOW)
        case _:
            return op.cancel(NOW)


@given(st.lists(st.sampled_from(sorted(TARGETS)), max_size=40))
def test_operations_move_only_along_their_transitions(actions: list[str]) -> None:
    op = operation()
    for action in actions:
        before = op.copy()
        try:
            previous = act(op, action)
        except FailedPrecondition as err:
            assert err.reason == "INVALID_STATE_TRANSITION"
            assert op == before  # a refused transition changes nothing
            continue
        assert previous is before.status
        assert op.status is TARGETS[action]
        assert op.status in TRANSITIONS[before.status]
        assert not before.status.terminal
        if action == "queue" and before.status is S.REWORK:
            assert (op.attempt, op.weigh_in_mg, op.reviewed_by) == (before.attempt + 1, 0, "")
        else:
            assert op.attempt == before.attempt


def test_loss_review_then_rework_is_a_new_attempt() -> None:
    op = operation()
    op.queue(NOW)
    op.start("OP-1", 10_000, NOW)
    assert op.finish("OP-2", 9_800, 50, NOW) is S.IN_PROGRESS
    assert (op.status, op.loss_mg, op.finished_by) == (S.LOSS_REVIEW, 150, "OP-2")
    first = AttemptRecord.of(op)
    op.resolve(LossDecision.REWORK, "SUP-1", "too much", NOW)
    assert AttemptRecord.of(op).reviewed and first.reviewed
    assert op.queue(NOW) is S.REWORK
    assert (op.status, op.attempt, op.loss_mg, op.finish_time) == (S.QUEUED, 2, 0, None)


@pytest.mark.parametrize(
    ("code", "weigh_in", "weigh_out", "scrap", "loss"),
    [
        ("FILING", 10_000, 9_900, 40, 60),
        ("FILING", 10_000, 9_960, 40, 0),
        ("STONE_SETTING", 10_000, 10_150, 0, 0),  # stones add weight
        ("STONE_SETTING", 10_000, 9_990, 5, 5),
        ("POLISHING", 10_000, 0, 0, 10_000),
    ],
)
def test_loss_is_weigh_in_minus_weigh_out_minus_scrap(
    code: str, weigh_in: int, weigh_out: int, scrap: int, loss: int
) -> None:
    assert compute_loss(code, weigh_in, weigh_out, scrap) == loss


@pytest.mark.parametrize("code", ["FILING", "CASTING", "POLISHING", "QC"])
def test_a_gain_is_invalid_except_for_stone_setting(code: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        compute_loss(code, 10_000, 9_990, 11)
    assert [v.field for v in err.value.violations] == ["weigh_out_mg"]


@pytest.mark.parametrize(
    ("weigh_in", "tolerance", "limit"),
    [(10_000, 20, 200), (999, 10, 9), (1, 1000, 1), (5_000, 0, 0), (7, 3, 0)],
)
def test_exactly_at_tolerance_is_done_one_more_mg_is_review(weigh_in: int, tolerance: int, limit: int) -> None:
    op = operation(tolerance=tolerance)
    op.queue(NOW)
    op.start("OP-1", weigh_in, NOW)
    at_limit = op.copy()
    at_limit.finish("OP-1", weigh_in - limit, 0, NOW)
    assert at_limit.status is S.DONE
    over = op.copy()
    over.finish("OP-1", weigh_in - limit - 1, 0, NOW)
    assert over.status is S.LOSS_REVIEW


@given(st.integers(0, 10**8), st.integers(1, 10**8), st.integers(0, 1000))
def test_tolerance_is_exact_rational_comparison(loss: int, weigh_in: int, tolerance: int) -> None:
    assert within_tolerance(loss, weigh_in, tolerance) is (Fraction(loss, weigh_in) <= Fraction(tolerance, 1000))


def test_last_known_weight() -> None:
    running = operation()
    running.queue(NOW)
    running.start("OP-1", 4_200, NOW)
    first = operation()
    first.queue(NOW)
    first.start("OP-1", 5_000, NOW)
    first.finish("OP-1", 4_950, 0, NOW)
    attempt = AttemptRecord.of(first)
    assert last_known_weight([], []) == 0
    assert last_known_weight([first], [attempt]) == 4_950
    assert last_known_weight([first, running], [attempt]) == 4_200
