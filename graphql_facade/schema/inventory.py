"""Inventory types: reservations, balances and lots (shortages, which link to orders, are in ``shortages``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_facade.schema.common import Alloy, Long, MaterialKind, ReservationState
from graphql_facade.schema.info import Info
from graphql_facade.schema.mirror import Mirror

__all__ = ["AlloyBalance", "MaterialLot", "Reservation", "ReservationItem"]


@strawberry.type(description="Part of a reservation taken from one lot.")
class ReservationItem(Mirror):
    lot_id: strawberry.ID
    material_code: str
    kind: MaterialKind | None
    weight_mg: Long
    pieces: int
    line_number: int


@strawberry.type(description="Material held for an order.")
class Reservation(Mirror, id="reservation_id"):
    id: strawberry.ID
    order_id: strawberry.ID
    state: ReservationState | None
    items: list[ReservationItem]
    create_time: datetime | None
    update_time: datetime | None
    version: Long


@strawberry.type(description="Stock of one alloy: on hand, reserved, available, and fine metal.")
class AlloyBalance(Mirror):
    material_code: str
    on_hand_mg: Long
    reserved_mg: Long
    available_mg: Long
    fine_on_hand_mg: Long = strawberry.field(description="On hand * fineness / 1000.")
    fine_available_mg: Long

    @strawberry.field
    async def alloy(self, info: Info) -> Alloy | None:
        found = await info.context.loaders.alloy.load(self.material_code)
        return Alloy.from_pb(found) if found is not None else None


@strawberry.type(description="A lot of metal or stones in stores.")
class MaterialLot(Mirror, id="lot_id"):
    id: strawberry.ID
    kind: MaterialKind | None
    material_code: str
    received_mg: Long
    on_hand_mg: Long
    reserved_mg: Long
    received_pieces: int
    on_hand_pieces: int
    reserved_pieces: int
    weight_points: Long = strawberry.field(description="Stones: total weight in points (0.01 ct).")
    supplier_reference: str
    receive_time: datetime | None
    version: Long
