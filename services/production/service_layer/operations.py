"""Operation use cases: start (weigh-in), pause and resume, finish (weigh-out), loss review, reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from mes_kernel.batch import BatchResult, check_batch_size
from mes_kernel.clock import as_utc
from mes_kernel.errors import ResourceExhausted
from mes_kernel.paging import Page
from mes_kernel.principal import require_staff
from mes_kernel.validation import Violations
from services.production.domain.events import OperationChanged, WorkOrderCompleted
from services.production.domain.floor import MAX_REASON_LENGTH
from services.production.domain.operations import MAX_WEIGHT_MG, AttemptRecord, LossDecision, Operation
from services.production.domain.operations import OperationStatus as S
from services.production.domain.resources import check_operator, check_supervisor
from services.production.domain.work_orders import WorkOrder, WorkOrderStatus, next_operation, reconcile
from services.production.service_layer.commands import (
    BatchGet,
    FinishOperation,
    Get,
    ListOperations,
    PauseOperation,
    ResolveLossReview,
    ResumeOperation,
    StartOperation,
)
from services.production.service_layer.common import UseCases, act_as, found
from services.production.service_layer.floor import follow_center, follow_operations
from services.production.service_layer.ports import OperationKey, OperationView, QueueKey, UnitOfWork
from services.production.service_layer.work_orders import get_work_order

__all__ = ["OperationHandlers", "advance"]

#: The change an operator makes at the bench (start, pause, resume, finish), inside the unit of work.
Step = Callable[[UnitOfWork, WorkOrder, Operation, datetime], Awaitable[None]]
#: What an operator records at the bench.
BenchCommand = StartOperation | PauseOperation | ResumeOperation | FinishOperation


def _label(key: OperationKey) -> str:
    return f"workOrders/{key[0]}/operations/{key[1]}"


async def _operation(uow: UnitOfWork, key: OperationKey) -> Operation:
    return found(await uow.operations.get(*key), f"operation {_label(key)}")


async def _load(uow: UnitOfWork, name: str) -> Operation:
    work_order_id, _, sequence = name.rpartition("/")
    return await _operation(uow, (work_order_id, int(sequence)))


def _key_name(op: Operation) -> str:
    return f"{op.work_order_id}/{op.sequence}"


def _queue_key(key: list[Any]) -> QueueKey:
    priority, created, work_order_id, sequence = key
    return int(priority), datetime.fromisoformat(created), str(work_order_id), int(sequence)


def _sort_key(op: OperationView) -> list[Any]:
    return [op.priority, as_utc(op.create_time).isoformat(), op.work_order_id, op.sequence]


async def advance(uow: UnitOfWork, work_order: WorkOrder, done: Operation, now: datetime) -> None:
    """After an operation is DONE: queue the next step, or complete the work order."""
    operations = await uow.operations.for_work_orders([work_order.id])
    following = next_operation(operations, after=done.sequence)
    if following is not None:
        previous = following.queue(now)
        await uow.operations.update(following)
        await uow.emit(OperationChanged(following, previous))
        return
    work_order.complete(reconcile(await uow.operations.attempts([work_order.id])), now)
    await uow.work_orders.update(work_order)
    # The order's spec row serializes completions of sibling work orders, so that exactly the
    # last one to complete sees every other one completed.
    await uow.order_specs.get(work_order.order_id, for_update=True)
    siblings = [wo for wo in await uow.work_orders.for_order(work_order.order_id) if wo.id != work_order.id]
    order_completed = all(
        wo.status in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CLOSED)
        for wo in siblings
        if wo.status is not WorkOrderStatus.CANCELLED
    )
    await uow.emit(WorkOrderCompleted(work_order, order_completed))


class OperationHandlers(UseCases):
    async def _at_bench(self, cmd: BenchCommand, method: str, step: Step) -> Operation:
        """An active operator records work at an operation of a workable work order (weighs it
        in or out, pauses or resumes it): ``step`` makes the change; idempotent by request_id
        (per caller and method: the same request answers the stored result)."""
        now = self._deps.clock()

        async def create(uow: UnitOfWork) -> tuple[str, Operation]:
            work_order = await get_work_order(uow, cmd.work_order_id, for_update=True)
            op = await _operation(uow, (cmd.work_order_id, cmd.sequence))
            check_operator(await uow.operators.get(cmd.operator_code), "operator_code")
            work_order.require_workable()
            await step(uow, work_order, op, now)
            return _key_name(op), op

        return await self._once(cmd, method, create, _load)

    async def start_operation(self, cmd: StartOperation) -> Operation:
        """QUEUED -> IN_PROGRESS with the weigh-in; idempotent by request_id."""
        act_as(cmd.principal, cmd.operator_code)
        v = Violations()
        v.code(cmd.operator_code, "operator_code")
        v.positive(cmd.weigh_in_mg, "weigh_in_mg", maximum=MAX_WEIGHT_MG)
        v.request_id(cmd.request_id)
        v.raise_if_any()

        async def start(uow: UnitOfWork, work_order: WorkOrder, op: Operation, now: datetime) -> None:
            previous = op.start(cmd.operator_code, cmd.weigh_in_mg, now)
            center = await uow.work_centers.get(op.work_center, for_update=True) if op.work_center else None
            if center is not None:
                center.require_open()
                # Paused operations keep their place: they count against the capacity.
                if await uow.operations.count_in_progress(center.code, with_paused=True) >= center.capacity:
                    raise ResourceExhausted(
                        f"work center {center.code} is at capacity ({center.capacity} in progress)",
                        reason="CAPACITY_EXCEEDED",
                        metadata={"work_center": center.code, "capacity": str(center.capacity)},
                    )
            await uow.operations.update(op)
            if work_order.start(now):
                await uow.work_orders.update(work_order)
            await uow.emit(OperationChanged(op, previous))
            if center is not None:
                await follow_center(uow, center, now)

        return await self._at_bench(cmd, "StartOperation", start)

    async def pause_operation(self, cmd: PauseOperation) -> Operation:
        """IN_PROGRESS -> PAUSED with a reason; idempotent by request_id (pausing a paused
        operation with another request is FAILED_PRECONDITION). The operation keeps its place at
        the work center (its metal and its bench, so it still counts against the capacity), but
        no longer makes the center RUNNING."""
        act_as(cmd.principal, cmd.operator_code)
        v = Violations()
        v.code(cmd.operator_code, "operator_code")
        v.text(cmd.reason.strip(), "reason", max_len=MAX_REASON_LENGTH, required=True)
        v.request_id(cmd.request_id)
        v.raise_if_any()

        async def pause(uow: UnitOfWork, work_order: WorkOrder, op: Operation, now: datetime) -> None:
            previous = op.pause(cmd.operator_code, cmd.reason, now)
            await uow.operations.update(op)
            await uow.emit(OperationChanged(op, previous))
            await follow_operations(uow, [op.work_center], now)

        return await self._at_bench(cmd, "PauseOperation", pause)

    async def resume_operation(self, cmd: ResumeOperation) -> Operation:
        """PAUSED -> IN_PROGRESS (the pause's length added to ``paused_seconds``); idempotent by
        request_id. Like a start, it is refused at a BLOCKED work center; it needs no room (the
        operation kept its place)."""
        act_as(cmd.principal, cmd.operator_code)
        v = Violations()
        v.code(cmd.operator_code, "operator_code")
        v.request_id(cmd.request_id)
        v.raise_if_any()

        async def resume(uow: UnitOfWork, work_order: WorkOrder, op: Operation, now: datetime) -> None:
            previous = op.resume(cmd.operator_code, now)
            center = await uow.work_centers.get(op.work_center, for_update=True) if op.work_center else None
            if center is not None:
                center.require_open()
            await uow.operations.update(op)
            await uow.emit(OperationChanged(op, previous))
            if center is not None:
                await follow_center(uow, center, now)

        return await self._at_bench(cmd, "ResumeOperation", resume)

    async def finish_operation(self, cmd: FinishOperation) -> Operation:
        """IN_PROGRESS -> DONE (loss within tolerance) or LOSS_REVIEW; idempotent by request_id.
        A PAUSED operation must be resumed first (FAILED_PRECONDITION)."""
        act_as(cmd.principal, cmd.operator_code)
        v = Violations()
        v.code(cmd.operator_code, "operator_code")
        v.non_negative(cmd.weigh_out_mg, "weigh_out_mg", maximum=MAX_WEIGHT_MG)
        v.non_negative(cmd.scrap_returned_mg, "scrap_returned_mg", maximum=MAX_WEIGHT_MG)
        v.request_id(cmd.request_id)
        v.raise_if_any()

        async def finish(uow: UnitOfWork, work_order: WorkOrder, op: Operation, now: datetime) -> None:
            previous = op.finish(cmd.operator_code, cmd.weigh_out_mg, cmd.scrap_returned_mg, now)
            await uow.operations.update(op)
            await uow.operations.save_attempt(AttemptRecord.of(op))
            await uow.emit(OperationChanged(op, previous))
            await follow_operations(uow, [op.work_center], now)
            if op.status is S.DONE:
                await advance(uow, work_order, op, now)

        return await self._at_bench(cmd, "FinishOperation", finish)

    async def resolve_loss_review(self, cmd: ResolveLossReview) -> Operation:
        """LOSS_REVIEW -> DONE (approve, then as any DONE) or REWORK (queued again as a new attempt)."""
        act_as(cmd.principal, cmd.supervisor_code)
        v = Violations()
        v.code(cmd.supervisor_code, "supervisor_code")
        v.check(cmd.decision is not None, "decision", "must be APPROVE or REWORK")
        v.text(cmd.note, "note", max_len=500)
        v.raise_if_any()
        decision = cmd.decision or LossDecision.APPROVE
        now = self._deps.clock()
        key = (cmd.work_order_id, cmd.sequence)

        async def tx(uow: UnitOfWork) -> Operation:
            work_order = await get_work_order(uow, cmd.work_order_id, for_update=True)
            op = await _operation(uow, key)
            check_supervisor(await uow.operators.get(cmd.supervisor_code), "supervisor_code")
            work_order.require_workable()
            previous = op.resolve(decision, cmd.supervisor_code, cmd.note, now)
            await uow.operations.save_attempt(AttemptRecord.of(op))
            await uow.operations.update(op)
            await uow.emit(OperationChanged(op, previous))
            if op.status is S.DONE:
                await advance(uow, work_order, op, now)
            else:
                previous = op.queue(now)
                await uow.operations.update(op)
                await uow.emit(OperationChanged(op, previous))
            return op

        return await self._write(tx)

    async def get_operation(self, query: Get[OperationKey]) -> Operation:
        require_staff(query.principal)
        async with self._uows.read() as uow:
            return await _operation(uow, query.key)

    async def batch_get_operations(self, query: BatchGet[OperationKey]) -> BatchResult[OperationKey, OperationView]:
        require_staff(query.principal)
        return await self._batch(query, lambda uow, keys: uow.operations.get_many(keys), _label)

    async def list_operations(self, query: ListOperations) -> Page[OperationView]:
        """Queue order: priority (highest first), then create time, then name; pages of up to
        1000 when the operations of given work orders are listed."""
        require_staff(query.principal)
        check_batch_size(len(query.work_order_ids), "work_order_ids")
        filters = {
            "list": "operations",
            "work_center": query.work_center or "",
            "work_order_ids": sorted(set(query.work_order_ids)),
            "statuses": sorted(set(query.statuses)),
        }

        async def fetch(uow: UnitOfWork, after: QueueKey | None, limit: int) -> list[OperationView]:
            return await uow.operations.list_page(
                after,
                limit,
                work_center=query.work_center,
                work_order_ids=query.work_order_ids,
                statuses=query.statuses,
            )

        return await self._listing(
            query.principal, query.page, filters, _queue_key, fetch, _sort_key, by_ids=bool(query.work_order_ids)
        )
