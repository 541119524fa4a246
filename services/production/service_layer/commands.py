"""Commands and queries: plain data decoded from requests (or built by event consumers),
each carrying the principal it acts for."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from mes_kernel.paging import PageRequest
from mes_kernel.principal import Principal
from services.production.domain.bom import LineSpec
from services.production.domain.operations import LossDecision, OperationStatus
from services.production.domain.resources import OperatorRole
from services.production.domain.styles import StyleDefinition
from services.production.domain.views import LossGrouping
from services.production.domain.work_orders import WorkOrderStatus

__all__ = [
    "BatchGet",
    "BlockWorkCenter",
    "CancelWorkOrders",
    "CloseWorkOrder",
    "CreateWorkOrders",
    "ExplodeBillOfMaterials",
    "FinishOperation",
    "Get",
    "HoldWorkOrder",
    "ListOperations",
    "ListPage",
    "ListWorkOrders",
    "OrderCancelled",
    "OrderSubmitted",
    "PauseOperation",
    "ReservationHeld",
    "ResolveLossReview",
    "ResumeOperation",
    "ResumeWorkOrder",
    "StartOperation",
    "SummarizeMetalLoss",
    "UnblockWorkCenter",
    "UpsertOperator",
    "UpsertStyle",
    "UpsertWorkCenter",
    "WorkCenterStatsQuery",
    "fingerprint",
]

K = TypeVar("K")


def fingerprint(command: Any, *, ignore: tuple[str, ...] = ("request_id", "principal")) -> str:
    """SHA-256 of the command's fields (order kept) without its idempotency key and caller."""
    data = {k: v for k, v in asdict(command).items() if k not in ignore}
    blob = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


# -- reads shared by every resource ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Get(Generic[K]):
    principal: Principal
    key: K


@dataclass(frozen=True, slots=True)
class BatchGet(Generic[K]):
    principal: Principal
    keys: tuple[K, ...]
    allow_missing: bool = False


@dataclass(frozen=True, slots=True)
class ListPage:
    principal: Principal
    page: PageRequest = field(default_factory=PageRequest)


# -- catalogue --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpsertStyle:
    principal: Principal
    definition: StyleDefinition


@dataclass(frozen=True, slots=True)
class ExplodeBillOfMaterials:
    principal: Principal
    lines: tuple[LineSpec, ...]


@dataclass(frozen=True, slots=True)
class UpsertWorkCenter:
    principal: Principal
    code: str
    work_center_type: str
    display_name: str
    capacity: int
    active: bool


@dataclass(frozen=True, slots=True)
class UpsertOperator:
    principal: Principal
    code: str
    display_name: str
    role: OperatorRole | None
    active: bool


@dataclass(frozen=True, slots=True)
class BlockWorkCenter:
    principal: Principal
    code: str
    reason: str
    operator_code: str = ""


@dataclass(frozen=True, slots=True)
class UnblockWorkCenter:
    principal: Principal
    code: str
    operator_code: str = ""


@dataclass(frozen=True, slots=True)
class WorkCenterStatsQuery:
    principal: Principal
    codes: tuple[str, ...] = ()
    window_minutes: int = 0


@dataclass(frozen=True, slots=True)
class SummarizeMetalLoss:
    principal: Principal
    grouping: LossGrouping = LossGrouping.OPERATION_CODE
    since: datetime | None = None


# -- work orders ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateWorkOrders:
    principal: Principal
    order_id: str
    priority: int
    lines: tuple[LineSpec, ...]


@dataclass(frozen=True, slots=True)
class ListWorkOrders:
    principal: Principal
    page: PageRequest = field(default_factory=PageRequest)
    order_ids: tuple[str, ...] = ()
    statuses: tuple[WorkOrderStatus, ...] = ()
    #: False: the caller does not want the routing snapshots (they are not read).
    with_routing: bool = True


@dataclass(frozen=True, slots=True)
class HoldWorkOrder:
    principal: Principal
    work_order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ResumeWorkOrder:
    principal: Principal
    work_order_id: str


@dataclass(frozen=True, slots=True)
class CloseWorkOrder:
    principal: Principal
    work_order_id: str


@dataclass(frozen=True, slots=True)
class CancelWorkOrders:
    principal: Principal
    order_id: str
    reason: str = ""


# -- operations -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartOperation:
    principal: Principal
    work_order_id: str
    sequence: int
    operator_code: str
    weigh_in_mg: int
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class PauseOperation:
    principal: Principal
    work_order_id: str
    sequence: int
    operator_code: str
    reason: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class ResumeOperation:
    principal: Principal
    work_order_id: str
    sequence: int
    operator_code: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class FinishOperation:
    principal: Principal
    work_order_id: str
    sequence: int
    operator_code: str
    weigh_out_mg: int
    scrap_returned_mg: int = 0
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class ResolveLossReview:
    principal: Principal
    work_order_id: str
    sequence: int
    supervisor_code: str
    decision: LossDecision | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ListOperations:
    principal: Principal
    page: PageRequest = field(default_factory=PageRequest)
    work_center: str | None = None
    work_order_ids: tuple[str, ...] = ()
    statuses: tuple[OperationStatus, ...] = field(default=())


# -- events of other services (the order saga) -----------------------------------------


@dataclass(frozen=True, slots=True)
class OrderSubmitted:
    """``orders.order.submitted``: the order's line specs (priority as sent: 0 = unspecified)."""

    order_id: str
    priority: int
    lines: tuple[LineSpec, ...]
    submit_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReservationHeld:
    """``inventory.reservation.held``."""

    order_id: str


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """``orders.order.cancelled``."""

    order_id: str
    reason: str = ""
