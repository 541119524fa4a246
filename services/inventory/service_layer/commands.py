"""Commands and queries: plain data decoded from requests (or built by event consumers).

Enum fields are None when the request left them unspecified; validation reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.materials import MaterialKind, Metal, Priority
from services.inventory.domain.reservations import ReservationState

__all__ = [
    "ListQuery",
    "ListReservations",
    "ReceiveLot",
    "RecordCustody",
    "RequirementInput",
    "ReserveOrder",
    "UpsertAlloy",
]


@dataclass(frozen=True)
class ListQuery:
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class UpsertAlloy:
    code: str
    metal: Metal | None
    fineness: int
    colour: str
    density_mg_per_cm3: int = 0
    display_name: str = ""
    active: bool = True
    #: When not 0, the stored version the caller expects (optimistic concurrency).
    version: int = 0
    #: "alloys/{code}" when the caller set it; must agree with ``code``.
    name: str = ""


@dataclass(frozen=True)
class ReceiveLot:
    kind: MaterialKind | None
    material_code: str
    weight_mg: int = 0
    pieces: int = 0
    weight_points: int = 0
    supplier_reference: str = ""
    request_id: str = ""
    #: Canonical hash of the request without its request_id.
    fingerprint: str = ""
    #: Who calls (idempotency keys are scoped to the caller).
    caller: str = ""


@dataclass(frozen=True)
class RequirementInput:
    material_code: str
    kind: MaterialKind | None
    weight_mg: int = 0
    pieces: int = 0
    line_number: int = 0


@dataclass(frozen=True)
class ReserveOrder:
    order_id: str
    requirements: tuple[RequirementInput, ...]
    priority: Priority | None = None
    queue_on_shortage: bool = False
    submit_time: datetime | None = None


@dataclass(frozen=True)
class ListReservations(ListQuery):
    order_ids: tuple[str, ...] = ()
    states: tuple[ReservationState, ...] = ()


@dataclass(frozen=True)
class RecordCustody:
    kind: CustodyKind | None
    holder: str
    material_code: str
    lot_id: str = ""
    weight_mg: int = 0
    pieces: int = 0
    reference: str = ""
    operator_code: str = ""
    request_id: str = ""
    fingerprint: str = ""
    caller: str = ""
