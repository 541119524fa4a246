"""Inventory types: reservations, balances and lots (shortages, which link to orders, are in ``shortages``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_facade.schema.common import Alloy, Long, MaterialKind, ReservationState, optional_enum, to_datetime
from graphql_facade.schema.info import Info
from mes.inventory.v1 import inventory_pb2 as inv

__all__ = ["AlloyBalance", "MaterialLot", "Reservation", "ReservationItem"]


@strawberry.type(description="Part of a reservation taken from one lot.")
class ReservationItem:
    lot_id: strawberry.ID
    material_code: str
    kind: MaterialKind | None
    weight_mg: Long
    pieces: int
    line_number: int


@strawberry.type(description="Material held for an order.")
class Reservation:
    id: strawberry.ID
    order_id: strawberry.ID
    state: ReservationState | None
    items: list[ReservationItem]
    create_time: datetime | None
    update_time: datetime | None
    version: Long

    @classmethod
    def from_pb(cls, pb: inv.Reservation) -> Reservation:
        return cls(
            id=strawberry.ID(pb.reservation_id),
            order_id=strawberry.ID(pb.order_id),
            state=optional_enum(ReservationState, pb.state),
            items=[
                ReservationItem(
                    lot_id=strawberry.ID(item.lot_id),
                    material_code=item.material_code,
                    kind=optional_enum(MaterialKind, item.kind),
                    weight_mg=Long(item.weight_mg),
                    pieces=item.pieces,
                    line_number=item.line_number,
                )
                for item in pb.items
            ],
            create_time=to_datetime(pb.create_time),
            update_time=to_datetime(pb.update_time),
            version=Long(pb.version),
        )


@strawberry.type(description="Stock of one alloy: on hand, reserved, available, and fine metal.")
class AlloyBalance:
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

    @classmethod
    def from_pb(cls, pb: inv.Balance) -> AlloyBalance:
        return cls(
            material_code=pb.material_code,
            on_hand_mg=Long(pb.on_hand_mg),
            reserved_mg=Long(pb.reserved_mg),
            available_mg=Long(pb.available_mg),
            fine_on_hand_mg=Long(pb.fine_on_hand_mg),
            fine_available_mg=Long(pb.fine_available_mg),
        )


@strawberry.type(description="A lot of metal or stones in stores.")
class MaterialLot:
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

    @classmethod
    def from_pb(cls, pb: inv.MaterialLot) -> MaterialLot:
        return cls(
            id=strawberry.ID(pb.lot_id),
            kind=optional_enum(MaterialKind, pb.kind),
            material_code=pb.material_code,
            received_mg=Long(pb.received_mg),
            on_hand_mg=Long(pb.on_hand_mg),
            reserved_mg=Long(pb.reserved_mg),
            received_pieces=pb.received_pieces,
            on_hand_pieces=pb.on_hand_pieces,
            reserved_pieces=pb.reserved_pieces,
            weight_points=Long(pb.weight_points),
            supplier_reference=pb.supplier_reference,
            receive_time=to_datetime(pb.receive_time),
            version=Long(pb.version),
        )
