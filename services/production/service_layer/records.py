"""What the read use cases return: records with the fields of the API's resources.

The SQL adapters select exactly the columns of a view (a named tuple: one tuple per row, no
domain object, no per-column attribute lookup in SQLAlchemy's rows, a routing snapshot decoded
only when it is asked for), and the codec writes them straight into the reply. A domain
:class:`~services.production.domain.operations.Operation` is an :class:`OperationRecord` as it
is; a domain work order becomes a :class:`WorkOrderView` (replies of writes, the fakes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from services.production.domain.work_orders import WorkOrder

__all__ = [
    "OperationRecord",
    "OperationView",
    "RoutingStepRecord",
    "WorkOrderRecord",
    "WorkOrderView",
    "work_order_view",
]

#: One routing step as stored in the snapshot: the fields of ``RoutingStep`` by name.
RoutingStepRecord = Mapping[str, Any]


class WorkOrderRecord(Protocol):
    """A work order as the reads return it (statuses by name)."""

    @property
    def id(self) -> str: ...
    @property
    def order_id(self) -> str: ...
    @property
    def line_number(self) -> int: ...
    @property
    def style_sku(self) -> str: ...
    @property
    def alloy_code(self) -> str: ...
    @property
    def size(self) -> str: ...
    @property
    def engraving(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def routing_version(self) -> int: ...
    @property
    def routing_snapshot(self) -> Sequence[RoutingStepRecord] | None:
        """None when the read left it out (nobody asked for it)."""

    @property
    def issued_mg(self) -> int: ...
    @property
    def finished_mg(self) -> int: ...
    @property
    def loss_mg(self) -> int: ...
    @property
    def scrap_returned_mg(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def create_time(self) -> datetime: ...
    @property
    def update_time(self) -> datetime: ...


class WorkOrderView(NamedTuple):
    """A :class:`WorkOrderRecord` made from a domain work order."""

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
    metal = wo.metal
    return WorkOrderView(
        wo.id,
        wo.order_id,
        wo.line_number,
        wo.style_sku,
        wo.alloy_code,
        wo.size,
        wo.engraving,
        wo.quantity,
        wo.status,
        wo.priority,
        wo.routing_version,
        [asdict(step) for step in wo.routing_snapshot],
        metal.issued_mg,
        metal.finished_mg,
        metal.loss_mg,
        metal.scrap_returned_mg,
        wo.version,
        wo.create_time,
        wo.update_time,
    )


class OperationRecord(Protocol):
    """An operation as the reads return it (statuses by name; times None until set)."""

    @property
    def work_order_id(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def order_id(self) -> str: ...
    @property
    def operation_code(self) -> str: ...
    @property
    def work_center_type(self) -> str: ...
    @property
    def work_center(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def alloy_code(self) -> str: ...
    @property
    def loss_tolerance_per_mille(self) -> int: ...
    @property
    def weigh_in_mg(self) -> int: ...
    @property
    def weigh_out_mg(self) -> int: ...
    @property
    def scrap_returned_mg(self) -> int: ...
    @property
    def loss_mg(self) -> int: ...
    @property
    def started_by(self) -> str: ...
    @property
    def finished_by(self) -> str: ...
    @property
    def reviewed_by(self) -> str: ...
    @property
    def review_note(self) -> str: ...
    @property
    def start_time(self) -> datetime | None: ...
    @property
    def finish_time(self) -> datetime | None: ...
    @property
    def attempt(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def create_time(self) -> datetime: ...


class OperationView(NamedTuple):
    """An :class:`OperationRecord` as a read returns it."""

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
    version: int
    create_time: datetime
