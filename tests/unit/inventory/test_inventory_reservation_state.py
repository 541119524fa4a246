"""The reservation state machine: HELD -> COMMITTED -> CONSUMED; HELD/COMMITTED -> RELEASED."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mes_kernel.errors import FailedPrecondition
from services.inventory.domain.allocation import Allocation
from services.inventory.domain.materials import MaterialKind, Priority
from services.inventory.domain.reservations import TRANSITIONS, Reservation, ReservationState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = ReservationState
#: The state each operation moves to.
TARGET = {"commit": S.COMMITTED, "consume": S.CONSUMED, "release": S.RELEASED}
#: States from which repeating an operation is a harmless no-op.
NO_OP_FROM = {"commit": {S.COMMITTED, S.CONSUMED}, "consume": {S.CONSUMED}, "release": {S.RELEASED}}


def held() -> Reservation:
    allocations = [
        Allocation("lot-b", MaterialKind.METAL, "AU750Y", 300, 1),
        Allocation("lot-a", MaterialKind.METAL, "AU750Y", 200, 1),
        Allocation("lot-a", MaterialKind.METAL, "AU750Y", 50, 2),
        Allocation("lot-s", MaterialKind.STONE, "DIA-RB-2MM", 12, 1),
    ]
    return Reservation.hold("r-1", "o-1", Priority.HIGH, allocations, T0)


def apply(reservation: Reservation, op: str, now: datetime) -> object:
    if op == "commit":
        return reservation.commit(now)
    if op == "consume":
        return reservation.consume(now)
    return reservation.release(now, "cancelled")


@given(st.lists(st.sampled_from(["commit", "consume", "release"]), max_size=12))
def test_any_sequence_follows_the_transition_table(ops: list[str]) -> None:
    reservation = held()
    expected_version = 1
    now = T0
    for op in ops:
        now += timedelta(seconds=1)
        before = reservation.state
        if before in NO_OP_FROM[op]:
            result = apply(reservation, op, now)
            assert result in (False, None)
            assert reservation.state is before
        elif TARGET[op] in TRANSITIONS[before]:
            result = apply(reservation, op, now)
            assert result not in (False, None)
            assert reservation.state is TARGET[op]
            expected_version += 1
            assert reservation.update_time == now
        else:
            with pytest.raises(FailedPrecondition) as caught:
                apply(reservation, op, now)
            assert caught.value.reason == "INVALID_STATE_TRANSITION"
            assert reservation.state is before
        assert reservation.version == expected_version
        assert reservation.active == (reservation.state in (S.HELD, S.COMMITTED))


@given(st.lists(st.sampled_from(["commit", "consume", "release"]), max_size=12))
def test_terminal_states_never_change(ops: list[str]) -> None:
    reservation = held()
    seen_terminal: ReservationState | None = None
    for op in ops:
        with contextlib.suppress(FailedPrecondition):
            apply(reservation, op, T0)
        if seen_terminal is not None:
            assert reservation.state is seen_terminal
        if not TRANSITIONS[reservation.state]:
            seen_terminal = reservation.state


def test_release_reports_the_state_it_left_and_keeps_the_reason() -> None:
    reservation = held()
    assert reservation.commit(T0) is True
    assert reservation.release(T0, "order cancelled") is S.COMMITTED
    assert reservation.release_reason == "order cancelled"
    assert reservation.release(T0, "again") is None
    assert reservation.release_reason == "order cancelled"


def test_consume_from_held_is_refused() -> None:
    reservation = held()
    with pytest.raises(FailedPrecondition) as caught:
        reservation.consume(T0)
    assert caught.value.metadata == {"reservation_id": "r-1", "state": "HELD", "target": "CONSUMED"}


def test_shares_by_lot_sum_lines_in_lot_id_order() -> None:
    shares = held().shares_by_lot()
    assert [(s.lot_id, s.quantity) for s in shares] == [("lot-a", 250), ("lot-b", 300), ("lot-s", 12)]
    assert shares[2].kind is MaterialKind.STONE
