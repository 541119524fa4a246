"""Views -> ``mes.production.v1`` messages, written field by field into the reply (repeated
fields grown with ``add``), honouring the read mask of work orders.

One writer per resource serves the reads (the rows' views) and the replies and events of
writes (domain objects made views), so both say the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from mes.production.v1 import production_pb2 as pb
from mes_platform.wire import read_mask_fields, set_time
from services.production.domain.operations import OperationStatus
from services.production.domain.work_orders import WorkOrderStatus
from services.production.service_layer.records import OperationView, RoutingStepRecord, WorkOrderView

__all__ = [
    "ALL_WORK_ORDER_FIELDS",
    "WorkOrderFields",
    "operation_into",
    "operations_into",
    "wants_routing",
    "work_order_fields",
    "work_order_into",
    "work_orders_into",
]

#: The fields of a work order a read asks for (None: every field).
WorkOrderFields = frozenset[str] | None
ALL_WORK_ORDER_FIELDS = frozenset(pb.WorkOrder.DESCRIPTOR.fields_by_name)
_ROUTING = "routing_snapshot"
_BODY = ALL_WORK_ORDER_FIELDS - {_ROUTING}
_WORK_ORDER_STATUS = {s.value: pb.WorkOrderStatus.Value(f"WORK_ORDER_STATUS_{s}") for s in WorkOrderStatus}
_OPERATION_STATUS = {s.value: pb.OperationStatus.Value(f"OPERATION_STATUS_{s}") for s in OperationStatus}


def work_order_fields(read_mask: FieldMask) -> WorkOrderFields:
    """The fields a request's ``read_mask`` asks for (INVALID_ARGUMENT for unknown ones)."""
    return read_mask_fields(read_mask, pb.WorkOrder.DESCRIPTOR)


def wants_routing(fields: WorkOrderFields) -> bool:
    return fields is None or _ROUTING in fields


def _steps_into(steps: RepeatedCompositeFieldContainer[pb.RoutingStep], snapshot: Sequence[RoutingStepRecord]) -> None:
    add = steps.add
    for step in snapshot:
        add(
            sequence=step["sequence"],
            operation_code=step["operation_code"],
            work_center_type=step["work_center_type"],
            expected_minutes=step["expected_minutes"],
            loss_tolerance_per_mille=step["loss_tolerance_per_mille"],
            optional=step["optional"],
        )


def _body_into(m: pb.WorkOrder, wo: WorkOrderView) -> None:
    m.name = "workOrders/" + wo.id
    m.work_order_id = wo.id
    m.order_id = wo.order_id
    m.line_number = wo.line_number
    m.style_sku = wo.style_sku
    m.alloy_code = wo.alloy_code
    m.size = wo.size
    m.engraving = wo.engraving
    m.quantity = wo.quantity
    m.status = _WORK_ORDER_STATUS[wo.status]
    m.routing_version = wo.routing_version
    m.issued_mg = wo.issued_mg
    m.finished_mg = wo.finished_mg
    m.loss_mg = wo.loss_mg
    m.scrap_returned_mg = wo.scrap_returned_mg
    m.priority = wo.priority  # type: ignore[assignment]  # validated 0..4
    m.version = wo.version
    set_time(m.create_time, wo.create_time)
    set_time(m.update_time, wo.update_time)


def _routing_into(m: pb.WorkOrder, wo: WorkOrderView) -> None:
    if wo.routing_snapshot is not None:
        _steps_into(m.routing_snapshot, wo.routing_snapshot)


def _left_out(fields: WorkOrderFields) -> tuple[str, ...]:
    """The fields of the body a mask leaves out (cleared after the body is written)."""
    return () if fields is None else tuple(sorted(_BODY - fields))


def _into(m: pb.WorkOrder, wo: WorkOrderView, routing: bool, left_out: tuple[str, ...]) -> None:
    _body_into(m, wo)
    if routing:
        _routing_into(m, wo)
    for name in left_out:
        m.ClearField(name)  # type: ignore[arg-type]  # a field of WorkOrder by name


def work_order_into(m: pb.WorkOrder, wo: WorkOrderView, fields: WorkOrderFields = None) -> None:
    """Write the work order's ``fields`` (None: all) into ``m``."""
    _into(m, wo, wants_routing(fields), _left_out(fields))


def work_orders_into(
    repeated: RepeatedCompositeFieldContainer[pb.WorkOrder], records: Iterable[WorkOrderView], fields: WorkOrderFields
) -> None:
    add = repeated.add
    routing, left_out = wants_routing(fields), _left_out(fields)
    for wo in records:
        _into(add(), wo, routing, left_out)


def operation_into(m: pb.Operation, op: OperationView) -> None:
    m.name = f"workOrders/{op.work_order_id}/operations/{op.sequence}"
    m.work_order_id = op.work_order_id
    m.sequence = op.sequence
    m.operation_code = op.operation_code
    m.work_center_type = op.work_center_type
    m.work_center = "workCenters/" + op.work_center if op.work_center else ""
    m.status = _OPERATION_STATUS[op.status]
    m.weigh_in_mg = op.weigh_in_mg
    m.weigh_out_mg = op.weigh_out_mg
    m.scrap_returned_mg = op.scrap_returned_mg
    m.loss_mg = op.loss_mg
    m.loss_tolerance_per_mille = op.loss_tolerance_per_mille
    m.started_by = op.started_by
    m.finished_by = op.finished_by
    m.reviewed_by = op.reviewed_by
    m.review_note = op.review_note
    if op.start_time is not None:
        set_time(m.start_time, op.start_time)
    if op.finish_time is not None:
        set_time(m.finish_time, op.finish_time)
    m.attempt = op.attempt
    m.alloy_code = op.alloy_code
    m.order_id = op.order_id
    m.version = op.version
    m.pause_reason = op.pause_reason
    if op.pause_time is not None:
        set_time(m.pause_time, op.pause_time)
    m.paused_seconds = op.paused_seconds


def operations_into(repeated: RepeatedCompositeFieldContainer[pb.Operation], records: Iterable[OperationView]) -> None:
    add = repeated.add
    for op in records:
        operation_into(add(), op)
