"""A work center's state: RUNNING while an operation is in progress there, IDLE when none is
(paused ones do not count), BLOCKED from a block until it is lifted; ``state_time`` moves only
with the state, and every change is an event with the state it left."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mes_kernel.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.production.domain.events import WorkCenterChanged
from services.production.domain.floor import WorkCenterState
from services.production.domain.operations import OperationStatus
from services.production.service_layer.commands import OrderCancelled, UpsertWorkCenter
from tests.unit.production._factories import NOW, center, line
from tests.unit.production._floor import OPERATOR_1, PARTNER, STAFF, Floor

C = WorkCenterState
S = OperationStatus


def changes(floor: Floor, code: str = "CAST-1") -> list[tuple[WorkCenterState, WorkCenterState]]:
    """(from, to) of the work center's changes, oldest first."""
    return [(e.from_state, e.work_center.state) for e in floor.events(WorkCenterChanged) if e.work_center.code == code]


# -- the domain object ------------------------------------------------------------------


def test_a_new_center_is_idle_since_it_was_made_and_follows_its_operations() -> None:
    cast = center("CAST-1", "CAST")
    assert (cast.state, cast.state_reason, cast.state_time) == (C.IDLE, "", NOW)
    later = NOW + timedelta(minutes=1)
    assert cast.follow(True, later) is C.IDLE
    assert (cast.state, cast.state_time) == (C.RUNNING, later)
    assert cast.follow(True, later + timedelta(minutes=1)) is None  # no change, no new time
    assert cast.state_time == later


def test_blocking_changes_the_reason_but_keeps_the_time_and_ignores_the_operations() -> None:
    cast = center("CAST-1", "CAST")
    blocked_at = NOW + timedelta(minutes=1)
    assert cast.block("  kiln down ", blocked_at, "SUP-1") is C.IDLE
    assert (cast.state, cast.state_reason, cast.state_time, cast.state_by) == (
        C.BLOCKED,
        "kiln down",
        blocked_at,
        "SUP-1",
    )
    assert cast.block("kiln down", blocked_at + timedelta(minutes=1)) is None  # the same reason: nothing changes
    assert cast.block("no gas", blocked_at + timedelta(minutes=2)) is C.BLOCKED
    assert (cast.state_reason, cast.state_time) == ("no gas", blocked_at)
    assert cast.follow(True, blocked_at + timedelta(minutes=3)) is None
    assert cast.state is C.BLOCKED
    unblocked_at = blocked_at + timedelta(minutes=4)
    assert cast.unblock(True, unblocked_at) is C.BLOCKED
    assert (cast.state, cast.state_reason, cast.state_time) == (C.RUNNING, "", unblocked_at)


@pytest.mark.parametrize("reason", ["", "  ", "k" * 201])
def test_a_block_needs_a_reason(reason: str) -> None:
    cast = center("CAST-1", "CAST")
    with pytest.raises(InvalidArgument):
        cast.block(reason, NOW)
    assert cast.state is C.IDLE


def test_only_a_blocked_center_is_unblocked_and_a_blocked_one_is_closed_to_new_work() -> None:
    cast = center("CAST-1", "CAST")
    cast.require_open()
    with pytest.raises(FailedPrecondition):
        cast.unblock(False, NOW)
    cast.block("kiln down", NOW)
    with pytest.raises(FailedPrecondition) as err:
        cast.require_open()
    assert (err.value.reason, err.value.metadata["work_center"]) == ("WORK_CENTER_BLOCKED", "CAST-1")


# -- the use cases ----------------------------------------------------------------------


async def test_the_state_follows_starts_pauses_resumes_and_finishes(floor: Floor) -> None:
    [a, b] = await floor.create("ORD-1", line(1), line(2))
    assert (await floor.center("CAST-1")).state is C.IDLE
    floor.clock.tick()
    await floor.start(a.id, 1, 5_000)
    started = await floor.center("CAST-1")
    assert (started.state, started.state_time) == (C.RUNNING, floor.clock.now)
    floor.clock.tick()
    await floor.start(b.id, 1, 5_000)  # already running: no change
    assert (await floor.center("CAST-1")).state_time == started.state_time
    await floor.pause(a.id, 1)
    assert (await floor.center("CAST-1")).state is C.RUNNING  # b is still in progress
    floor.clock.tick()
    await floor.pause(b.id, 1)
    idle = await floor.center("CAST-1")
    assert (idle.state, idle.state_time) == (C.IDLE, floor.clock.now)  # paused work does not run
    await floor.resume(a.id, 1)
    await floor.finish(a.id, 1, 5_000)
    assert (await floor.center("CAST-1")).state is C.IDLE  # b is still paused
    assert changes(floor) == [(C.IDLE, C.RUNNING), (C.RUNNING, C.IDLE), (C.IDLE, C.RUNNING), (C.RUNNING, C.IDLE)]
    # the next operation is queued at the bench, which does not change the bench's state
    assert (await floor.operation(a.id, 2)).status is S.QUEUED
    assert changes(floor, "BENCH-1") == []


async def test_block_and_unblock(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    floor.clock.tick()
    blocked = await floor.block("CAST-1", " kiln down ", "OP-1", by=OPERATOR_1)
    assert (blocked.state, blocked.state_reason, blocked.state_time, blocked.state_by) == (
        C.BLOCKED,
        "kiln down",
        floor.clock.now,
        "OP-1",
    )
    floor.clock.tick()
    again = await floor.block("CAST-1", "no gas")
    assert (again.state_reason, again.state_time) == ("no gas", blocked.state_time)
    same = await floor.block("CAST-1", "no gas")
    assert same.version == again.version  # nothing changed, nothing written
    await floor.finish(wo.id, 1, 5_000)  # the work in progress goes on; the center stays blocked
    assert (await floor.center("CAST-1")).state is C.BLOCKED
    floor.clock.tick()
    unblocked = await floor.unblock("CAST-1")
    assert (unblocked.state, unblocked.state_reason, unblocked.state_time) == (C.IDLE, "", floor.clock.now)
    assert changes(floor) == [(C.IDLE, C.RUNNING), (C.RUNNING, C.BLOCKED), (C.BLOCKED, C.BLOCKED), (C.BLOCKED, C.IDLE)]
    with pytest.raises(FailedPrecondition):
        await floor.unblock("CAST-1")


async def test_unblocking_a_center_with_work_in_progress_makes_it_running(floor: Floor) -> None:
    [wo] = await floor.create()
    await floor.start(wo.id, 1, 5_000)
    await floor.block("CAST-1")
    assert (await floor.unblock("CAST-1")).state is C.RUNNING


async def test_nothing_starts_or_resumes_at_a_blocked_center(floor: Floor) -> None:
    [a, b] = await floor.create("ORD-1", line(1), line(2))
    await floor.start(a.id, 1, 5_000)
    await floor.pause(a.id, 1)
    await floor.block("CAST-1")
    with pytest.raises(FailedPrecondition) as err:
        await floor.start(b.id, 1, 5_000)
    assert err.value.reason == "WORK_CENTER_BLOCKED"
    with pytest.raises(FailedPrecondition):
        await floor.resume(a.id, 1)
    assert [(await floor.operation(w.id, 1)).status for w in (a, b)] == [S.PAUSED, S.QUEUED]
    await floor.unblock("CAST-1")
    assert (await floor.resume(a.id, 1)).status is S.IN_PROGRESS


async def test_who_may_block_and_what_is_checked(floor: Floor) -> None:
    with pytest.raises(InvalidArgument) as err:
        await floor.block("CAST-1", " ")
    assert [v.field for v in err.value.violations] == ["reason"]
    with pytest.raises(InvalidArgument):
        await floor.block("CAST-1", operator="OP-OLD")  # an inactive operator
    with pytest.raises(PermissionDenied):
        await floor.block("CAST-1", operator="OP-2", by=OPERATOR_1)
    with pytest.raises(PermissionDenied):
        await floor.block("CAST-1", by=PARTNER)
    with pytest.raises(NotFound):
        await floor.block("NOWHERE")
    with pytest.raises(NotFound):
        await floor.unblock("NOWHERE")
    assert (await floor.center("CAST-1")).state is C.IDLE
    assert floor.events(WorkCenterChanged) == []


async def test_cancelling_an_order_idles_the_centers_it_was_running_on(floor: Floor) -> None:
    [a, b] = await floor.create("ORD-1", line(1), line(2))
    await floor.start(a.id, 1, 5_000)
    await floor.start(b.id, 1, 5_000)
    await floor.pause(b.id, 1)
    floor.clock.tick()
    await floor.consume("evt-c", "on_order_cancelled", OrderCancelled("ORD-1", "customer"))
    cancelled = await floor.center("CAST-1")
    assert (cancelled.state, cancelled.state_time) == (C.IDLE, floor.clock.now)
    assert changes(floor)[-1] == (C.RUNNING, C.IDLE)
    assert floor.causes(WorkCenterChanged)[-1] == "evt-c"  # in the consumer's transaction


async def test_a_new_center_adopting_work_in_progress_runs() -> None:
    floor = Floor()
    await floor.seed()
    [wo] = await floor.create()
    await floor.walk(wo.id, (1, 2, 3, 4))  # QC (7) has no center of its type yet
    await floor.start(wo.id, 7, 5_000)
    floor.clock.tick()
    made = await floor.handlers.catalog.upsert_work_center(UpsertWorkCenter(STAFF, "QC-1", "QC", "QC", 1, True))
    assert (made.state, made.state_time) == (C.RUNNING, floor.clock.now)
    assert changes(floor, "QC-1") == [(C.IDLE, C.RUNNING)]
