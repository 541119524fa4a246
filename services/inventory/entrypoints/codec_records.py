"""Views -> ``mes.inventory.v1`` messages, written field by field into the reply (repeated
fields grown with ``add``). The reads (the rows' views) and the replies and events of writes
(domain reservations made views) go through the same writer."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb
from mes_platform.wire import set_time
from services.inventory.domain.materials import MaterialKind
from services.inventory.domain.reservations import ReservationState
from services.inventory.service_layer.records import ReservationView

__all__ = ["reservation_into", "reservations_into"]

_STATE = {s.value: pb.ReservationState.Value(f"RESERVATION_STATE_{s.name}") for s in ReservationState}
_KIND = {k.value: common_pb2.MaterialKind.Value(f"MATERIAL_KIND_{k.name}") for k in MaterialKind}


def reservation_into(m: pb.Reservation, value: ReservationView) -> None:
    m.name = "reservations/" + value.reservation_id
    m.reservation_id = value.reservation_id
    m.order_id = value.order_id
    m.state = _STATE[value.state]
    add = m.items.add
    for item in value.items:
        add(
            lot_id=item.lot_id,
            material_code=item.material_code,
            kind=_KIND[item.kind],
            weight_mg=item.weight_mg,
            pieces=item.pieces,
            line_number=item.line_number,
        )
    set_time(m.create_time, value.create_time)
    set_time(m.update_time, value.update_time)
    m.version = value.version


def reservations_into(
    repeated: RepeatedCompositeFieldContainer[pb.Reservation], records: Iterable[ReservationView]
) -> None:
    add = repeated.add
    for value in records:
        reservation_into(add(), value)
