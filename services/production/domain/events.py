"""Events other services react to; adapters encode them as protobuf outbox rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.production.domain.bom import MaterialRequirement
from services.production.domain.floor import WorkCenterState
from services.production.domain.operations import Operation, OperationStatus
from services.production.domain.resources import WorkCenter
from services.production.domain.styles import Style
from services.production.domain.work_orders import WorkOrder

__all__ = [
    "Event",
    "OperationChanged",
    "RequirementsComputed",
    "RequirementsFailed",
    "StyleUpserted",
    "WorkCenterChanged",
    "WorkOrderCompleted",
    "WorkOrdersCancelled",
    "WorkOrdersReleased",
]


@dataclass(frozen=True, slots=True)
class StyleUpserted:
    style: Style


@dataclass(frozen=True, slots=True)
class RequirementsComputed:
    order_id: str
    priority: int
    requirements: tuple[MaterialRequirement, ...]
    submit_time: datetime | None


@dataclass(frozen=True, slots=True)
class RequirementsFailed:
    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class WorkOrdersReleased:
    order_id: str
    work_orders: tuple[WorkOrder, ...]


@dataclass(frozen=True, slots=True)
class OperationChanged:
    operation: Operation
    from_status: OperationStatus


@dataclass(frozen=True, slots=True)
class WorkOrderCompleted:
    work_order: WorkOrder
    order_completed: bool


@dataclass(frozen=True, slots=True)
class WorkOrdersCancelled:
    order_id: str
    work_orders: tuple[WorkOrder, ...]
    returned: tuple[MaterialRequirement, ...]


@dataclass(frozen=True, slots=True)
class WorkCenterChanged:
    """A work center's state (or a blocked one's reason) changed."""

    work_center: WorkCenter
    from_state: WorkCenterState


Event = (
    StyleUpserted
    | RequirementsComputed
    | RequirementsFailed
    | WorkOrdersReleased
    | OperationChanged
    | WorkOrderCompleted
    | WorkOrdersCancelled
    | WorkCenterChanged
)
