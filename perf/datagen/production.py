"""The shop floor for one order: its work orders released, their operations queued, started,
weighed out (a loss within tolerance, or a loss review a supervisor approves), the next step
queued, the work order completed, and later closed; or everything cancelled when the partner
cancels before work starts.

Each change goes through the production domain (``plan_work_order``, ``Operation.start/finish/
resolve/queue/cancel``, ``WorkOrder.start/complete/close/cancel``, ``reconcile``), with the
version bump of the repository's update and the ``production.*`` events the use cases emit.
The history is cut at the end of the generated period: what would happen later has not
happened, and an operation is in progress at the end only while its work center has a free
slot (``capacity``), as ``StartOperation`` requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perf.datagen.catalogue import Plant
from perf.datagen.drafts import OrderDraft
from perf.datagen.events import EventLog
from perf.datagen.ids import Ids, at
from services.production.domain.bom import LineSpec
from services.production.domain.events import (
    OperationChanged,
    WorkOrderCompleted,
    WorkOrdersCancelled,
    WorkOrdersReleased,
)
from services.production.domain.operations import STONE_SETTING, AttemptRecord, LossDecision, Operation
from services.production.domain.operations import OperationStatus as OpS
from services.production.domain.resources import WorkCenterPicker
from services.production.domain.work_orders import WorkOrder, next_operation, plan_work_order, reconcile
from services.production.entrypoints.codec.responses import operation_name

__all__ = ["Floor", "Loss", "Work"]

_MG_PER_POINT = 2  # 0.01 ct = 2 mg
_REVIEW_SHARE = 0.02


@dataclass(frozen=True)
class Loss:
    """A loss inventory records in its custody ledger (operation.changed to DONE or REWORK)."""

    t: float
    operation_name: str
    alloy_code: str
    loss_mg: int
    operator_code: str
    cause: str


@dataclass
class Work:
    """One order's work orders and what happened to them."""

    work_orders: list[WorkOrder] = field(default_factory=list)
    #: Id of the ``work_orders.released`` event.
    released_event: str = ""
    operations: list[Operation] = field(default_factory=list)
    attempts: dict[tuple[str, int, int], AttemptRecord] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)
    #: When the last work order completed, and the id of its ``work_order.completed`` event.
    completed_at: float | None = None
    completed_event: str = ""
    #: When the work orders were cancelled, and the id of ``work_orders.cancelled``.
    cancelled_at: float | None = None
    cancelled_event: str = ""


class Floor:
    """The shop floor shared by every order: work-center picks and slots in use at the end."""

    def __init__(self, ids: Ids, plant: Plant, log: EventLog, *, end: float) -> None:
        self.ids, self.plant, self.log, self.end = ids, plant, log, end
        self.rng = ids.rng
        self.picker = WorkCenterPicker(plant.work_centers, {})
        self.capacity = {c.code: c.capacity for c in plant.work_centers}
        self.busy_at_end: dict[str, int] = {}
        self.operators = [o.code for o in plant.floor_operators]
        self.supervisors = [o.code for o in plant.supervisors]
        self.styles = {s.sku: s for s in plant.styles}

    def _emit(self, event: object, t: float, cause: str = "") -> str:
        return self.log.emit("production", event, t, cause)

    def release(self, d: OrderDraft, t: float, cause: str) -> Work:
        """``inventory.reservation.held`` handled at ``t``: one released work order per line."""
        work = Work()
        for line in sorted(d.lines, key=lambda ln: ln.line_number):
            spec = LineSpec(
                line.line_number, line.style_code, line.alloy_code, line.size, line.engraving, line.quantity
            )
            wo, ops = plan_work_order(
                work_order_id=self.ids.work_order_id(),
                order_id=d.order_id,
                priority=int(d.priority),
                line=spec,
                style=self.styles[line.style_code],
                picker=self.picker,
                now=at(t),
            )
            work.work_orders.append(wo)
            work.operations.extend(ops)
        work.released_event = self._emit(WorkOrdersReleased(d.order_id, tuple(work.work_orders)), t, cause)
        for op in work.operations:
            if op.status is OpS.QUEUED:
                self._emit(OperationChanged(op, OpS.PENDING), t, cause)
        return work

    def run(self, work: Work, released_at: float) -> None:
        """Every work order from its release to the end of the history (or its completion)."""
        done: list[tuple[float, WorkOrder]] = []
        for wo in work.work_orders:
            ops = [op for op in work.operations if op.work_order_id == wo.id]
            finished = self._run_one(work, wo, ops, released_at)
            if finished is not None:
                done.append((finished, wo))
        if done and len(done) == len(work.work_orders):
            done.sort(key=lambda x: x[0])
            for i, (t, wo) in enumerate(done):
                event_id = self._emit(WorkOrderCompleted(wo, i == len(done) - 1), t)
            work.completed_at, work.completed_event = done[-1][0], event_id
        else:
            for t, wo in done:
                self._emit(WorkOrderCompleted(wo, False), t)

    def _weigh(self, op: Operation, weigh_in: int, stones_mg: int) -> int:
        """The weigh-out of an attempt: stones added, or a loss (now and then above tolerance)."""
        if op.operation_code == STONE_SETTING:
            return weigh_in + stones_mg
        tol = op.loss_tolerance_per_mille
        if tol == 0:
            return weigh_in
        if self.rng.random() < _REVIEW_SHARE:
            return weigh_in - int(weigh_in * tol * self.rng.uniform(1.2, 2.0) // 1000 + 1)
        return weigh_in - int(weigh_in * tol * self.rng.uniform(0.1, 0.9) // 1000)

    def _run_one(self, work: Work, wo: WorkOrder, ops: list[Operation], t_queued: float) -> float | None:
        rng = self.rng
        style = self.styles[wo.style_sku]
        weight = style.metal.weight_mg * wo.quantity
        stones_mg = (
            sum(i.pieces * self.plant.stones.get(i.material_code, 0) for i in style.stones)
            * wo.quantity
            * _MG_PER_POINT
        )
        op = next(o for o in ops if o.status is OpS.QUEUED)
        while True:
            start = t_queued + min(36 * 3600.0, max(900.0, rng.expovariate(1 / (4 * 3600.0))))
            if start > self.end:
                return None
            finish = start + self._minutes(wo, op) * 60.0 * rng.uniform(0.8, 1.5)
            if finish > self.end:
                if self.busy_at_end.get(op.work_center, 0) >= self.capacity.get(op.work_center, 0):
                    return None  # no free slot at the end: it has not started yet
                self.busy_at_end[op.work_center] = self.busy_at_end.get(op.work_center, 0) + 1
            previous = op.start(rng.choice(self.operators), weight, at(start))
            op.version += 1
            if wo.start(at(start)):
                wo.version += 1
            self._emit(OperationChanged(op, previous), start)
            if finish > self.end:
                return None
            weigh_out = self._weigh(op, weight, stones_mg)
            previous = op.finish(op.started_by, weigh_out, 0, at(finish))
            op.version += 1
            work.attempts[(op.work_order_id, op.sequence, op.attempt)] = AttemptRecord.of(op)
            cause = self._emit(OperationChanged(op, previous), finish)
            t_done = finish
            if op.status is OpS.LOSS_REVIEW:
                t_done = finish + rng.uniform(1800.0, 4 * 3600.0)
                if t_done > self.end:
                    return None
                previous = op.resolve(
                    LossDecision.APPROVE, rng.choice(self.supervisors), "approved after re-weighing", at(t_done)
                )
                work.attempts[(op.work_order_id, op.sequence, op.attempt)] = AttemptRecord.of(op)
                op.version += 1
                cause = self._emit(OperationChanged(op, previous), t_done)
            if op.loss_mg > 0:
                name = operation_name(op.work_order_id, op.sequence)
                work.losses.append(Loss(t_done + 0.2, name, op.alloy_code, op.loss_mg, op.finished_by, cause))
            weight = op.weigh_out_mg
            following = next_operation(ops, after=op.sequence)
            if following is None:
                tried = [a for k, a in work.attempts.items() if k[0] == wo.id]
                wo.complete(reconcile(tried), at(t_done))
                wo.version += 1
                return t_done
            previous = following.queue(at(t_done))
            following.version += 1
            self._emit(OperationChanged(following, previous), t_done)
            op, t_queued = following, t_done

    @staticmethod
    def _minutes(wo: WorkOrder, op: Operation) -> int:
        return next(step.expected_minutes for step in wo.routing_snapshot if step.sequence == op.sequence)

    def cancel(self, work: Work, t: float, cause: str) -> None:
        """``orders.order.cancelled`` handled at ``t`` (before any work started): cancel everything open."""
        for wo in work.work_orders:
            for op in work.operations:
                if op.work_order_id == wo.id and not op.status.terminal:
                    previous = op.cancel(at(t))
                    op.version += 1
                    self._emit(OperationChanged(op, previous), t, cause)
            wo.metal = reconcile([a for k, a in work.attempts.items() if k[0] == wo.id])
            wo.cancel(at(t))
            wo.version += 1
        work.cancelled_at = t
        work.cancelled_event = self._emit(
            WorkOrdersCancelled(work.work_orders[0].order_id, tuple(work.work_orders), ()), t, cause
        )

    def close(self, work: Work, t: float) -> None:
        """CloseWorkOrder of every completed work order (metal reconciled); no event."""
        for wo in work.work_orders:
            wo.close(reconcile([a for k, a in work.attempts.items() if k[0] == wo.id]), at(t))
            wo.version += 1
