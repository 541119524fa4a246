"""Protobuf <-> inventory domain, both ways: requests -> commands and queries, domain objects
-> response messages, domain events -> event messages (:func:`encode_event`, which the
bootstrap hands to the unit of work), consumed events -> what the event handlers take.

Messages and domain dataclasses share their field names: :func:`message` fills a message
from the same-named attributes of a domain object, :func:`command` builds a command from
the same-named fields of a request. Enums map by member name, ``Metal.GOLD`` <->
``METAL_GOLD`` (the protobuf value is named after its enum in upper snake case, then the
member); an unspecified or unknown value decodes as None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar, get_args, get_type_hints

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as ev
from mes.inventory.v1 import inventory_pb2 as pb
from mes.production.v1 import production_events_pb2 as prod
from mes_contracts import events
from mes_contracts.events import EventType
from mes_kernel.batch import check_batch_size
from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.paging import page_request
from mes_kernel.principal import Principal
from mes_kernel.validation import CODE_RE, Violations, parse_name
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.events import (
    AlloyUpserted,
    CustodyRecorded,
    LotReceived,
    ReservationCommitted,
    ReservationConsumed,
    ReservationFailed,
    ReservationHeld,
    ReservationReleased,
)
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.materials import MaterialKind, Priority, amounts
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.domain.waiting import Shortage
from services.inventory.entrypoints.codec_records import reservation_into
from services.inventory.service_layer.commands import ListReservations, RequirementInput
from services.inventory.service_layer.records import reservation_view

__all__ = [
    "alloy",
    "balance",
    "command",
    "encode_event",
    "entry",
    "key_of",
    "keys_of",
    "list_reservations",
    "lot",
    "message",
    "requirements",
    "reservation",
    "reserve_for_order",
    "returned_metal",
    "shortage",
]

M = TypeVar("M", bound=Message)
C = TypeVar("C")
E = TypeVar("E", bound=Enum)

# -- values ------------------------------------------------------------------------------


def _prefix(descriptor: Any) -> str:
    """``MaterialKind`` -> ``MATERIAL_KIND_``: how the enum's value names start."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", descriptor.name).upper() + "_"


def _enum_number(descriptor: Any, value: Enum) -> int:
    return int(descriptor.values_by_name[_prefix(descriptor) + value.name].number)


def _enum_member(cls: type[E], descriptor: Any, number: int) -> E | None:
    value = descriptor.values_by_number.get(number)
    return None if value is None else cls.__members__.get(value.name.removeprefix(_prefix(descriptor)))


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


# -- domain -> messages ------------------------------------------------------------------


def message(cls: type[M], obj: object, **values: Any) -> M:
    """A ``cls`` from ``obj``'s attributes named like its fields (plus ``values``); None stays unset."""
    msg = cls(**values)
    for field in cls.DESCRIPTOR.fields:
        value = None if field.name in values else getattr(obj, field.name, None)
        if isinstance(value, Enum):
            setattr(msg, field.name, _enum_number(field.enum_type, value))
        elif isinstance(value, datetime):
            getattr(msg, field.name).CopyFrom(_timestamp(value))
        elif value is not None:
            setattr(msg, field.name, value)
    return msg


def alloy(value: Alloy) -> pb.Alloy:
    return message(pb.Alloy, value, name=f"alloys/{value.code}")


def lot(value: MaterialLot) -> pb.MaterialLot:
    return message(pb.MaterialLot, value, name=f"lots/{value.lot_id}")


def reservation(value: Reservation) -> pb.Reservation:
    msg = pb.Reservation()
    reservation_into(msg, reservation_view(value))
    return msg


def shortage(value: Shortage) -> pb.Shortage:
    required_mg, required_pieces = amounts(value.kind, value.required)
    available_mg, available_pieces = amounts(value.kind, value.available)
    return message(
        pb.Shortage,
        value,
        required_mg=required_mg,
        available_mg=available_mg,
        required_pieces=required_pieces,
        available_pieces=available_pieces,
    )


def entry(value: CustodyEntry) -> pb.CustodyEntry:
    return message(pb.CustodyEntry, value, name=f"custodyEntries/{value.entry_id}")


def balance(value: Balance) -> pb.Balance:
    return message(pb.Balance, value, name=f"balances/{value.material_code}")


def encode_event(event: object) -> tuple[EventType[Message], Message]:
    """The registered event type and the payload of a domain event."""
    match event:
        case AlloyUpserted(alloy=a):
            return events.ALLOY_UPSERTED, ev.AlloyUpsertedEvent(alloy=alloy(a))
        case LotReceived(lot=received):
            return events.LOT_RECEIVED, ev.LotReceivedEvent(lot=lot(received))
        case ReservationHeld(reservation=r):
            return events.RESERVATION_HELD, ev.ReservationHeldEvent(order_id=r.order_id, reservation=reservation(r))
        case ReservationFailed(order_id=order_id, shortages=shortages):
            failed = ev.ReservationFailedEvent(order_id=order_id, shortages=[shortage(s) for s in shortages])
            return events.RESERVATION_FAILED, failed
        case ReservationReleased(reservation=r, reason=reason):
            released = ev.ReservationReleasedEvent(order_id=r.order_id, reservation=reservation(r), reason=reason)
            return events.RESERVATION_RELEASED, released
        case ReservationCommitted(reservation=r):
            changed = ev.ReservationStateChangedEvent(order_id=r.order_id, reservation=reservation(r))
            return events.RESERVATION_COMMITTED, changed
        case ReservationConsumed(reservation=r):
            changed = ev.ReservationStateChangedEvent(order_id=r.order_id, reservation=reservation(r))
            return events.RESERVATION_CONSUMED, changed
        case CustodyRecorded(entry=e):
            return events.CUSTODY_RECORDED, ev.CustodyRecordedEvent(entry=entry(e))
    raise TypeError(f"no event message for {type(event).__name__}")


# -- messages -> commands and queries ----------------------------------------------------


_HINTS: dict[type[Any], dict[str, Any]] = {}


def command(cls: type[C], msg: Message, **values: Any) -> C:
    """A ``cls`` from ``msg``'s fields named like its fields (plus ``values``): enums decoded
    (None when unspecified), timestamps as datetimes (None when unset), repeated as tuples."""
    hints = _HINTS.get(cls) or _HINTS.setdefault(cls, get_type_hints(cls))
    kwargs = dict(values)
    for field in msg.DESCRIPTOR.fields:
        if field.name in kwargs or field.name not in hints:
            continue
        value = getattr(msg, field.name)
        if field.enum_type is not None:
            hint = hints[field.name]  # an enum, or an enum | None
            enum_cls = next(t for t in (hint, *get_args(hint)) if isinstance(t, type) and issubclass(t, Enum))
            value = _enum_member(enum_cls, field.enum_type, value)
        elif field.message_type is Timestamp.DESCRIPTOR:
            value = value.ToDatetime(tzinfo=UTC) if msg.HasField(field.name) else None
        elif field.is_repeated:
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)


def key_of(name: str, collection: str, field: str = "name", *, code: bool = False) -> str:
    """The id (or, with ``code``, the upper-case code) of ``{collection}/{key}``."""
    key = parse_name(name, collection, field)
    if code and not CODE_RE.match(key):
        raise InvalidArgument(
            f"{field} must look like '{collection}/{{code}}'",
            violations=[FieldViolation(field, "the code must be upper-case letters, digits, '-' or '_'")],
        )
    return key


def keys_of(names: Sequence[str], collection: str, *, code: bool = False) -> tuple[str, ...]:
    check_batch_size(len(names))
    return tuple(key_of(name, collection, f"names[{i}]", code=code) for i, name in enumerate(names))


def requirements(items: Sequence[common_pb2.MaterialRequirement]) -> tuple[RequirementInput, ...]:
    return tuple(command(RequirementInput, item) for item in items)


def list_reservations(request: pb.ListReservationsRequest, principal: Principal) -> ListReservations:
    v = Violations()
    states = [_enum_member(ReservationState, pb.ReservationState.DESCRIPTOR, s) for s in request.states]
    for i, state in enumerate(states):
        v.check(state is not None, f"states[{i}]", "must be a reservation state")
    v.raise_if_any()
    return command(
        ListReservations,
        request,
        principal=principal,
        page=page_request(request),
        states=tuple(s for s in states if s is not None),
    )


# -- consumed events -> handler inputs ---------------------------------------------------


def reserve_for_order(
    event: prod.RequirementsComputedEvent,
) -> tuple[str, Priority | None, tuple[RequirementInput, ...], datetime | None]:
    """(order id, priority, requirements, submit time) of the order production computed."""
    submit_time = event.submit_time.ToDatetime(tzinfo=UTC) if event.HasField("submit_time") else None
    priority = _enum_member(Priority, common_pb2.Priority.DESCRIPTOR, event.priority)
    return event.order_id, priority, requirements(event.requirements), submit_time


def returned_metal(event: prod.WorkOrdersCancelledEvent) -> list[tuple[str, int]]:
    """(alloy code, mg) of the metal production gives back."""
    return [
        (r.material_code, r.weight_mg)
        for r in requirements(event.returned)
        if r.kind is MaterialKind.METAL and r.weight_mg > 0
    ]
