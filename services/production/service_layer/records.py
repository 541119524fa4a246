"""What the read use cases return: views with the fields of the API's resources.

The SQL adapters select exactly the columns of a view (a named tuple per row: no domain object,
no per-column attribute lookup in SQLAlchemy's rows, a routing snapshot decoded only when it is
asked for), and the codec writes views straight into the reply. Domain objects become views
for the replies and events of writes (and in the in-memory fakes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, NamedTuple

from services.production.domain.operations import Operation
from services.production.domain.work_orders import WorkOrder

__all__ = ["OperationView", "RoutingStepRecord", "WorkOrderView", "operation_view", "work_order_view"]

#: One routing step as stored in the snapshot: the fields of ``RoutingStep`` by name.
RoutingStepRecord = Mapping[str, Any]


class WorkOrderView(NamedTuple):
    """A work order as the reads return it (status by name; ``routing_snapshot`` None when
    the read left it out)."""

    id: str
    order_id: str
    line_number: int
    style_sku: str
    alloy_code: str
    size: str
    engraving: str
    quantity: int
    status: str
    priority: int
    routing_version: int
    routing_snapshot: Sequence[RoutingStepRecord] | None
    issued_mg: int
    finished_mg: int
    loss_mg: int
    scrap_returned_mg: int
    version: int
    create_time: datetime
    update_time: datetime


def work_order_view(wo: WorkOrder) -> WorkOrderView:
    fields: dict[str, Any] = {name: getattr(wo, name, None) for name in WorkOrderView._fields}
    fields.update(asdict(wo.metal), routing_snapshot=[asdict(step) for step in wo.routing_snapshot])
    return WorkOrderView(**fields)


class OperationView(NamedTuple):
    """An operation as the reads return it (status by name; times None until set; the pause's
    reason and start only while it is PAUSED)."""

    work_order_id: str
    sequence: int
    order_id: str
    operation_code: str
    work_center_type: str
    work_center: str
    status: str
    priority: int
    alloy_code: str
    loss_tolerance_per_mille: int
    weigh_in_mg: int
    weigh_out_mg: int
    scrap_returned_mg: int
    loss_mg: int
    started_by: str
    finished_by: str
    reviewed_by: str
    review_note: str
    start_time: datetime | None
    finish_time: datetime | None
    attempt: int
    pause_reason: str
    pause_time: datetime | None
    paused_seconds: int
    version: int
    create_time: datetime


def operation_view(op: Operation) -> OperationView:
    return OperationView(*(getattr(op, name) for name in OperationView._fields))
