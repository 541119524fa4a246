"""Stores over the history, in time order: lots arriving, orders reserving all or none, orders
waiting for stock and served by priority when it arrives, cancellations giving stock back.

This is the part of the data set where orders depend on each other (they share lots), so it
runs first, over every order, as the inventory service would have: first-in first-out
allocation (``services.inventory.domain.allocation.allocate``), one active reservation per
order, a new order reserving at once when its material is free, waiting orders retried after
every lot received and every reservation released (highest priority, then oldest first; an
order that does not fit is passed over). Reservations are issued to the order (committed) as
soon as production releases its work orders, so a lot's free quantity never counts them.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from perf.datagen.catalogue import Plant
from perf.datagen.drafts import OrderDraft
from perf.datagen.ids import Ids, at
from services.inventory.domain.allocation import ShortageLine, allocate, totals_by_material
from services.inventory.domain.lots import LotSnapshot
from services.inventory.domain.materials import MAX_STONE_PIECES, MAX_WEIGHT_MG, MaterialKey, MaterialKind, Priority
from services.inventory.domain.reservations import Reservation

__all__ = ["SAGA_STEP_S", "LotRecord", "Stock", "StockOutcome", "run_stock"]

#: Seconds between one saga step and the next (an event published, fetched, applied).
SAGA_STEP_S = 0.2
#: Materials delivered short of demand (orders wait for them now and then, some at the end).
_SCARCE = {"PT950": 0.97, "SAP-OV-050": 0.97}
_SURPLUS = 1.08
_PERIOD_S = 3 * 86400.0
#: A cancellation never lands between a reservation and the release of the work orders.
_SETTLE_S = 5.0


@dataclass
class LotRecord:
    lot_id: str
    kind: MaterialKind
    material_code: str
    received: int
    weight_points: int
    receive_time: float
    supplier_reference: str
    request_id: str
    on_hand: int
    #: Id of its ``inventory.lot.received`` event (the cause of the reservations it enables).
    event_id: str = ""
    reserved: int = 0
    version: int = 1


@dataclass
class StockOutcome:
    """What stores did for one order."""

    #: When it first failed to reserve (it went ON_HOLD), with what was short then.
    failed_at: float | None = None
    shortages: tuple[ShortageLine, ...] = ()
    #: When its reservation was made (held), and by which event's handling (None: at once).
    held_at: float | None = None
    reservation: Reservation | None = None
    #: The event whose handling served it from the waiting list (a lot received or a reservation released).
    served_by: str = ""
    #: When the partner cancelled it (from waiting, or in production before any work started).
    cancelled_at: float | None = None
    #: Still waiting for stock at the end.
    waiting: bool = False
    #: Id of the ``inventory.reservation.released`` event of a cancellation in production.
    released_event_id: str = ""


@dataclass
class Stock:
    lots: list[LotRecord] = field(default_factory=list)
    outcomes: dict[str, StockOutcome] = field(default_factory=dict)
    #: Orders waiting at the end, in serve order.
    waiting: list[str] = field(default_factory=list)
    #: Retry passes: (kind of trigger, trigger key, time, orders served).
    retries: list[tuple[str, str, float, list[str]]] = field(default_factory=list)


def _deliveries(drafts: list[OrderDraft], start: float, end: float) -> list[tuple[float, MaterialKey, int]]:
    """(time, material, quantity): every 3 days, the demand of the next 3 days times a factor."""
    demand: dict[tuple[MaterialKey, int], int] = defaultdict(int)
    for d in drafts:
        for r in d.requirements:
            demand[(r.key, int((d.t0 - start) // _PERIOD_S))] += r.quantity
    materials = sorted({key for key, _ in demand})
    periods = int((end - start) // _PERIOD_S) + 1
    out = []
    for key in materials:
        factor = _SCARCE.get(key[1], _SURPLUS)
        for p in range(periods):
            t = start + p * _PERIOD_S - (86400.0 if p == 0 else 0.0) + 8 * 3600
            if t >= end - 600:
                break
            need = demand.get((key, p), 0) + (demand.get((key, p + 1), 0) // 3 if p == 0 else 0)
            if need:
                out.append((t, key, max(1, int(need * factor))))
    return sorted(out)


class _Stores:
    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self.lots: list[LotRecord] = []
        self.free: dict[MaterialKey, list[LotRecord]] = defaultdict(list)  # lots with free stock, oldest first

    def receive(self, t: float, key: MaterialKey, quantity: int, number: int) -> list[LotRecord]:
        cap = MAX_WEIGHT_MG if key[0] is MaterialKind.METAL else MAX_STONE_PIECES
        made = []
        for part in range(-(-quantity // cap)):
            qty = min(cap, quantity - part * cap)
            ref = f"SUP-{key[1]}-{number:03d}" + (f"-{part + 1}" if quantity > cap else "")
            lot = LotRecord(
                self.ids.uuid4(), key[0], key[1], qty, 0, t + part * 0.01, ref, f"gen-lot-{ref}", qty, self.ids.uuid4()
            )
            self.lots.append(lot)
            self.free[key].append(lot)
            made.append(lot)
        return made

    def snapshots(self, keys: Iterable[MaterialKey]) -> list[LotSnapshot]:
        out = []
        for key in keys:
            live = [lot for lot in self.free[key] if lot.on_hand > lot.reserved]
            self.free[key] = live
            out += [
                LotSnapshot(lot.lot_id, lot.kind, lot.material_code, lot.on_hand - lot.reserved, at(lot.receive_time))
                for lot in live
            ]
        return out

    def available(self, key: MaterialKey) -> int:
        return sum(lot.on_hand - lot.reserved for lot in self.free[key])

    def reserve_and_issue(self, reservation: Reservation) -> None:
        by_id = {
            lot.lot_id: lot for key in {(i.kind, i.material_code) for i in reservation.items} for lot in self.free[key]
        }
        for share in reservation.shares_by_lot():
            lot = by_id[share.lot_id]
            lot.on_hand -= share.quantity  # reserved, then issued to the order when work is released
            lot.version += 2

    def put_back(self, reservation: Reservation) -> None:
        by_id = {lot.lot_id: lot for lot in self.lots}
        for share in reservation.shares_by_lot():
            lot = by_id[share.lot_id]
            lot.on_hand += share.quantity
            lot.version += 1
            if lot not in self.free[(lot.kind, lot.material_code)]:
                self.free[(lot.kind, lot.material_code)].append(lot)
                self.free[(lot.kind, lot.material_code)].sort(key=lambda x: (x.receive_time, x.lot_id))


def run_stock(ids: Ids, plant: Plant, drafts: list[OrderDraft], *, start: float, end: float) -> Stock:
    """Every lot and every order's reservation over the history ``start``..``end``."""
    stores = _Stores(ids)
    result = Stock(outcomes={d.order_id: StockOutcome() for d in drafts})
    by_id = {d.order_id: d for d in drafts}
    waiting: dict[str, tuple[int, float, str]] = {}  # order id -> serve key
    queue: list[tuple[float, int, str, object]] = []
    tick = itertools.count()
    numbers: dict[MaterialKey, int] = defaultdict(int)
    for t, key, qty in _deliveries(drafts, start, end):
        heapq.heappush(queue, (t, next(tick), "lot", (key, qty)))
    for d in drafts:
        heapq.heappush(queue, (d.t0 + 2 * SAGA_STEP_S, next(tick), "order", d.order_id))

    def hold(d: OrderDraft, t: float) -> bool:
        found = allocate(d.requirements, stores.snapshots(totals_by_material(d.requirements)))
        outcome = result.outcomes[d.order_id]
        if not found.satisfied:
            if outcome.failed_at is None:
                outcome.failed_at, outcome.shortages = (
                    t,
                    tuple(sorted(found.shortages, key=lambda s: (s.kind.value, s.material_code))),
                )
            return False
        reservation = Reservation.hold(ids.uuid4(), d.order_id, Priority(int(d.priority)), found.allocations, at(t))
        stores.reserve_and_issue(reservation)
        outcome.held_at, outcome.reservation = t, reservation
        return True

    def retry(trigger: str, key: str, cause: str, t: float) -> None:
        served: list[str] = []
        for order_id in sorted(waiting, key=waiting.__getitem__):
            d = by_id[order_id]
            totals = totals_by_material(d.requirements)
            if any(stores.available(k) < q for k, q in totals.items()):
                continue
            if hold(d, t + 0.001 * len(served)):
                del waiting[order_id]
                result.outcomes[order_id].served_by = cause
                served.append(order_id)
        result.retries.append((trigger, key, t, served))

    while queue:
        t, _, kind, payload = heapq.heappop(queue)
        if kind == "lot":
            key, qty = payload  # type: ignore[misc]
            numbers[key] += 1
            for lot in stores.receive(t, key, qty, numbers[key]):
                retry("lot", lot.lot_id, lot.event_id, lot.receive_time + SAGA_STEP_S)
        elif kind == "order":
            d = by_id[str(payload)]
            if not hold(d, t):
                waiting[d.order_id] = (-int(d.priority), d.t0, d.order_id)
            if d.cancel_after is not None:
                heapq.heappush(queue, (t + d.cancel_after, next(tick), "cancel", d.order_id))
        elif kind == "cancel":
            outcome = result.outcomes[str(payload)]
            if outcome.held_at is not None and t < outcome.held_at + _SETTLE_S:
                # served from the waiting list a moment ago: cancel once it is in production
                heapq.heappush(queue, (outcome.held_at + _SETTLE_S, next(tick), "cancel", payload))
                continue
            outcome.cancelled_at = t
            if str(payload) in waiting:
                del waiting[str(payload)]
            elif outcome.reservation is not None:
                stores.put_back(outcome.reservation)
                outcome.released_event_id = ids.uuid4()
                # production cancels the work orders, inventory releases the reservation, stock grows
                retry("released", outcome.reservation.reservation_id, outcome.released_event_id, t + 3 * SAGA_STEP_S)
    result.lots = stores.lots
    result.waiting = sorted(waiting, key=waiting.__getitem__)
    for order_id in result.waiting:
        result.outcomes[order_id].waiting = True
    return result
