"""The order state machine: the allowed transitions, and random walks that never break it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mes_kernel.errors import FailedPrecondition
from services.orders.domain.order import MAX_REASON_LEN, Order, OrderLine, Priority
from services.orders.domain.status import CANCELLABLE, TERMINAL, OrderStatus, can_transition, forward_path

S = OrderStatus
#: The lifecycle as the design states it, written out independently of the implementation.
ALLOWED = {
    (S.SUBMITTED, S.ACCEPTED),
    (S.SUBMITTED, S.REJECTED),
    (S.SUBMITTED, S.ON_HOLD),
    (S.SUBMITTED, S.CANCELLED),
    (S.ACCEPTED, S.IN_PRODUCTION),
    (S.ACCEPTED, S.ON_HOLD),
    (S.ACCEPTED, S.CANCELLED),
    (S.ON_HOLD, S.ACCEPTED),
    (S.ON_HOLD, S.CANCELLED),
    (S.IN_PRODUCTION, S.READY_TO_SHIP),
    (S.IN_PRODUCTION, S.CANCELLED),
    (S.READY_TO_SHIP, S.SHIPPED),
}
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def new_order(due: datetime = T0 + timedelta(days=7)) -> Order:
    return Order.submit(
        order_id="o-1",
        partner_id="acme",
        partner_reference="PO-1",
        priority=Priority.NORMAL,
        due_time=due,
        lines=[OrderLine(1, "RNG-1", "AU750Y", 1)],
        cause="request:r-1",
        now=T0,
    )


def test_transition_table_matches_the_design() -> None:
    actual = {(a, b) for a in S for b in S if can_transition(a, b)}
    assert actual == ALLOWED
    assert {S.SHIPPED, S.REJECTED, S.CANCELLED} == TERMINAL
    assert {S.SUBMITTED, S.ACCEPTED, S.ON_HOLD, S.IN_PRODUCTION} == CANCELLABLE


def test_submit_starts_the_history_at_version_one() -> None:
    order = new_order()
    assert (order.status, order.version) == (S.SUBMITTED, 1)
    [first] = order.changes
    assert (first.from_status, first.to_status, first.version, first.cause) == (None, S.SUBMITTED, 1, "request:r-1")


def test_illegal_transition_is_refused_without_change() -> None:
    order = new_order()
    with pytest.raises(FailedPrecondition) as raised:
        order.transition(S.SHIPPED, now=T0)
    assert raised.value.reason == "INVALID_STATE_TRANSITION"
    assert (order.status, order.version, len(order.changes)) == (S.SUBMITTED, 1, 1)


def test_status_reason_is_kept_only_for_hold_reject_cancel() -> None:
    order = new_order()
    order.transition(S.ON_HOLD, reason="short of gold " * 100, now=T0)
    assert len(order.status_reason) == MAX_REASON_LEN
    order.transition(S.ACCEPTED, reason="stock arrived", now=T0)
    assert order.status_reason == ""


def test_late_means_due_passed_and_still_open() -> None:
    order = new_order(due=T0)
    assert order.is_late(T0 + timedelta(seconds=1))
    assert not order.is_late(T0)
    order.transition(S.CANCELLED, now=T0)
    assert not order.is_late(T0 + timedelta(days=1))


@pytest.mark.parametrize(
    ("current", "target", "path"),
    [
        (S.SUBMITTED, S.ACCEPTED, [S.ACCEPTED]),
        (S.ON_HOLD, S.IN_PRODUCTION, [S.ACCEPTED, S.IN_PRODUCTION]),
        (S.SUBMITTED, S.READY_TO_SHIP, [S.ACCEPTED, S.IN_PRODUCTION, S.READY_TO_SHIP]),
        (S.IN_PRODUCTION, S.ACCEPTED, []),
        (S.READY_TO_SHIP, S.READY_TO_SHIP, []),
        (S.CANCELLED, S.IN_PRODUCTION, []),
        (S.REJECTED, S.ACCEPTED, []),
    ],
)
def test_forward_path(current: OrderStatus, target: OrderStatus, path: list[OrderStatus]) -> None:
    assert forward_path(current, target) == path


@given(current=st.sampled_from(list(S)), target=st.sampled_from([S.ACCEPTED, S.IN_PRODUCTION, S.READY_TO_SHIP]))
def test_forward_path_is_always_a_legal_walk(current: OrderStatus, target: OrderStatus) -> None:
    status = current
    for step in forward_path(current, target):
        assert can_transition(status, step)
        status = step
    assert status == target or forward_path(current, target) == []


class OrderLifecycle(RuleBasedStateMachine):
    """Random sequences of requested transitions, legal or not."""

    def __init__(self) -> None:
        super().__init__()
        self.order = new_order()
        self.clock = T0
        self.history = list(self.order.changes)

    @rule(to=st.sampled_from(list(S)), reason=st.text(max_size=20))
    def request_transition(self, to: OrderStatus, reason: str) -> None:
        self.clock += timedelta(minutes=1)
        before = (self.order.status, self.order.version)
        if (self.order.status, to) in ALLOWED:
            change = self.order.transition(to, reason=reason, cause="test", now=self.clock)
            self.history.append(change)
            assert (change.from_status, change.to_status) == (before[0], to)
        else:
            with pytest.raises(FailedPrecondition):
                self.order.transition(to, reason=reason, now=self.clock)
            assert (self.order.status, self.order.version) == before

    @rule(to=st.sampled_from([S.ACCEPTED, S.IN_PRODUCTION, S.READY_TO_SHIP]))
    def advance_like_an_event(self, to: OrderStatus) -> None:
        for step in forward_path(self.order.status, to):
            self.history.append(self.order.transition(step, now=self.clock))

    @invariant()
    def history_is_a_consistent_chain(self) -> None:
        assert self.order.changes == self.history
        assert [c.version for c in self.history] == list(range(1, len(self.history) + 1))
        assert self.order.version == len(self.history)
        assert self.history[0].from_status is None
        for previous, change in zip(self.history, self.history[1:], strict=False):
            assert change.from_status == previous.to_status
            assert (change.from_status, change.to_status) in ALLOWED
            assert change.change_time >= previous.change_time
        assert self.history[-1].to_status == self.order.status

    @invariant()
    def terminal_statuses_are_never_left(self) -> None:
        statuses = [c.to_status for c in self.history]
        for index, status in enumerate(statuses):
            if status in TERMINAL:
                assert index == len(statuses) - 1


TestOrderLifecycle = OrderLifecycle.TestCase
TestOrderLifecycle.settings = settings(max_examples=100, stateful_step_count=20, deadline=None)
