"""Production types: work orders, operations, work centers and metal loss."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from graphql_facade.backend import Backend
from graphql_facade.loaders import list_all
from graphql_facade.schema.common import (
    Alloy,
    Long,
    OperationStatus,
    Priority,
    Style,
    WorkOrderStatus,
    to_datetime,
)
from graphql_facade.schema.connections import Connection, list_connection
from graphql_facade.schema.info import Info, field
from graphql_facade.schema.mirror import Mirror
from graphql_facade.schema.shifts import ShiftCalendar, WorkCenterOutput, calendar_of, output_of
from mes.production.v1 import production_pb2 as prod

__all__ = [
    "AT_BENCH",
    "LossSummary",
    "Operation",
    "WorkCenter",
    "WorkCenterState",
    "WorkCenterStats",
    "WorkOrder",
    "at_bench",
    "operation_id",
    "operation_name",
]


#: The operations that hold a place at their work center.
AT_BENCH = (prod.OPERATION_STATUS_IN_PROGRESS, prod.OPERATION_STATUS_PAUSED)


async def at_bench(backend: Backend, code: str) -> list[prod.Operation]:
    """The operations in progress and paused at work center ``code``, page by page."""
    return await list_all(
        lambda token: backend.production.list_operations(
            prod.ListOperationsRequest(
                work_center=f"workCenters/{code}", statuses=AT_BENCH, page_size=100, page_token=token
            )
        ),
        lambda response: response.operations,
    )


def operation_id(op: prod.Operation) -> str:
    """The GraphQL id of an operation: ``<work order id>.<sequence>``."""
    return f"{op.work_order_id}.{op.sequence}"


def operation_name(ident: str) -> str | None:
    """``<work order id>.<sequence>`` -> ``workOrders/<id>/operations/<sequence>`` (None when malformed)."""
    work_order, dot, sequence = ident.rpartition(".")
    if not dot or not work_order or not sequence.isdigit():
        return None
    return f"workOrders/{work_order}/operations/{int(sequence)}"


def _center_id(pb: prod.Operation) -> strawberry.ID | None:
    """The code of the work center an operation is at (None before it has one)."""
    center = pb.work_center.removeprefix("workCenters/")
    return strawberry.ID(center) if center else None


def _itself(pb: prod.WorkOrder) -> prod.WorkOrder:
    """The message itself (its routing snapshot keys the operations' loader)."""
    return pb


def _wip(pb: prod.WorkCenterStats) -> int:
    """Operations in progress (or paused) or in loss review."""
    return pb.in_progress + pb.in_review


def _throughput_per_hour(pb: prod.WorkCenterStats) -> float:
    """Operations done per hour over the stats window (an empty window counts as one minute)."""
    return round(pb.done_in_window * 60 / (pb.window_minutes or 1), 3)


@strawberry.enum(
    description="A work center's state: RUNNING while an operation is in progress there, IDLE when none is "
    "(paused ones do not count), BLOCKED (with a reason) until the block is lifted."
)
class WorkCenterState(Enum):
    RUNNING = prod.WORK_CENTER_STATE_RUNNING
    IDLE = prod.WORK_CENTER_STATE_IDLE
    BLOCKED = prod.WORK_CENTER_STATE_BLOCKED


@strawberry.type(description="One routing step of a work order on the shop floor.")
class Operation(Mirror, id=operation_id, work_center_id=_center_id):
    id: strawberry.ID
    work_order_id: strawberry.ID
    order_id: strawberry.ID
    sequence: int
    operation_code: str
    work_center_type: str
    work_center_id: strawberry.ID | None
    status: OperationStatus | None
    weigh_in_mg: Long
    weigh_out_mg: Long
    scrap_returned_mg: Long
    loss_mg: Long = strawberry.field(description="weighIn - weighOut - scrapReturned.")
    loss_tolerance_per_mille: int
    started_by: str
    finished_by: str
    reviewed_by: str
    review_note: str
    start_time: datetime | None
    finish_time: datetime | None
    attempt: int
    alloy_code: str
    version: Long
    pause_reason: str = strawberry.field(description="Why it is paused (PAUSED only).")
    pause_time: datetime | None = strawberry.field(description="When the current pause began (PAUSED only).")
    paused_seconds: Long = strawberry.field(description="Seconds paused over the pauses of this attempt that ended.")

    @strawberry.field
    async def work_center(self, info: Info) -> WorkCenter | None:
        if self.work_center_id is None:
            return None
        found = await info.context.loaders.work_center.load(str(self.work_center_id))
        return WorkCenter.from_pb(found) if found is not None else None

    @strawberry.field
    async def work_order(self, info: Info) -> WorkOrder | None:
        found = await info.context.loaders.work_order.load(str(self.work_order_id))
        return WorkOrder.from_pb(found) if found is not None else None

    @field(description="When its order is due (null when the order cannot be read).")
    async def due_time(self, info: Info) -> datetime | None:
        found = await info.context.loaders.order.load(str(self.order_id))
        return to_datetime(found.due_time) if found is not None else None


@strawberry.type(description='A work order ("job bag") for one order line.')
class WorkOrder(Mirror, id="work_order_id", raw=_itself):
    id: strawberry.ID
    order_id: strawberry.ID
    line_number: int
    style_sku: str
    alloy_code: str
    size: str
    engraving: str
    quantity: int
    status: WorkOrderStatus | None
    routing_version: int
    issued_mg: Long = strawberry.field(description="Metal issued (first weigh-in).")
    finished_mg: Long = strawberry.field(description="Metal finished (last weigh-out).")
    loss_mg: Long
    scrap_returned_mg: Long
    priority: Priority | None
    version: Long
    create_time: datetime | None
    update_time: datetime | None
    raw: strawberry.Private[prod.WorkOrder]

    @field(description="The operations of the routing, in sequence.")
    async def operations(self, info: Info) -> list[Operation] | None:
        key = (self.raw.work_order_id, tuple(step.sequence for step in self.raw.routing_snapshot))
        return [Operation.from_pb(op) for op in await info.context.loaders.operations.load(key)]

    @strawberry.field
    async def style(self, info: Info) -> Style | None:
        found = await info.context.loaders.style.load(self.style_sku)
        return Style.from_pb(found) if found is not None else None

    @strawberry.field
    async def alloy(self, info: Info) -> Alloy | None:
        found = await info.context.loaders.alloy.load(self.alloy_code)
        return Alloy.from_pb(found) if found is not None else None


@strawberry.type(description="Load and output of a work center over the stats window.")
class WorkCenterStats(Mirror, wip=_wip, throughput_per_hour=_throughput_per_hour):
    queued: int
    in_progress: int = strawberry.field(description="Operations in progress, paused ones included (at the bench).")
    in_review: int
    wip: int = strawberry.field(description="Operations in progress (or paused) or in loss review.")
    done_in_window: int
    window_minutes: int
    capacity: int
    throughput_per_hour: float


@strawberry.type(description="A work center (bench, machine or team) with its queue.")
class WorkCenter(Mirror, id="code"):
    id: strawberry.ID
    code: str
    work_center_type: str
    display_name: str
    capacity: int
    active: bool
    version: Long
    state: WorkCenterState | None
    state_reason: str = strawberry.field(description="Why it is blocked (BLOCKED only).")
    state_time: datetime | None = strawberry.field(description="When the state last changed.")

    @field(description="WIP and throughput.")
    async def stats(self, info: Info) -> WorkCenterStats | None:
        found = await info.context.loaders.work_center_stats.load(self.code)
        return WorkCenterStats.from_pb(found) if found is not None else None

    @field(description="Operations waiting at or in progress on this work center (QUEUED by default).")
    async def queue(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        statuses: list[OperationStatus] | None = None,
    ) -> Connection[Operation]:
        wanted = [s.value for s in statuses] if statuses else [prod.OPERATION_STATUS_QUEUED]
        request = prod.ListOperationsRequest(work_center=f"workCenters/{self.code}", statuses=wanted)
        call = info.context.backend.production.list_operations
        return await list_connection(call, request, lambda page: page.operations, Operation.from_pb, first, after)

    @field(
        description="Operations at the bench: IN_PROGRESS and PAUSED (they hold a place: at most the "
        "capacity), in queue order; null when production cannot be reached."
    )
    async def current(self, info: Info) -> list[Operation] | None:
        return [Operation.from_pb(op) for op in await at_bench(info.context.backend, self.code)]

    @field(description="Its shifts and hourly output target (null: none set, off shift all the time).")
    async def calendar(self, info: Info) -> ShiftCalendar | None:
        return await calendar_of(info, self.code)

    @field(description="Output against target this hour and this shift, and utilisation, now.")
    async def output(self, info: Info) -> WorkCenterOutput | None:
        return await output_of(info, self.code)


@strawberry.type(description="Metal loss of one operation code or one operator.")
class LossSummary(Mirror):
    key: str = strawberry.field(description="Operation code or operator code.")
    operations: int
    weigh_in_mg: Long
    loss_mg: Long
    loss_ppm: Long = strawberry.field(description="Loss per million of the weigh-in.")
    reviews: int
