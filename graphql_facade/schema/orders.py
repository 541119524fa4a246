"""Order types: the partners' view and the operators' richer one (both named ``Order``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graphql_facade.schema.common import Alloy, Long, OrderStatus, Priority, Style, optional_enum, to_datetime
from graphql_facade.schema.info import Info, field
from graphql_facade.schema.inventory import Reservation
from graphql_facade.schema.mirror import Mirror
from graphql_facade.schema.production import WorkOrder
from mes.orders.v1 import orders_pb2

__all__ = [
    "OperatorOrder",
    "OrderCounts",
    "OrderLine",
    "PartnerOrder",
    "StatusChange",
    "StatusCount",
    "order_fields",
]


@strawberry.type(description="One line of an order.")
class OrderLine(Mirror):
    line_number: int
    style_code: str
    alloy_code: str
    size: str
    engraving: str
    quantity: int

    @field(description="The style of the line (null when it left the catalogue).")
    async def style(self, info: Info) -> Style | None:
        found = await info.context.loaders.style.load(self.style_code)
        return Style.from_pb(found) if found is not None else None

    @field(description="The alloy of the line (null when it left the catalogue).")
    async def alloy(self, info: Info) -> Alloy | None:
        found = await info.context.loaders.alloy.load(self.alloy_code)
        return Alloy.from_pb(found) if found is not None else None


@strawberry.type(description="An entry of an order's status history.")
class StatusChange(Mirror, time="change_time"):
    from_status: OrderStatus | None
    to_status: OrderStatus | None
    reason: str
    time: datetime | None


def order_fields(pb: orders_pb2.Order) -> dict[str, Any]:
    return {
        "id": strawberry.ID(pb.order_id),
        "partner_reference": pb.partner_reference,
        "priority": optional_enum(Priority, pb.priority),
        "due_time": to_datetime(pb.due_time),
        "status": optional_enum(OrderStatus, pb.status),
        "status_reason": pb.status_reason,
        "late": pb.late,
        "version": pb.version,
        "create_time": to_datetime(pb.create_time),
        "update_time": to_datetime(pb.update_time),
        "lines": [OrderLine.from_pb(line) for line in pb.lines],
        "raw": pb,
    }


@strawberry.type(name="Order", description="A partner's order.")
class PartnerOrder:
    id: strawberry.ID
    partner_reference: str
    priority: Priority | None
    due_time: datetime | None
    status: OrderStatus | None
    status_reason: str
    late: bool = strawberry.field(description="The due time has passed and the order has not shipped.")
    version: Long
    create_time: datetime | None
    update_time: datetime | None
    lines: list[OrderLine]
    raw: strawberry.Private[orders_pb2.Order]

    @field(description="Status changes, oldest first.")
    async def status_history(self, info: Info) -> list[StatusChange]:
        changes = await info.context.loaders.status_history.load(self.raw.order_id)
        return [StatusChange.from_pb(c) for c in changes]

    @classmethod
    def from_pb(cls, pb: orders_pb2.Order) -> PartnerOrder:
        return cls(**order_fields(pb))


@strawberry.type(name="Order", description="An order with its production and materials.")
class OperatorOrder(PartnerOrder):
    partner_id: strawberry.ID

    @field(description="Work orders (one per line), in line order; null when production cannot be reached.")
    async def work_orders(self, info: Info) -> list[WorkOrder] | None:
        found = await info.context.loaders.work_orders_by_order.load(self.raw.order_id)
        return [WorkOrder.from_pb(wo) for wo in found]

    @field(description="Material reservations of the order; null when inventory cannot be reached.")
    async def reservations(self, info: Info) -> list[Reservation] | None:
        found = await info.context.loaders.reservations_by_order.load(self.raw.order_id)
        return [Reservation.from_pb(r) for r in found]

    @classmethod
    def from_pb(cls, pb: orders_pb2.Order) -> OperatorOrder:
        return cls(partner_id=strawberry.ID(pb.partner.removeprefix("partners/")), **order_fields(pb))


@strawberry.type
class StatusCount:
    status: OrderStatus
    count: Long


@strawberry.type(description="Orders per status.")
class OrderCounts:
    by_status: list[StatusCount]
    late: Long
    total: Long

    @classmethod
    def from_pb(cls, pb: orders_pb2.CountOrdersResponse) -> OrderCounts:
        counts = [
            StatusCount(status=status, count=Long(c.count))
            for c in pb.counts
            if (status := optional_enum(OrderStatus, c.status)) is not None
        ]
        return cls(by_status=counts, late=Long(pb.late_count), total=Long(sum(c.count for c in pb.counts)))
