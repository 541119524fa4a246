"""One order's whole history across the three services, as their handlers would have written it.

orders: submitted (idempotency record) -> production: line specs kept, requirements computed
-> inventory: all-or-none reservation held (or the order waits: reservation failed, ON_HOLD)
-> orders ACCEPTED and production's work orders released -> orders IN_PRODUCTION and the
reservation issued (custody ISSUE per lot) -> the shop floor (``production``), losses in the
custody ledger -> the last work order completed: READY_TO_SHIP, reservation consumed ->
shipped, work orders closed. A partner's cancellation: from the waiting list, or in production
before work started (work orders cancelled, the reservation released and its metal returned).
Each step is one saga hop (0.2 s) after the one it reacts to, with its event's id as cause.
"""

from __future__ import annotations

from mes.orders.v1 import orders_pb2
from mes_platform.idempotency import request_fingerprint
from perf.datagen import rows
from perf.datagen.drafts import OrderDraft
from perf.datagen.events import EventLog
from perf.datagen.ids import Ids, at
from perf.datagen.production import Floor, Work
from perf.datagen.sink import Sink
from perf.datagen.stock import SAGA_STEP_S, StockOutcome
from services.inventory.domain.custody import STORES, CustodyEntry, CustodyKind, order_holder
from services.inventory.domain.events import (
    CustodyRecorded,
    ReservationCommitted,
    ReservationConsumed,
    ReservationFailed,
    ReservationHeld,
    ReservationReleased,
)
from services.inventory.domain.materials import MaterialKind as InvKind
from services.inventory.domain.materials import Priority as InvPriority
from services.inventory.domain.waiting import WaitingOrder
from services.inventory.entrypoints import codec as inventory_codec
from services.inventory.service_layer.common import digest
from services.orders.domain.events import OrderSubmitted, status_events
from services.orders.domain.order import Order
from services.orders.domain.status import OrderStatus
from services.orders.entrypoints.codec.consumed import describe_shortages
from services.production.domain.bom import LineSpec, MaterialRequirement
from services.production.domain.events import RequirementsComputed
from services.production.domain.order_specs import OrderSpec, OrderSpecStatus
from services.production.domain.styles import MaterialKind as ProdKind

__all__ = ["CANCEL_REASON", "STAFF", "Saga"]

STEP = SAGA_STEP_S
STAFF = "service:dev"
CANCEL_REASON = "cancelled by the partner"


class Saga:
    def __init__(self, ids: Ids, log: EventLog, sink: Sink, floor: Floor, *, end: float, webhooks: bool) -> None:
        self.ids, self.log, self.sink, self.floor, self.end = ids, log, sink, floor, end
        self.webhooks = webhooks
        self.rng = ids.rng
        self.statuses: dict[str, int] = {}

    # -- helpers --------------------------------------------------------------------------

    def _order_move(
        self, order: Order, target: OrderStatus, t: float, cause: str, reason: str = "", *, by_request: bool = False
    ) -> list[str]:
        """A transition of the order, saved with its history row and its events (ids returned).

        ``cause`` goes into the history; the events carry it as their causation id when a
        consumer made the change (``by_request``: a caller did, and they carry none)."""
        change = order.transition(target, reason=reason, cause=cause, now=at(t))
        made = []
        for event in status_events(order, change):
            made.append(self.log.emit("orders", event, t, "" if by_request else cause))
        return made

    def _inventory(self, event: object, t: float, cause: str, event_id: str = "") -> str:
        return self.log.emit("inventory", event, t, cause, event_id)

    def _custody(self, entry: CustodyEntry, t: float, cause: str) -> None:
        self.sink.add_ordered("inventory", "custody_entries", t, rows.custody_row(entry))
        self._inventory(CustodyRecorded(entry), t, cause)

    def _fingerprint(self, d: OrderDraft) -> str:
        request = orders_pb2.SubmitOrderRequest(
            partner_reference=d.partner_reference,
            priority=int(d.priority),  # type: ignore[arg-type]
            lines=[
                orders_pb2.OrderLine(
                    line_number=ln.line_number,
                    style_code=ln.style_code,
                    alloy_code=ln.alloy_code,
                    size=ln.size,
                    engraving=ln.engraving,
                    quantity=ln.quantity,
                )
                for ln in d.lines
            ],
            request_id=d.request_id,
        )
        request.due_time.FromDatetime(at(d.due))
        return request_fingerprint(request, ignore=("request_id", "parent"))

    # -- the story --------------------------------------------------------------------------

    def run(self, d: OrderDraft, s: StockOutcome) -> None:
        t0 = d.t0
        order = Order.submit(
            order_id=d.order_id,
            partner_id=d.partner_id,
            partner_reference=d.partner_reference,
            priority=d.priority,
            due_time=at(d.due),
            lines=list(d.lines),
            cause=f"request:{d.request_id}",
            now=at(t0),
        )
        submitted = self.log.emit("orders", OrderSubmitted(order), t0)
        self.log.idempotent(
            "orders", f"partner:{d.partner_id}:SubmitOrder", d.request_id, self._fingerprint(d), order.name, t0
        )
        # production keeps the line specs and explodes the bills of materials
        specs = tuple(
            LineSpec(ln.line_number, ln.style_code, ln.alloy_code, ln.size, ln.engraving, ln.quantity) for ln in d.lines
        )
        t_spec = t0 + STEP
        spec = OrderSpec(d.order_id, int(d.priority), specs, at(t0), OrderSpecStatus.PENDING, at(t_spec), at(t_spec))
        needs = tuple(
            MaterialRequirement(r.material_code, ProdKind(str(r.kind)), r.quantity if str(r.kind) == "METAL" else 0,
                                0 if str(r.kind) == "METAL" else r.quantity, r.line_number)
            for r in d.requirements
        )  # fmt: skip
        computed = self.log.emit(
            "production", RequirementsComputed(d.order_id, int(d.priority), needs, at(t0)), t_spec, submitted
        )
        # inventory reserves, or the order waits
        cause_held = computed
        if s.failed_at is not None:
            waiting = WaitingOrder(d.order_id, InvPriority(int(d.priority)), at(t0), d.requirements, s.shortages)
            shortages = tuple(waiting.shortage_rows())
            failed = self._inventory(ReservationFailed(d.order_id, shortages), s.failed_at, computed)
            reason = describe_shortages([inventory_codec.shortage(x) for x in shortages])
            self._order_move(order, OrderStatus.ON_HOLD, s.failed_at + STEP, failed, reason)
            if s.waiting:
                head, lines = rows.waiting_rows(waiting, s.failed_at)
                self.sink.add("inventory", "waiting_orders", head)
                for line in lines:
                    self.sink.add("inventory", "waiting_shortages", line)
            cause_held = s.served_by
        work: Work | None = None
        if s.reservation is not None and s.held_at is not None:
            work = self._produce(d, order, spec, s, cause_held)
        if s.cancelled_at is not None:
            self._cancel(d, order, spec, s, work)
        self.sink.add("production", "order_specs", rows.spec_row(spec))
        self.sink.add("orders", "orders", rows.order_row(order))
        if self.webhooks:  # the webhooks service remembers every order's reference
            reference = {"order_id": d.order_id, "partner_id": d.partner_id, "partner_reference": d.partner_reference}
            self.sink.add("webhooks", "order_refs", {**reference, "created_at": at(t0)})
        for line in d.lines:
            self.sink.add("orders", "order_lines", rows.line_row(d.order_id, line))
        for change in order.changes:
            self.sink.add("orders", "order_status_changes", rows.change_row(change))
        self.statuses[order.status.value] = self.statuses.get(order.status.value, 0) + 1
        if s.reservation is not None:
            head, items = rows.reservation_rows(s.reservation)
            self.sink.add("inventory", "reservations", head)
            for item in items:
                self.sink.add("inventory", "reservation_items", item)
        if work is not None:
            for wo in work.work_orders:
                self.sink.add("production", "work_orders", rows.work_order_row(wo))
            for op in work.operations:
                self.sink.add("production", "operations", rows.operation_row(op))
            for attempt in work.attempts.values():
                self.sink.add("production", "operation_attempts", rows.attempt_row(attempt))

    def _produce(self, d: OrderDraft, order: Order, spec: OrderSpec, s: StockOutcome, cause: str) -> Work:
        assert s.reservation is not None and s.held_at is not None
        reservation, t = s.reservation, s.held_at
        held = self._inventory(ReservationHeld(reservation), t, cause)
        self._order_move(order, OrderStatus.ACCEPTED, t + STEP, held, "materials reserved")
        work = self.floor.release(d, t + STEP, held)
        spec.mark(OrderSpecStatus.RELEASED, at(t + STEP))
        spec.version += 1
        released = work.released_event
        self._order_move(order, OrderStatus.IN_PRODUCTION, t + 2 * STEP, released, "work orders released")
        # inventory issues the reservation to the order
        t_commit = t + 2 * STEP
        reservation.commit(at(t_commit))
        for share in reservation.shares_by_lot():
            entry = CustodyEntry.of(
                self.ids.uuid4(), CustodyKind.ISSUE, order_holder(d.order_id), (share.kind, share.material_code),
                share.quantity, at(t_commit), lot_id=share.lot_id,
                reference=f"reservations/{reservation.reservation_id}", batch_id=reservation.reservation_id,
            )  # fmt: skip
            self._custody(entry, t_commit, released)
        self._inventory(ReservationCommitted(reservation), t_commit, released)
        if s.cancelled_at is not None:
            return work
        self.floor.run(work, t + STEP)
        for loss in work.losses:
            if loss.t > self.end:
                continue
            entry = CustodyEntry.of(
                self.ids.uuid4(), CustodyKind.LOSS, order_holder(d.order_id), (InvKind.METAL, loss.alloy_code),
                loss.loss_mg, at(loss.t), reference=loss.operation_name, operator_code=loss.operator_code,
            )  # fmt: skip
            self._custody(entry, loss.t, loss.cause)
            fingerprint = digest(d.order_id, loss.alloy_code, loss.loss_mg, loss.operator_code)
            self.log.idempotent(
                "inventory",
                "events:RecordOperationLoss",
                digest(loss.operation_name, loss.cause),
                fingerprint,
                f"custodyEntries/{entry.entry_id}",
                loss.t,
            )
        if work.completed_at is None:
            return work
        t_ready = work.completed_at + STEP
        if t_ready > self.end:
            return work
        self._order_move(order, OrderStatus.READY_TO_SHIP, t_ready, work.completed_event, "all work orders completed")
        reservation.consume(at(t_ready))
        self._inventory(ReservationConsumed(reservation), t_ready, work.completed_event)
        t_ship = t_ready + self.rng.uniform(2 * 3600.0, 48 * 3600.0)
        if t_ship > self.end:
            return work
        tracking = f"1Z{self.ids.hex(16).upper()}"
        order.tracking_reference = tracking
        self._order_move(order, OrderStatus.SHIPPED, t_ship, STAFF, f"tracking {tracking}", by_request=True)
        t_close = t_ship + self.rng.uniform(1800.0, 12 * 3600.0)
        if t_close <= self.end:
            self.floor.close(work, t_close)
        return work

    def _cancel(self, d: OrderDraft, order: Order, spec: OrderSpec, s: StockOutcome, work: Work | None) -> None:
        assert s.cancelled_at is not None
        tc = s.cancelled_at
        cancel_event = self._order_move(
            order, OrderStatus.CANCELLED, tc, f"partner:{d.partner_id}", CANCEL_REASON, by_request=True
        )[-1]
        spec.mark(OrderSpecStatus.CANCELLED, at(tc + STEP))
        spec.version += 1
        closed_at = tc + STEP
        self.sink.add(
            "inventory", "closed_orders", {"order_id": d.order_id, "reason": CANCEL_REASON, "closed_at": at(closed_at)}
        )
        if work is None or s.reservation is None:
            return
        self.floor.cancel(work, tc + STEP, cancel_event)
        t_release = tc + 2 * STEP
        reservation = s.reservation
        reservation.release(at(t_release), "work orders cancelled")
        for share in reservation.shares_by_lot():
            entry = CustodyEntry.of(
                self.ids.uuid4(), CustodyKind.RETURN, STORES, (share.kind, share.material_code), share.quantity,
                at(t_release), lot_id=share.lot_id, reference=order_holder(d.order_id),
                batch_id=reservation.reservation_id,
            )  # fmt: skip
            self._custody(entry, t_release, work.cancelled_event)
        self._inventory(
            ReservationReleased(reservation, "work orders cancelled"),
            t_release,
            work.cancelled_event,
            s.released_event_id,
        )
