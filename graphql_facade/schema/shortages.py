"""Shortages: what an order waiting for material lacks, with a link to the order."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_facade.schema.common import Long, MaterialKind, Priority
from graphql_facade.schema.info import Info, field
from graphql_facade.schema.mirror import Mirror
from graphql_facade.schema.orders import OperatorOrder
from mes.inventory.v1 import inventory_pb2 as inv

__all__ = ["Shortage"]


def _missing_mg(pb: inv.Shortage) -> Long:
    return Long(max(0, pb.required_mg - pb.available_mg))


def _missing_pieces(pb: inv.Shortage) -> int:
    return max(0, pb.required_pieces - pb.available_pieces)


@strawberry.type(description="What an order waiting for material lacks.")
class Shortage(Mirror, missing_mg=_missing_mg, missing_pieces=_missing_pieces, since="since_time"):
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
