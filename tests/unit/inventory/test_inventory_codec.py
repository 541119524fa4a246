"""The codec maps messages and domain objects by field name, and enums by member name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts import events
from services.inventory.domain import events as ev
from services.inventory.domain.custody import CustodyKind
from services.inventory.domain.materials import MaterialKind, Metal, Priority
from services.inventory.domain.reservations import ReservationState
from services.inventory.entrypoints import codec
from services.inventory.service_layer import commands as c
from tests.unit.inventory._factories import NOW, OPERATOR, alloy, entry, held, lot, waiting


@pytest.mark.parametrize(
    ("domain", "message", "field"),
    [
        (Metal, pb.Alloy, "metal"),
        (MaterialKind, pb.MaterialLot, "kind"),
        (ReservationState, pb.Reservation, "state"),
        (CustodyKind, pb.CustodyEntry, "kind"),
        (Priority, pb.Shortage, "priority"),
    ],
)
def test_every_enum_member_has_its_protobuf_value_and_back(domain: type, message: type, field: str) -> None:
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type  # type: ignore[attr-defined]
    for member in domain:  # type: ignore[attr-defined]
        number = descriptor.values_by_name[f"{codec._prefix(descriptor)}{member.name}"].number
        assert codec._enum_number(descriptor, member) == number
        assert codec._enum_member(domain, descriptor, number) is member
    assert codec._enum_member(domain, descriptor, 0) is None  # UNSPECIFIED
    assert codec._enum_member(domain, descriptor, 999) is None


def test_domain_objects_become_messages_field_by_field() -> None:
    ts = Timestamp()
    ts.FromDatetime(NOW)
    assert codec.alloy(alloy()) == pb.Alloy(
        name="alloys/AU750Y",
        code="AU750Y",
        metal=pb.METAL_GOLD,
        fineness=750,
        colour="yellow",
        density_mg_per_cm3=15_500_000,
        display_name="AU750Y",
        version=1,
        active=True,
    )
    assert codec.lot(lot("l-1", quantity=5)) == pb.MaterialLot(
        name="lots/l-1",
        lot_id="l-1",
        kind=common_pb2.MATERIAL_KIND_METAL,
        material_code="AU750Y",
        received_mg=5,
        on_hand_mg=5,
        receive_time=ts,
        version=1,
    )
    [shortage] = waiting("o-1", Priority.RUSH).shortage_rows()
    assert codec.shortage(shortage) == pb.Shortage(
        order_id="o-1",
        material_code="AU750Y",
        kind=common_pb2.MATERIAL_KIND_METAL,
        required_mg=5_000,
        priority=common_pb2.PRIORITY_RUSH,
        since_time=ts,
    )
    r = held("r-1", "o-1", ("l-1", 300))
    assert codec.reservation(r).items == [
        pb.ReservationItem(
            lot_id="l-1", material_code="AU750Y", kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=300, line_number=1
        )
    ]


def test_every_domain_event_has_its_registered_type() -> None:
    r, e = held("r-1", "o-1", ("l-1", 300)), entry("e-1", CustodyKind.ISSUE, "orders/o-1", 300)
    cases = [
        (ev.AlloyUpserted(alloy()), events.ALLOY_UPSERTED),
        (ev.LotReceived(lot("l-1")), events.LOT_RECEIVED),
        (ev.ReservationHeld(r), events.RESERVATION_HELD),
        (ev.ReservationFailed("o-1", tuple(waiting("o-1").shortage_rows())), events.RESERVATION_FAILED),
        (ev.ReservationReleased(r, "cancelled"), events.RESERVATION_RELEASED),
        (ev.ReservationCommitted(r), events.RESERVATION_COMMITTED),
        (ev.ReservationConsumed(r), events.RESERVATION_CONSUMED),
        (ev.CustodyRecorded(e), events.CUSTODY_RECORDED),
    ]
    for event, registered in cases:
        event_type, message = codec.encode_event(event)
        assert event_type is registered and isinstance(message, registered.message)
    with pytest.raises(TypeError):
        codec.encode_event(object())


def test_requests_become_commands_field_by_field() -> None:
    request = pb.ReserveOrderRequest(
        order_id="o-1",
        priority=common_pb2.PRIORITY_HIGH,
        requirements=[
            common_pb2.MaterialRequirement(material_code="DIA-1", kind=common_pb2.MATERIAL_KIND_STONE, pieces=3)
        ],
        queue_on_shortage=True,
    )
    cmd = codec.command(
        c.ReserveOrder, request, principal=OPERATOR, requirements=codec.requirements(request.requirements)
    )
    assert cmd == c.ReserveOrder(
        OPERATOR, "o-1", (c.RequirementInput("DIA-1", MaterialKind.STONE, pieces=3),), Priority.HIGH, True, None
    )
    request.submit_time.FromDatetime(NOW)
    assert codec.command(c.ReserveOrder, request, principal=OPERATOR).submit_time == datetime(2026, 3, 1, 9, tzinfo=UTC)
    unset = codec.command(c.UpsertAlloy, pb.Alloy(code="X"), principal=OPERATOR)
    assert (unset.metal, unset.fineness, unset.active) == (None, 0, False)
    listing = codec.list_reservations(
        pb.ListReservationsRequest(page_size=5, states=[pb.RESERVATION_STATE_HELD]), OPERATOR
    )
    assert (listing.page.page_size, listing.states) == (5, (ReservationState.HELD,))
