"""Domain objects -> rows of the services' tables, column for column as their repositories
write them: the repositories' own row helpers where they have them (orders; inventory's
``to_row``; production's ``to_values``), and for the rows written millions of times
(operations, attempts, work orders, custody entries) direct builders that
``tests/unit/perf`` compares with those helpers."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from mes_stack.demo_data import PLANT_TIME_ZONE, TWO_SHIFTS
from perf.datagen.ids import at
from perf.datagen.stock import LotRecord
from services.inventory.adapters import tables as inv_t
from services.inventory.adapters.rows import to_row
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.reservations import Reservation
from services.inventory.domain.waiting import WaitingOrder
from services.orders.adapters import tables as ord_t
from services.orders.adapters.order_repository import _change_values, _order_values
from services.orders.adapters.partner_repository import _key_values, _partner_values
from services.orders.domain.order import Order, OrderLine, StatusChange
from services.orders.domain.partner import ApiKey, Partner
from services.production.adapters.rows import records_to_json, to_values
from services.production.domain.operations import AttemptRecord, Operation
from services.production.domain.order_specs import OrderSpec
from services.production.domain.resources import Operator, WorkCenter
from services.production.domain.styles import Style
from services.production.domain.work_orders import WorkOrder

__all__ = [
    "api_key_row",
    "attempt_row",
    "calendar_row",
    "change_row",
    "custody_row",
    "line_row",
    "lot_row",
    "operation_row",
    "operator_row",
    "order_row",
    "partner_row",
    "reservation_rows",
    "spec_row",
    "style_rows",
    "waiting_rows",
    "work_center_row",
    "work_order_row",
]

Row = dict[str, Any]

# -- orders ---------------------------------------------------------------------------------


def partner_row(p: Partner) -> Row:
    return {"partner_id": p.partner_id, "created_at": p.create_time, **_partner_values(p)}


def api_key_row(k: ApiKey) -> Row:
    return _key_values(k)


def order_row(o: Order) -> Row:
    fixed = {
        "order_id": o.order_id,
        "partner_id": o.partner_id,
        "partner_reference": o.partner_reference,
        "priority": o.priority.name,
        "due_time": o.due_time,
        "created_at": o.create_time,
    }
    return {**fixed, **_order_values(o)}


def line_row(order_id: str, ln: OrderLine) -> Row:
    """As ``SqlOrderRepository.add`` writes it (``to_row``)."""
    return to_row(ln, ord_t.order_lines, order_id=order_id)


def change_row(c: StatusChange) -> Row:
    return _change_values(c)


# -- production -----------------------------------------------------------------------------


def style_rows(s: Style) -> tuple[Row, Row]:
    """The style and its first routing version."""
    routing, bom = records_to_json(s.routing), records_to_json(s.bill_of_materials)
    style = {
        **to_values(s, ("sku", "display_name", "category", "routing_version", "active", "version")),
        "routing": routing,
        "bill_of_materials": bom,
        "created_at": s.create_time,
        "updated_at": s.update_time,
    }
    version = {
        "sku": s.sku,
        "routing_version": s.routing_version,
        "routing": routing,
        "bill_of_materials": bom,
        "created_at": s.update_time,
    }
    return _json(style, "routing", "bill_of_materials"), _json(version, "routing", "bill_of_materials")


def work_center_row(c: WorkCenter) -> Row:
    """IDLE since it was made; :func:`perf.datagen.generate.settle_work_centers` sets the state its
    operations give it once the history is loaded."""
    names = ("code", "work_center_type", "display_name", "capacity", "active", "version", "create_time", "update_time")
    return to_values(c, (*names, "state", "state_reason", "state_time", "state_by"))


#: Pieces per hour per place at the bench that a generated work center should finish on shift.
_TARGET_PER_PLACE = 3


def calendar_row(c: WorkCenter) -> Row:
    """The demo plant's calendar: two shifts, Monday to Saturday, in its zone, and a target from the
    center's capacity."""
    return _json(
        {
            "work_center": c.code,
            "time_zone": PLANT_TIME_ZONE,
            "windows": [asdict(w) for w in TWO_SHIFTS],
            "output_target_per_hour": c.capacity * _TARGET_PER_PLACE,
            "version": 1,
            "created_at": c.create_time,
            "updated_at": c.create_time,
        },
        "windows",
    )


def operator_row(o: Operator) -> Row:
    return to_values(o, ("code", "display_name", "role", "active", "version", "create_time", "update_time"))


def spec_row(s: OrderSpec) -> Row:
    names = ("order_id", "priority", "submit_time", "status", "version", "create_time", "update_time")
    return _json({**to_values(s, names), "lines": records_to_json(s.lines)}, "lines")


_ROUTINGS: dict[tuple[str, int], str] = {}


def work_order_row(wo: WorkOrder) -> Row:
    """As ``SqlWorkOrderRepository.add``/``update`` write it (the routing's JSON made once per style version)."""
    key = (wo.style_sku, wo.routing_version)
    routing = _ROUTINGS.get(key)
    if routing is None:
        routing = _ROUTINGS[key] = json.dumps(records_to_json(wo.routing_snapshot), separators=(", ", ": "))
    m = wo.metal
    return {
        "id": wo.id, "order_id": wo.order_id, "line_number": wo.line_number, "style_sku": wo.style_sku,
        "alloy_code": wo.alloy_code, "size": wo.size, "engraving": wo.engraving, "quantity": wo.quantity,
        "status": wo.status.value, "priority": wo.priority, "routing_version": wo.routing_version,
        "routing_snapshot": routing, "issued_mg": m.issued_mg, "finished_mg": m.finished_mg, "loss_mg": m.loss_mg,
        "scrap_returned_mg": m.scrap_returned_mg, "version": wo.version, "created_at": wo.create_time,
        "updated_at": wo.update_time,
    }  # fmt: skip


def operation_row(op: Operation) -> Row:
    """As ``SqlOperationRepository`` writes it (``to_values`` of the fixed and progress fields)."""
    return {
        "work_order_id": op.work_order_id, "sequence": op.sequence, "order_id": op.order_id,
        "operation_code": op.operation_code, "work_center_type": op.work_center_type, "work_center": op.work_center,
        "status": op.status.value, "priority": op.priority, "alloy_code": op.alloy_code,
        "loss_tolerance_per_mille": op.loss_tolerance_per_mille, "weigh_in_mg": op.weigh_in_mg,
        "weigh_out_mg": op.weigh_out_mg, "scrap_returned_mg": op.scrap_returned_mg, "loss_mg": op.loss_mg,
        "started_by": op.started_by, "finished_by": op.finished_by, "reviewed_by": op.reviewed_by,
        "review_note": op.review_note, "start_time": op.start_time, "finish_time": op.finish_time,
        "attempt": op.attempt, "version": op.version, "created_at": op.create_time, "updated_at": op.update_time,
        "pause_reason": op.pause_reason, "pause_time": op.pause_time, "paused_seconds": op.paused_seconds,
        "paused_by": op.paused_by, "resumed_by": op.resumed_by,
    }  # fmt: skip


def attempt_row(a: AttemptRecord) -> Row:
    """As ``save_attempt`` writes it (``attempt_values`` plus the key)."""
    return {
        "work_order_id": a.work_order_id, "sequence": a.sequence, "attempt": a.attempt,
        "operation_code": a.operation_code, "work_center": a.work_center, "alloy_code": a.alloy_code,
        "weigh_in_mg": a.weigh_in_mg, "weigh_out_mg": a.weigh_out_mg, "scrap_returned_mg": a.scrap_returned_mg,
        "loss_mg": a.loss_mg, "started_by": a.started_by, "finished_by": a.finished_by,
        "reviewed_by": a.reviewed_by, "review_note": a.review_note, "outcome": a.outcome.value,
        "reviewed": a.reviewed, "start_time": a.start_time, "finish_time": a.finish_time,
    }  # fmt: skip


def _json(row: Row, *names: str) -> Row:
    """JSON columns as text (what COPY into a ``json`` column takes)."""
    for name in names:
        row[name] = json.dumps(row[name], separators=(", ", ": "))
    return row


# -- inventory ------------------------------------------------------------------------------


def lot_row(lot: LotRecord) -> Row:
    metal = str(lot.kind) == "METAL"
    snapshot = MaterialLot(
        lot_id=lot.lot_id,
        kind=lot.kind,
        material_code=lot.material_code,
        received_mg=lot.received if metal else 0,
        on_hand_mg=lot.on_hand if metal else 0,
        reserved_mg=lot.reserved if metal else 0,
        received_pieces=0 if metal else lot.received,
        on_hand_pieces=0 if metal else lot.on_hand,
        reserved_pieces=0 if metal else lot.reserved,
        weight_points=lot.weight_points,
        supplier_reference=lot.supplier_reference,
        receive_time=at(lot.receive_time),
        version=lot.version,
    )
    return to_row(snapshot, inv_t.lots)


def reservation_rows(r: Reservation) -> tuple[Row, list[Row]]:
    items = [
        to_row(item, inv_t.reservation_items, reservation_id=r.reservation_id, position=i)
        for i, item in enumerate(r.items)
    ]
    return to_row(r, inv_t.reservations), items


def custody_row(e: CustodyEntry) -> Row:
    """As ``SqlCustody.add`` writes it (``to_row``), without the serial ``seq``."""
    return {
        "entry_id": e.entry_id, "kind": e.kind.value, "holder": e.holder, "material_code": e.material_code,
        "lot_id": e.lot_id, "weight_mg": e.weight_mg, "pieces": e.pieces, "reference": e.reference,
        "operator_code": e.operator_code, "create_time": e.create_time, "batch_id": e.batch_id,
    }  # fmt: skip


def waiting_rows(w: WaitingOrder, updated: float) -> tuple[Row, list[Row]]:
    requirements = json.dumps([asdict(r) for r in w.requirements], separators=(",", ":"))
    head = to_row(w, inv_t.waiting_orders, requirements=requirements, updated_at=at(updated))
    lines = sorted(w.shortages, key=lambda s: (s.kind.value, s.material_code))
    return head, [
        to_row(s, inv_t.waiting_shortages, order_id=w.order_id, priority=w.priority, since_time=w.submit_time)
        for s in lines
    ]
