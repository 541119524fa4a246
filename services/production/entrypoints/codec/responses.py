"""Domain objects -> ``mes.production.v1`` messages (replies and event payloads)."""

from __future__ import annotations

from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from mes_platform.wire import message_from, timestamp
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


def step_msg(step: RoutingStep) -> pb.RoutingStep:
    return message_from(pb.RoutingStep, step)


def bom_item_msg(item: BomItem) -> pb.BomItem:
    kind = common_pb2.MaterialKind.Value(f"MATERIAL_KIND_{item.kind}" if item.kind else "MATERIAL_KIND_UNSPECIFIED")
    return pb.BomItem(kind=kind, material_code=item.material_code, weight_mg=item.weight_mg, pieces=item.pieces)


def style_msg(style: Style) -> pb.Style:
    return message_from(
        pb.Style,
        style,
        name=f"styles/{style.sku}",
        category=pb.StyleCategory.Value(f"STYLE_CATEGORY_{style.category}"),
        routing=[step_msg(s) for s in style.routing],
        bill_of_materials=[bom_item_msg(i) for i in style.bill_of_materials],
        update_time=timestamp(style.update_time),
    )


def requirement_msg(req: MaterialRequirement) -> common_pb2.MaterialRequirement:
    kind = common_pb2.MaterialKind.Value(f"MATERIAL_KIND_{req.kind}")
    return message_from(common_pb2.MaterialRequirement, req, kind=kind)


def work_center_state(state: WorkCenterState) -> pb.WorkCenterState.ValueType:
    return pb.WorkCenterState.Value(f"WORK_CENTER_STATE_{state}")


def work_center_msg(center: WorkCenter) -> pb.WorkCenter:
    return message_from(
        pb.WorkCenter,
        center,
        name=f"workCenters/{center.code}",
        state=work_center_state(center.state),
        state_time=timestamp(center.state_time),
    )


def stats_msg(stats: WorkCenterStats) -> pb.WorkCenterStats:
    return message_from(
        pb.WorkCenterStats,
        stats,
        work_center=f"workCenters/{stats.code}",
        oldest_queued_time=timestamp(stats.oldest_queued_time),
        wip_metal=[pb.AlloyWeight(alloy_code=alloy, gross_mg=gross) for alloy, gross in stats.wip_metal],
    )


def operator_msg(operator: Operator) -> pb.Operator:
    role = pb.OperatorRole.Value(f"OPERATOR_ROLE_{operator.role}")
    return message_from(pb.Operator, operator, name=f"operators/{operator.code}", role=role)


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
    return message_from(pb.LossSummary, summary)
