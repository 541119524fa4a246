"""Shortages: what an order waiting for material lacks, with a link to the order."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_facade.schema.common import Long, MaterialKind, Priority, optional_enum, to_datetime
from graphql_facade.schema.info import Info, field
from graphql_facade.schema.orders import OperatorOrder
from mes.inventory.v1 import inventory_pb2 as inv

__all__ = ["Shortage"]


@strawberry.type(description="What an order waiting for material lacks.")
class Shortage:
    order_id: strawberry.ID
    material_code: str
    kind: MaterialKind | None
    required_mg: Long
    available_mg: Long
    missing_mg: Long
    required_pieces: int
    available_pieces: int
    missing_pieces: int
    priority: Priority | None
    since: datetime | None

    @field(description="The blocked order.")
    async def order(self, info: Info) -> OperatorOrder | None:
        found = await info.context.loaders.order.load(str(self.order_id))
        return OperatorOrder.from_pb(found) if found is not None else None

    @classmethod
    def from_pb(cls, pb: inv.Shortage) -> Shortage:
        return cls(
            order_id=strawberry.ID(pb.order_id),
            material_code=pb.material_code,
            kind=optional_enum(MaterialKind, pb.kind),
            required_mg=Long(pb.required_mg),
            available_mg=Long(pb.available_mg),
            missing_mg=Long(max(0, pb.required_mg - pb.available_mg)),
            required_pieces=pb.required_pieces,
            available_pieces=pb.available_pieces,
            missing_pieces=max(0, pb.required_pieces - pb.available_pieces),
            priority=optional_enum(Priority, pb.priority),
            since=to_datetime(pb.since_time),
        )
