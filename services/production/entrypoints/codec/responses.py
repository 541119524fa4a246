"""Domain objects -> ``mes.production.v1`` messages (replies and event payloads)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from services.production.domain.bom import MaterialRequirement
from services.production.domain.floor import WorkCenterState
from services.production.domain.operations import Operation, OperationStatus
from services.production.domain.resources import Operator, WorkCenter
from services.production.domain.styles import BomItem, RoutingStep, Style
from services.production.domain.views import LossSummary, WorkCenterStats
from services.production.domain.work_orders import WorkOrder
from services.production.entrypoints.codec.records import operation_into, work_order_into
from services.production.service_layer.records import operation_view, work_order_view

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
    "work_center_state",
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


def work_center_state(state: WorkCenterState) -> pb.WorkCenterState.ValueType:
    return pb.WorkCenterState.Value(f"WORK_CENTER_STATE_{state}")


def work_center_msg(center: WorkCenter) -> pb.WorkCenter:
    return pb.WorkCenter(
        name=f"workCenters/{center.code}",
        code=center.code,
        work_center_type=center.work_center_type,
        display_name=center.display_name,
        capacity=center.capacity,
        active=center.active,
        version=center.version,
        state=work_center_state(center.state),
        state_reason=center.state_reason,
        state_time=timestamp(center.state_time),
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
    message = pb.WorkOrder()
    work_order_into(message, work_order_view(wo))
    return message


def operation_status(status: OperationStatus) -> pb.OperationStatus.ValueType:
    return pb.OperationStatus.Value(f"OPERATION_STATUS_{status}")


def operation_msg(op: Operation) -> pb.Operation:
    message = pb.Operation()
    operation_into(message, operation_view(op))
    return message


def loss_summary_msg(summary: LossSummary) -> pb.LossSummary:
    return pb.LossSummary(
        key=summary.key,
        operations=summary.operations,
        weigh_in_mg=summary.weigh_in_mg,
        loss_mg=summary.loss_mg,
        loss_ppm=summary.loss_ppm,
        reviews=summary.reviews,
    )
