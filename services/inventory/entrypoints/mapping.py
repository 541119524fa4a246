"""Requests -> commands (decoding only; validation happens in the use cases)."""

from __future__ import annotations

from collections.abc import Sequence

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb
from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.validation import CODE_RE, Violations, parse_name
from mes_platform.idempotency import request_fingerprint
from services.inventory.adapters.codec import CUSTODY_KINDS, KINDS, METALS, PRIORITIES, STATES, from_timestamp
from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.materials import MaterialKind, Metal, Priority
from services.inventory.domain.reservations import ReservationState
from services.inventory.service_layer.commands import (
    ListReservations,
    ReceiveLot,
    RecordCustody,
    RequirementInput,
    ReserveOrder,
    UpsertAlloy,
)
from services.inventory.service_layer.common import MAX_BATCH_NAMES

__all__ = [
    "codes_from_names",
    "ids_from_names",
    "kind_of",
    "list_reservations",
    "priority_of",
    "receive_lot",
    "record_custody",
    "requirement",
    "reserve_order",
    "upsert_alloy",
]

_METAL_OF: dict[int, Metal] = {int(v): k for k, v in METALS.items()}
_KIND_OF: dict[int, MaterialKind] = {int(v): k for k, v in KINDS.items()}
_PRIORITY_OF: dict[int, Priority] = {int(v): k for k, v in PRIORITIES.items()}
_STATE_OF: dict[int, ReservationState] = {int(v): k for k, v in STATES.items()}
_CUSTODY_KIND_OF: dict[int, CustodyKind] = {int(v): k for k, v in CUSTODY_KINDS.items()}


def kind_of(value: int) -> MaterialKind | None:
    return _KIND_OF.get(value)


def priority_of(value: int) -> Priority | None:
    return _PRIORITY_OF.get(value)


def metal_of(value: int) -> Metal | None:
    return _METAL_OF.get(value)


def code_from_name(name: str, collection: str, field: str = "name") -> str:
    """The code of ``{collection}/{CODE}`` (INVALID_ARGUMENT when malformed)."""
    code = parse_name(name, collection, field)
    if not CODE_RE.match(code):
        raise InvalidArgument(
            f"{field} must look like '{collection}/{{code}}'",
            violations=[FieldViolation(field, "the code must be upper-case letters, digits, '-' or '_'")],
        )
    return code


def _check_batch(names: Sequence[str]) -> None:
    if len(names) > MAX_BATCH_NAMES:
        Violations().add("names", f"at most {MAX_BATCH_NAMES} names").raise_if_any()


def codes_from_names(names: Sequence[str], collection: str) -> list[str]:
    _check_batch(names)
    return [code_from_name(name, collection, f"names[{i}]") for i, name in enumerate(names)]


def ids_from_names(names: Sequence[str], collection: str) -> list[str]:
    _check_batch(names)
    return [parse_name(name, collection, f"names[{i}]") for i, name in enumerate(names)]


def upsert_alloy(request: pb.UpsertAlloyRequest) -> UpsertAlloy:
    a = request.alloy
    return UpsertAlloy(
        code=a.code,
        metal=metal_of(a.metal),
        fineness=a.fineness,
        colour=a.colour,
        density_mg_per_cm3=a.density_mg_per_cm3,
        display_name=a.display_name,
        active=a.active,
        version=a.version,
        name=a.name,
    )


def receive_lot(request: pb.ReceiveLotRequest, caller: str) -> ReceiveLot:
    return ReceiveLot(
        kind=kind_of(request.kind),
        material_code=request.material_code,
        weight_mg=request.weight_mg,
        pieces=request.pieces,
        weight_points=request.weight_points,
        supplier_reference=request.supplier_reference,
        request_id=request.request_id,
        fingerprint=request_fingerprint(request),
        caller=caller,
    )


def requirement(r: common_pb2.MaterialRequirement) -> RequirementInput:
    """A MaterialRequirement as the use cases take it (also for event consumers)."""
    return RequirementInput(
        material_code=r.material_code,
        kind=kind_of(r.kind),
        weight_mg=r.weight_mg,
        pieces=r.pieces,
        line_number=r.line_number,
    )


def reserve_order(request: pb.ReserveOrderRequest) -> ReserveOrder:
    return ReserveOrder(
        order_id=request.order_id,
        requirements=tuple(requirement(r) for r in request.requirements),
        priority=priority_of(request.priority),
        queue_on_shortage=request.queue_on_shortage,
        submit_time=from_timestamp(request.submit_time) if request.HasField("submit_time") else None,
    )


def list_reservations(request: pb.ListReservationsRequest) -> ListReservations:
    states: list[ReservationState] = []
    v = Violations()
    for i, value in enumerate(request.states):
        state = _STATE_OF.get(value)
        if state is None:
            v.add(f"states[{i}]", "must be a reservation state")
        else:
            states.append(state)
    v.raise_if_any()
    return ListReservations(
        page_size=request.page_size,
        page_token=request.page_token,
        order_ids=tuple(request.order_ids),
        states=tuple(states),
    )


def record_custody(request: pb.RecordCustodyRequest, caller: str) -> RecordCustody:
    kind = _CUSTODY_KIND_OF.get(request.kind)
    return RecordCustody(
        kind=kind,
        holder=request.holder,
        material_code=request.material_code,
        lot_id=request.lot_id,
        weight_mg=request.weight_mg,
        pieces=request.pieces,
        reference=request.reference,
        operator_code=request.operator_code,
        request_id=request.request_id,
        fingerprint=request_fingerprint(request),
        caller=caller,
    )
