"""Commands and queries: plain data decoded from requests (or built by event consumers)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from services.production.domain.bom import LineSpec
from services.production.domain.operations import LossDecision, OperationStatus
from services.production.domain.resources import OperatorRole
from services.production.domain.styles import StyleDefinition
from services.production.domain.views import LossGrouping
from services.production.domain.work_orders import WorkOrderStatus

__all__ = [
    "CancelWorkOrders",
    "CloseWorkOrder",
    "CreateWorkOrders",
    "FinishOperation",
    "HoldWorkOrder",
    "ListOperations",
    "ListWorkOrders",
    "PageRequest",
    "ResolveLossReview",
    "ResumeWorkOrder",
    "StartOperation",
    "SummarizeMetalLoss",
    "UpsertOperator",
    "UpsertStyle",
    "UpsertWorkCenter",
    "WorkCenterStatsQuery",
    "fingerprint",
]


def fingerprint(command: Any, *, ignore: tuple[str, ...] = ("request_id",)) -> str:
    """SHA-256 of the command's fields (order kept) without its idempotency key."""
    data = {k: v for k, v in asdict(command).items() if k not in ignore}
    blob = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PageRequest:
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class UpsertStyle:
    definition: StyleDefinition


@dataclass(frozen=True, slots=True)
class UpsertWorkCenter:
    code: str
    work_center_type: str
    display_name: str
    capacity: int
    active: bool


@dataclass(frozen=True, slots=True)
class UpsertOperator:
    code: str
    display_name: str
    role: OperatorRole | None
    active: bool


@dataclass(frozen=True, slots=True)
class WorkCenterStatsQuery:
    codes: tuple[str, ...] = ()
    window_minutes: int = 0


@dataclass(frozen=True, slots=True)
class CreateWorkOrders:
    order_id: str
    priority: int
    lines: tuple[LineSpec, ...]


@dataclass(frozen=True, slots=True)
class ListWorkOrders:
    page: PageRequest = PageRequest()
    order_ids: tuple[str, ...] = ()
    statuses: tuple[WorkOrderStatus, ...] = ()


@dataclass(frozen=True, slots=True)
class HoldWorkOrder:
    work_order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ResumeWorkOrder:
    work_order_id: str


@dataclass(frozen=True, slots=True)
class CloseWorkOrder:
    work_order_id: str


@dataclass(frozen=True, slots=True)
class CancelWorkOrders:
    order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StartOperation:
    work_order_id: str
    sequence: int
    operator_code: str
    weigh_in_mg: int
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class FinishOperation:
    work_order_id: str
    sequence: int
    operator_code: str
    weigh_out_mg: int
    scrap_returned_mg: int = 0
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class ResolveLossReview:
    work_order_id: str
    sequence: int
    supervisor_code: str
    decision: LossDecision | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ListOperations:
    page: PageRequest = PageRequest()
    work_center: str | None = None
    work_order_ids: tuple[str, ...] = ()
    statuses: tuple[OperationStatus, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SummarizeMetalLoss:
    grouping: LossGrouping = LossGrouping.OPERATION_CODE
    since: datetime | None = None
