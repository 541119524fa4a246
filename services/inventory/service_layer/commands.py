"""Commands and queries: plain data decoded from requests, with the acting principal.

Enum fields are None when the request left them unspecified; validation reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mes_kernel.paging import PageRequest
from mes_kernel.principal import Principal
from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.materials import MaterialKind, Metal, Priority
from services.inventory.domain.reservations import ReservationState

__all__ = [
    "BatchGet",
    "ChangeReservation",
    "Get",
    "ListBalances",
    "ListCustody",
    "ListLots",
    "ListQuery",
    "ListReservations",
    "ReceiveLot",
    "RecordCustody",
    "RequirementInput",
    "ReserveOrder",
    "UpsertAlloy",
]


@dataclass(frozen=True)
class Get:
    """One alloy, lot or reservation by its key (code or id)."""

    principal: Principal
    key: str


@dataclass(frozen=True)
class BatchGet:
    """Several by key, answered in the order of ``keys``."""

    principal: Principal
    keys: tuple[str, ...]
    allow_missing: bool = False


@dataclass(frozen=True)
class ListQuery:
    """A page of a listing (alloys, shortages; the listings below add their filters)."""

    principal: Principal
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class ListLots(ListQuery):
    material_code: str = ""


@dataclass(frozen=True)
class ListBalances(ListQuery):
    kind: MaterialKind | None = None


@dataclass(frozen=True)
class ListReservations(ListQuery):
    order_ids: tuple[str, ...] = ()
    states: tuple[ReservationState, ...] = ()


@dataclass(frozen=True)
class ListCustody(ListQuery):
    holder: str = ""
    material_code: str = ""
    reference: str = ""


@dataclass(frozen=True)
class UpsertAlloy:
    principal: Principal
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
    principal: Principal
    kind: MaterialKind | None
    material_code: str
    weight_mg: int = 0
    pieces: int = 0
    weight_points: int = 0
    supplier_reference: str = ""
    request_id: str = ""
    #: Canonical hash of the request without its request_id.
    fingerprint: str = ""


@dataclass(frozen=True)
class RequirementInput:
    material_code: str
    kind: MaterialKind | None
    weight_mg: int = 0
    pieces: int = 0
    line_number: int = 0


@dataclass(frozen=True)
class ReserveOrder:
    principal: Principal
    order_id: str
    requirements: tuple[RequirementInput, ...]
    priority: Priority | None = None
    queue_on_shortage: bool = False
    submit_time: datetime | None = None


@dataclass(frozen=True)
class ChangeReservation:
    """Release, commit or consume one reservation (``reason``: why it is released)."""

    principal: Principal
    reservation_id: str
    reason: str = ""


@dataclass(frozen=True)
class RecordCustody:
    principal: Principal
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
