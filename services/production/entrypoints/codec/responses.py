"""Domain objects -> ``mes.production.v1`` messages (replies and event payloads)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from services.production.domain.bom import MaterialRequirement
from services.production.domain.operations import Operation, OperationStatus
from services.production.domain.resources import Operator, WorkCenter
from services.production.domain.styles import BomItem, RoutingStep, Style
from services.production.domain.views import LossSummary, WorkCenterStats
from services.production.domain.work_orders import WorkOrder

__all__ = [
    "loss_summary_msg",
    "operation_msg",
    "operation_name",
    "operation_status",
    "operator_msg",
    "requirement_msg",
    "stats_msg",
    "style_msg",
    "timestamp",
    "work_center_msg",
    "work_order_msg",
]


def operation_name(work_order_id: str, sequence: int) -> str:
    return f"workOrders/{work_order_id}/operations/{sequence}"


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def step_msg(step: RoutingStep) -> pb.RoutingStep:
    return pb.RoutingStep(
        sequence=step.sequence,
        operation_code=step.operation_code,
        work_center_type=step.work_center_type,
        expected_minutes=step.expected_minutes,
        loss_tolerance_per_mille=step.loss_tolerance_per_mille,
        optional=step.optional,
    )


def bom_item_msg(item: BomItem) -> pb.BomItem:
    kind = common_pb2.MaterialKind.Value(f"MATERIAL_KIND_{item.kind}" if item.kind else "MATERIAL_KIND_UNSPECIFIED")
    return pb.BomItem(kind=kind, material_code=item.material_code, weight_mg=item.weight_mg, pieces=item.pieces)


def style_msg(style: Style) -> pb.Style:
    return pb.Style(
        name=f"styles/{style.sku}",
        sku=style.sku,
        display_name=style.display_name,
        category=pb.StyleCategory.Value(f"STYLE_CATEGORY_{style.category}"),
        routing_version=style.routing_version,
        routing=[step_msg(s) for s in style.routing],
        bill_of_materials=[bom_item_msg(i) for i in style.bill_of_materials],
        active=style.active,
        version=style.version,
        update_time=timestamp(style.update_time),
    )


def requirement_msg(req: MaterialRequirement) -> common_pb2.MaterialRequirement:
    return common_pb2.MaterialRequirement(
        material_code=req.material_code,
        kind=common_pb2.MaterialKind.Value(f"MATERIAL_KIND_{req.kind}"),
        weight_mg=req.weight_mg,
        pieces=req.pieces,
        line_number=req.line_number,
    )


def work_center_msg(center: WorkCenter) -> pb.WorkCenter:
    return pb.WorkCenter(
        name=f"workCenters/{center.code}",
        code=center.code,
        work_center_type=center.work_center_type,
        display_name=center.display_name,
        capacity=center.capacity,
        active=center.active,
        version=center.version,
    )


def stats_msg(stats: WorkCenterStats) -> pb.WorkCenterStats:
    return pb.WorkCenterStats(
        work_center=f"workCenters/{stats.code}",
        queued=stats.queued,
        in_progress=stats.in_progress,
        in_review=stats.in_review,
        done_in_window=stats.done_in_window,
        window_minutes=stats.window_minutes,
        capacity=stats.capacity,
    )


def operator_msg(operator: Operator) -> pb.Operator:
    return pb.Operator(
        name=f"operators/{operator.code}",
        code=operator.code,
        display_name=operator.display_name,
        role=pb.OperatorRole.Value(f"OPERATOR_ROLE_{operator.role}"),
        active=operator.active,
        version=operator.version,
    )


def work_order_msg(wo: WorkOrder) -> pb.WorkOrder:
    return pb.WorkOrder(
        name=f"workOrders/{wo.id}",
        work_order_id=wo.id,
        order_id=wo.order_id,
        line_number=wo.line_number,
        style_sku=wo.style_sku,
        alloy_code=wo.alloy_code,
        size=wo.size,
        engraving=wo.engraving,
        quantity=wo.quantity,
        status=pb.WorkOrderStatus.Value(f"WORK_ORDER_STATUS_{wo.status}"),
        routing_version=wo.routing_version,
        routing_snapshot=[step_msg(s) for s in wo.routing_snapshot],
        issued_mg=wo.metal.issued_mg,
        finished_mg=wo.metal.finished_mg,
        loss_mg=wo.metal.loss_mg,
        scrap_returned_mg=wo.metal.scrap_returned_mg,
        priority=wo.priority,  # type: ignore[arg-type]  # validated 0..4
        version=wo.version,
        create_time=timestamp(wo.create_time),
        update_time=timestamp(wo.update_time),
    )


def operation_status(status: OperationStatus) -> pb.OperationStatus.ValueType:
    return pb.OperationStatus.Value(f"OPERATION_STATUS_{status}")


def operation_msg(op: Operation) -> pb.Operation:
    return pb.Operation(
        name=operation_name(op.work_order_id, op.sequence),
        work_order_id=op.work_order_id,
        sequence=op.sequence,
        operation_code=op.operation_code,
        work_center_type=op.work_center_type,
        work_center=f"workCenters/{op.work_center}" if op.work_center else "",
        status=operation_status(op.status),
        weigh_in_mg=op.weigh_in_mg,
        weigh_out_mg=op.weigh_out_mg,
        scrap_returned_mg=op.scrap_returned_mg,
        loss_mg=op.loss_mg,
        loss_tolerance_per_mille=op.loss_tolerance_per_mille,
        started_by=op.started_by,
        finished_by=op.finished_by,
        reviewed_by=op.reviewed_by,
        review_note=op.review_note,
        start_time=timestamp(op.start_time),
        finish_time=timestamp(op.finish_time),
        attempt=op.attempt,
        alloy_code=op.alloy_code,
        order_id=op.order_id,
        version=op.version,
    )


def loss_summary_msg(summary: LossSummary) -> pb.LossSummary:
    return pb.LossSummary(
        key=summary.key,
        operations=summary.operations,
        weigh_in_mg=summary.weigh_in_mg,
        loss_mg=summary.loss_mg,
        loss_ppm=summary.loss_ppm,
        reviews=summary.reviews,
    )
