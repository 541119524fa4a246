"""Domain objects <-> protobuf messages (responses and event payloads)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as ev
from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts import events
from mes_contracts.events import EventType
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import CustodyEntry, CustodyKind
from services.inventory.domain.events import (
    AlloyUpserted,
    CustodyRecorded,
    DomainEvent,
    LotReceived,
    ReservationCommitted,
    ReservationConsumed,
    ReservationFailed,
    ReservationHeld,
    ReservationReleased,
)
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.materials import MaterialKind, Metal, Priority
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.domain.waiting import Shortage

__all__ = [
    "CUSTODY_KINDS",
    "KINDS",
    "METALS",
    "PRIORITIES",
    "STATES",
    "alloy_pb",
    "balance_pb",
    "entry_pb",
    "event_message",
    "from_timestamp",
    "lot_pb",
    "reservation_pb",
    "shortage_pb",
    "timestamp",
]

METALS: dict[Metal, pb.Metal.ValueType] = {
    Metal.GOLD: pb.METAL_GOLD,
    Metal.SILVER: pb.METAL_SILVER,
    Metal.PLATINUM: pb.METAL_PLATINUM,
    Metal.PALLADIUM: pb.METAL_PALLADIUM,
}
KINDS: dict[MaterialKind, common_pb2.MaterialKind.ValueType] = {
    MaterialKind.METAL: common_pb2.MATERIAL_KIND_METAL,
    MaterialKind.STONE: common_pb2.MATERIAL_KIND_STONE,
}
PRIORITIES: dict[Priority, common_pb2.Priority.ValueType] = {
    Priority.LOW: common_pb2.PRIORITY_LOW,
    Priority.NORMAL: common_pb2.PRIORITY_NORMAL,
    Priority.HIGH: common_pb2.PRIORITY_HIGH,
    Priority.RUSH: common_pb2.PRIORITY_RUSH,
}
STATES: dict[ReservationState, pb.ReservationState.ValueType] = {
    ReservationState.HELD: pb.RESERVATION_STATE_HELD,
    ReservationState.COMMITTED: pb.RESERVATION_STATE_COMMITTED,
    ReservationState.CONSUMED: pb.RESERVATION_STATE_CONSUMED,
    ReservationState.RELEASED: pb.RESERVATION_STATE_RELEASED,
}
CUSTODY_KINDS: dict[CustodyKind, pb.CustodyKind.ValueType] = {
    CustodyKind.ISSUE: pb.CUSTODY_KIND_ISSUE,
    CustodyKind.RECEIVE: pb.CUSTODY_KIND_RECEIVE,
    CustodyKind.LOSS: pb.CUSTODY_KIND_LOSS,
    CustodyKind.RECOVERY: pb.CUSTODY_KIND_RECOVERY,
    CustodyKind.RETURN: pb.CUSTODY_KIND_RETURN,
}


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def alloy_pb(alloy: Alloy) -> pb.Alloy:
    return pb.Alloy(
        name=f"alloys/{alloy.code}",
        code=alloy.code,
        metal=METALS[alloy.metal],
        fineness=alloy.fineness,
        colour=alloy.colour,
        density_mg_per_cm3=alloy.density_mg_per_cm3,
        display_name=alloy.display_name,
        version=alloy.version,
        active=alloy.active,
    )


def lot_pb(lot: MaterialLot) -> pb.MaterialLot:
    return pb.MaterialLot(
        name=f"lots/{lot.lot_id}",
        lot_id=lot.lot_id,
        kind=KINDS[lot.kind],
        material_code=lot.material_code,
        received_mg=lot.received_mg,
        on_hand_mg=lot.on_hand_mg,
        reserved_mg=lot.reserved_mg,
        received_pieces=lot.received_pieces,
        on_hand_pieces=lot.on_hand_pieces,
        reserved_pieces=lot.reserved_pieces,
        weight_points=lot.weight_points,
        supplier_reference=lot.supplier_reference,
        receive_time=timestamp(lot.receive_time),
        version=lot.version,
    )


def reservation_pb(reservation: Reservation) -> pb.Reservation:
    return pb.Reservation(
        name=f"reservations/{reservation.reservation_id}",
        reservation_id=reservation.reservation_id,
        order_id=reservation.order_id,
        state=STATES[reservation.state],
        items=[
            pb.ReservationItem(
                lot_id=item.lot_id,
                material_code=item.material_code,
                kind=KINDS[item.kind],
                weight_mg=item.weight_mg,
                pieces=item.pieces,
                line_number=item.line_number,
            )
            for item in reservation.items
        ],
        create_time=timestamp(reservation.create_time),
        update_time=timestamp(reservation.update_time),
        version=reservation.version,
    )


def shortage_pb(shortage: Shortage) -> pb.Shortage:
    metal = shortage.kind is MaterialKind.METAL
    return pb.Shortage(
        order_id=shortage.order_id,
        material_code=shortage.material_code,
        kind=KINDS[shortage.kind],
        required_mg=shortage.required if metal else 0,
        available_mg=shortage.available if metal else 0,
        required_pieces=0 if metal else shortage.required,
        available_pieces=0 if metal else shortage.available,
        priority=PRIORITIES[shortage.priority],
        since_time=timestamp(shortage.since_time),
    )


def entry_pb(entry: CustodyEntry) -> pb.CustodyEntry:
    return pb.CustodyEntry(
        name=f"custodyEntries/{entry.entry_id}",
        entry_id=entry.entry_id,
        kind=CUSTODY_KINDS[entry.kind],
        holder=entry.holder,
        material_code=entry.material_code,
        lot_id=entry.lot_id,
        weight_mg=entry.weight_mg,
        pieces=entry.pieces,
        reference=entry.reference,
        operator_code=entry.operator_code,
        create_time=timestamp(entry.create_time),
    )


def balance_pb(balance: Balance) -> pb.Balance:
    return pb.Balance(
        name=f"balances/{balance.material_code}",
        material_code=balance.material_code,
        kind=KINDS[balance.kind] if balance.kind else common_pb2.MATERIAL_KIND_UNSPECIFIED,
        on_hand_mg=balance.on_hand_mg,
        reserved_mg=balance.reserved_mg,
        available_mg=balance.available_mg,
        fine_on_hand_mg=balance.fine_on_hand_mg,
        fine_available_mg=balance.fine_available_mg,
        on_hand_pieces=balance.on_hand_pieces,
        reserved_pieces=balance.reserved_pieces,
        available_pieces=balance.available_pieces,
    )


def event_message(event: DomainEvent) -> tuple[EventType[Message], Message]:
    """The event type and payload of a domain event."""
    match event:
        case AlloyUpserted(alloy=alloy):
            return events.ALLOY_UPSERTED, ev.AlloyUpsertedEvent(alloy=alloy_pb(alloy))
        case LotReceived(lot=lot):
            return events.LOT_RECEIVED, ev.LotReceivedEvent(lot=lot_pb(lot))
        case ReservationHeld(reservation=r):
            return events.RESERVATION_HELD, ev.ReservationHeldEvent(order_id=r.order_id, reservation=reservation_pb(r))
        case ReservationFailed(order_id=order_id, shortages=shortages):
            return events.RESERVATION_FAILED, ev.ReservationFailedEvent(
                order_id=order_id, shortages=[shortage_pb(s) for s in shortages]
            )
        case ReservationReleased(reservation=r, reason=reason):
            return events.RESERVATION_RELEASED, ev.ReservationReleasedEvent(
                order_id=r.order_id, reservation=reservation_pb(r), reason=reason
            )
        case ReservationCommitted(reservation=r):
            return events.RESERVATION_COMMITTED, ev.ReservationStateChangedEvent(
                order_id=r.order_id, reservation=reservation_pb(r)
            )
        case ReservationConsumed(reservation=r):
            return events.RESERVATION_CONSUMED, ev.ReservationStateChangedEvent(
                order_id=r.order_id, reservation=reservation_pb(r)
            )
        case CustodyRecorded(entry=entry):
            return events.CUSTODY_RECORDED, ev.CustodyRecordedEvent(entry=entry_pb(entry))
    raise TypeError(f"no message for {type(event).__name__}")  # pragma: no cover
