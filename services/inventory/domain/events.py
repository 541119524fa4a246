"""Domain events: what happened, recorded in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass

from services.inventory.domain.alloys import Alloy
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.reservations import Reservation
from services.inventory.domain.waiting import Shortage

__all__ = [
    "AlloyUpserted",
    "CustodyRecorded",
    "DomainEvent",
    "LotReceived",
    "ReservationCommitted",
    "ReservationConsumed",
    "ReservationFailed",
    "ReservationHeld",
    "ReservationReleased",
]


@dataclass(frozen=True)
class AlloyUpserted:
    alloy: Alloy


@dataclass(frozen=True)
class LotReceived:
    lot: MaterialLot


@dataclass(frozen=True)
class _ReservationEvent:
    """A reservation moved to another state; ``reservation`` as it is now."""

    reservation: Reservation


class ReservationHeld(_ReservationEvent):
    """Every requirement of an order was reserved."""


@dataclass(frozen=True)
class ReservationFailed:
    order_id: str
    shortages: tuple[Shortage, ...]


@dataclass(frozen=True)
class ReservationReleased(_ReservationEvent):
    reason: str


class ReservationCommitted(_ReservationEvent):
    """The reserved material was issued to the order."""


class ReservationConsumed(_ReservationEvent):
    """The order was completed with the material it was issued."""


@dataclass(frozen=True)
class CustodyRecorded:
    entry: CustodyEntry


DomainEvent = (
    AlloyUpserted
    | LotReceived
    | ReservationHeld
    | ReservationFailed
    | ReservationReleased
    | ReservationCommitted
    | ReservationConsumed
    | CustodyRecorded
)
