"""Helpers for the production integration tests: callers, requests, error details, outbox."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import func, select

from mes.common.v1 import common_pb2
from mes.production.v1 import production_events_pb2 as ev
from mes.production.v1 import production_pb2 as pb
from mes_contracts.events import (
    CALENDAR_CHANGED,
    OPERATION_EVENTS,
    REQUIREMENTS_COMPUTED,
    REQUIREMENTS_FAILED,
    STYLE_UPSERTED,
    WORK_CENTER_CHANGED,
    WORK_ORDER_COMPLETED,
    WORK_ORDERS_CANCELLED,
    WORK_ORDERS_RELEASED,
)
from services.production.adapters import tables
from services.production.bootstrap import App
from tests._infra.auth import AS_OPERATOR, AS_SERVICE, DEADLINE_S
from tests.unit.production._factories import RING_ROUTING, WORK_CENTERS

SERVICE, OPERATOR_1, T = AS_SERVICE, AS_OPERATOR, DEADLINE_S
METAL = common_pb2.MATERIAL_KIND_METAL
STONE = common_pb2.MATERIAL_KIND_STONE
S = pb.OperationStatus
W = pb.WorkOrderStatus

EVENT_TYPES: dict[str, type[Message]] = {
    STYLE_UPSERTED.subject: ev.StyleUpsertedEvent,
    REQUIREMENTS_COMPUTED.subject: ev.RequirementsComputedEvent,
    REQUIREMENTS_FAILED.subject: ev.RequirementsFailedEvent,
    WORK_ORDERS_RELEASED.subject: ev.WorkOrdersReleasedEvent,
    **{operation.subject: ev.OperationChangedEvent for operation in OPERATION_EVENTS},
    WORK_ORDER_COMPLETED.subject: ev.WorkOrderCompletedEvent,
    WORK_ORDERS_CANCELLED.subject: ev.WorkOrdersCancelledEvent,
    WORK_CENTER_CHANGED.subject: ev.WorkCenterChangedEvent,
    CALENDAR_CHANGED.subject: ev.ShiftCalendarChangedEvent,
}


def step(seq: int, code: str, wc_type: str, tolerance: int = 10, optional: bool = False) -> pb.RoutingStep:
    return pb.RoutingStep(
        sequence=seq,
        operation_code=code,
        work_center_type=wc_type,
        expected_minutes=30,
        loss_tolerance_per_mille=tolerance,
        optional=optional,
    )


def style(
    sku: str = "RNG-001",
    *,
    routing: Sequence[tuple[str, str, int, bool]] = RING_ROUTING,
    metal_mg: int = 5_000,
    stones: Sequence[tuple[str, int]] = (("DIA-150", 3),),
    display_name: str = "Solitaire ring",
) -> pb.Style:
    return pb.Style(
        sku=sku,
        display_name=display_name,
        category=pb.STYLE_CATEGORY_RING,
        routing=[step(i + 1, *s) for i, s in enumerate(routing)],
        bill_of_materials=[
            pb.BomItem(kind=METAL, weight_mg=metal_mg),
            *(pb.BomItem(kind=STONE, material_code=code, pieces=n) for code, n in stones),
        ],
        active=True,
    )


def line(
    n: int = 1, sku: str = "RNG-001", alloy: str = "AU750Y", quantity: int = 1, engraving: str = ""
) -> pb.LineSpec:
    return pb.LineSpec(
        line_number=n, style_code=sku, alloy_code=alloy, size="54", engraving=engraving, quantity=quantity
    )


def op_name(work_order: pb.WorkOrder, sequence: int) -> str:
    return f"{work_order.name}/operations/{sequence}"


async def outbox(app: App, subject: str | Collection[str] | None = None) -> list[tuple[str, Any]]:
    """(subject, decoded event) of every outbox row (under ``subject``, or one of several), oldest first."""
    async with app.db.read() as session:
        query = select(tables.infra.outbox.c.subject, tables.infra.outbox.c.payload).order_by(tables.infra.outbox.c.seq)
        rows = (await session.execute(query)).all()
    events = [(s, EVENT_TYPES[s].FromString(p)) for s, p in rows]
    wanted = {subject} if isinstance(subject, str) else subject
    return [e for e in events if wanted is None or e[0] in wanted]


async def row_counts(app: App) -> dict[str, int]:
    """Rows per table: proves that a rejected request wrote nothing."""
    counts = {}
    async with app.db.read() as session:
        for table in tables.metadata.sorted_tables:
            counts[table.name] = int((await session.execute(select(func.count()).select_from(table))).scalar_one())
    return counts


async def setup_floor(stub: Any, *, capacity: int = 2, supervisor: str = "SUP-1") -> None:
    """Work centers of the ring routing (no PLATE, no QC center), operators OP-1, OP-2 and a supervisor."""
    for code, wc_type in WORK_CENTERS:
        center = pb.WorkCenter(code=code, work_center_type=wc_type, display_name=code, capacity=capacity, active=True)
        await stub.UpsertWorkCenter(pb.UpsertWorkCenterRequest(work_center=center), metadata=SERVICE, timeout=T)
    for code, role in (
        ("OP-1", pb.OPERATOR_ROLE_OPERATOR),
        ("OP-2", pb.OPERATOR_ROLE_OPERATOR),
        (supervisor, pb.OPERATOR_ROLE_SUPERVISOR),
    ):
        operator = pb.Operator(code=code, display_name=f"Operator {code}", role=role, active=True)
        await stub.UpsertOperator(pb.UpsertOperatorRequest(operator=operator), metadata=SERVICE, timeout=T)


async def upsert_style(stub: Any, s: pb.Style | None = None) -> pb.Style:
    """Create or update ``s`` (the ring style of :func:`style` by default) as the service."""
    reply = await stub.UpsertStyle(pb.UpsertStyleRequest(style=s or style()), metadata=SERVICE, timeout=T)
    return reply.style


async def ready(stub: Any, *, capacity: int = 2) -> None:
    """The floor of :func:`setup_floor` and the ring style."""
    await setup_floor(stub, capacity=capacity)
    await upsert_style(stub)


async def create_order(
    stub: Any, order_id: str, lines: Sequence[pb.LineSpec], priority: int = common_pb2.PRIORITY_NORMAL
) -> list[pb.WorkOrder]:
    reply = await stub.CreateWorkOrders(
        pb.CreateWorkOrdersRequest(order_id=order_id, priority=priority, lines=list(lines)),  # type: ignore[arg-type]
        metadata=SERVICE,
        timeout=T,
    )
    return list(reply.work_orders)


async def operations_of(stub: Any, work_order: pb.WorkOrder) -> list[pb.Operation]:
    reply = await stub.ListOperations(
        pb.ListOperationsRequest(work_order_ids=[work_order.work_order_id], page_size=100), metadata=SERVICE, timeout=T
    )
    return sorted(reply.operations, key=lambda op: op.sequence)


async def start_op(stub: Any, name: str, weigh_in: int, operator: str = "OP-2", request_id: str = "") -> pb.Operation:
    reply = await stub.StartOperation(
        pb.StartOperationRequest(name=name, operator_code=operator, weigh_in_mg=weigh_in, request_id=request_id),
        metadata=SERVICE,
        timeout=T,
    )
    return reply.operation


async def review_op(stub: Any, name: str, decision: int, supervisor: str = "SUP-1", note: str = "") -> pb.Operation:
    """Resolve the loss review of the operation ``name`` (approve or rework)."""
    request = pb.ResolveLossReviewRequest(name=name, supervisor_code=supervisor, decision=decision, note=note)
    reply = await stub.ResolveLossReview(request, metadata=SERVICE, timeout=T)
    return reply.operation


async def finish_op(
    stub: Any, name: str, weigh_out: int, scrap: int = 0, operator: str = "OP-2", request_id: str = ""
) -> pb.Operation:
    reply = await stub.FinishOperation(
        pb.FinishOperationRequest(
            name=name, operator_code=operator, weigh_out_mg=weigh_out, scrap_returned_mg=scrap, request_id=request_id
        ),
        metadata=SERVICE,
        timeout=T,
    )
    return reply.operation
