"""The checker: after the run, compare the ledger with what the services hold.

Reads everything back through the public gRPC APIs (orders, reservations, lots, work
orders) plus the tables of each service schema that no API shows (inbox, dead letters,
unpublished outbox rows, status history) and the redeliveries counted by the ``AckTap``.
``wait_quiescent`` polls until the pipeline has nothing left to do.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod
from mes_platform.messaging.connection import NatsConnection
from tests.e2e.faults._jetstream import AckTap, consumer_filters, saga_states
from tests.e2e.faults._ledger import Ledger
from tests.e2e.faults._report import Report
from tests.e2e.faults._tables import duplicate_transitions, history_violations, infra_counts, undelivered
from tests.e2e.faults._workload import (
    IN_PRODUCTION,
    KIND_HOLD,
    KIND_OK,
    KIND_SCARCE,
    ON_HOLD,
    PARENT,
    ServiceClients,
    Workload,
)

ACTIVE = {inv.RESERVATION_STATE_HELD, inv.RESERVATION_STATE_COMMITTED}
ISSUED = {inv.RESERVATION_STATE_COMMITTED, inv.RESERVATION_STATE_CONSUMED}
SETTLED = {IN_PRODUCTION, ON_HOLD}
CANCELLED = ords.ORDER_STATUS_CANCELLED
#: Orders whose work is done (their reservation consumed).
PRODUCED = {ords.ORDER_STATUS_READY_TO_SHIP, ords.ORDER_STATUS_SHIPPED}
#: Orders that have work orders (not cancelled).
WITH_WORK = {IN_PRODUCTION, *PRODUCED}
#: Where the saga leaves an order once it has nothing left to do (a generated history).
AT_REST = {*SETTLED, *PRODUCED, CANCELLED, ords.ORDER_STATUS_REJECTED}


async def wait_quiescent(
    mes: ServiceClients,
    nats: NatsConnection,
    admin_db_dsn: str,
    expected_orders: int,
    *,
    timeout_s: float,
    stable_polls: int = 3,
) -> bool:
    """Until every order is IN_PRODUCTION or ON_HOLD, the outboxes are published and the
    consumers idle, unchanged over ``stable_polls`` polls. False when ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    last: tuple[int, ...] | None = None
    stable = 0
    while time.monotonic() < deadline:
        try:
            counts = await mes.orders.count_orders(parent=PARENT, timeout=5)
            by_status = {c.status: c.count for c in counts.counts}
            settled = sum(by_status.get(s, 0) for s in SETTLED)
            total = sum(by_status.values())
            states = await saga_states(nats)
            _, _, unpublished, _ = await infra_counts(admin_db_dsn)
            busy = sum(s.pending + s.ack_pending for s in states)
            snapshot = (total, settled, by_status.get(IN_PRODUCTION, 0), busy, unpublished)
            done = total >= expected_orders and settled == total and busy == 0 and unpublished == 0
        except Exception:
            done, snapshot = False, None
        if done and snapshot == last:
            stable += 1
            if stable >= stable_polls:
                return True
        else:
            stable = 0
        last = snapshot
        await asyncio.sleep(0.5)
    return False


async def _all_orders(mes: ServiceClients, parent: str = PARENT) -> list[ords.Order]:
    return [o async for o in mes.orders.iter_orders(parent=parent, page_size=100, timeout=30)]


async def check_history(name: str, mes: ServiceClients, nats: NatsConnection, admin_db_dsn: str) -> Report:
    """The invariants of a history loaded without a ledger (``perf/datagen``): every order at
    rest, reservations and lots, work orders, inboxes against outboxes (as :func:`check`), and
    the rows no API shows in full (status histories, operations against their work orders,
    work-center capacity, custody against reservations, the waiting list against ON_HOLD)."""
    report = Report(name)
    orders = await _all_orders(mes, parent="")
    report.acknowledged = report.attempts = len(orders)
    for order in orders:
        report.in_production += order.status == IN_PRODUCTION
        report.on_hold += order.status == ON_HOLD
        if order.status not in AT_REST:
            report.wrong_state += 1
            report.details.append(f"not at rest: {order.order_id} is {ords.OrderStatus.Name(order.status)}")
    reservations = [r async for r in mes.inventory.iter_reservations(page_size=100, timeout=30)]
    lots = [lot async for lot in mes.inventory.iter_lots(page_size=100, timeout=30)]
    check_stock(report, orders, reservations, lots, exact=False)
    work_orders = [w async for w in mes.production.iter_work_orders(page_size=100, timeout=30)]
    check_work(report, orders, work_orders)
    await check_infrastructure(report, nats, admin_db_dsn)
    for problem in await history_violations(admin_db_dsn):
        report.wrong_state += 1
        report.details.append(problem)
    return report


async def check(
    name: str,
    mes: ServiceClients,
    ledger: Ledger,
    workload: Workload,
    tap: AckTap,
    nats: NatsConnection,
    admin_db_dsn: str,
) -> Report:
    report = Report(name, attempts=ledger.attempts, acknowledged=len(ledger.acknowledged), calls=ledger.calls)
    report.unknown = len(ledger.abandoned)
    report.errors = ledger.errors_text()
    report.replayed = ledger.replayed
    planned = workload.by_request()
    orders = await _all_orders(mes)
    by_ref: dict[str, list[ords.Order]] = defaultdict(list)
    for order in orders:
        by_ref[order.partner_reference].append(order)
    present = {o.order_id for o in orders}

    # -- order-id sets: lost, duplicated, unexpected -------------------------------------
    for request_id, order_id in ledger.acknowledged.items():
        if order_id not in present:
            report.lost += 1
            report.details.append(f"lost: {request_id} -> {order_id}")
        if len(ledger.replies.get(request_id, ())) > 1:
            report.duplicated += 1
            report.details.append(f"one request, several orders in replies: {request_id}")
    for ref, group in by_ref.items():
        if len(group) > 1:
            report.duplicated += len(group) - 1
            report.details.append(f"duplicated: {ref} has {len(group)} orders")
        if ref not in planned:
            report.duplicated += len(group)
            report.details.append(f"unexpected order {group[0].order_id} (reference {ref!r})")
        elif ref not in ledger.acknowledged and ref not in ledger.abandoned:
            report.details.append(f"order for a request never sent: {ref}")

    # -- final states ---------------------------------------------------------------------
    scarce_served = 0
    scarce_present = 0
    for ref, group in by_ref.items():
        plan = planned.get(ref)
        if plan is None:
            continue
        for order in group:
            if order.status == IN_PRODUCTION:
                report.in_production += 1
            elif order.status == ON_HOLD:
                report.on_hold += 1
            expected = {KIND_OK: {IN_PRODUCTION}, KIND_HOLD: {ON_HOLD}, KIND_SCARCE: SETTLED}[plan.kind]
            if order.status not in expected:
                report.wrong_state += 1
                status = ords.OrderStatus.Name(order.status)
                report.details.append(f"wrong state: {ref} ({plan.kind}) is {status} {order.status_reason!r}")
            if plan.kind == KIND_SCARCE:
                scarce_present += 1
                scarce_served += order.status == IN_PRODUCTION
    capacity = min(workload.scarce_capacity, scarce_present)
    if scarce_served != capacity:
        report.wrong_state += abs(scarce_served - capacity)
        report.details.append(f"scarce orders served: {scarce_served}, stock for exactly {capacity}")

    reservations = [r async for r in mes.inventory.iter_reservations(page_size=100, timeout=30)]
    lots = [lot async for lot in mes.inventory.iter_lots(page_size=100, timeout=30)]
    check_stock(report, orders, reservations, lots, exact=report.unknown == 0)
    work_orders = [w async for w in mes.production.iter_work_orders(page_size=100, timeout=30)]
    check_work(report, orders, work_orders)
    await check_infrastructure(report, nats, admin_db_dsn)
    report.redeliveries = tap.redeliveries
    report.elapsed_s = ledger.elapsed_s
    return report


def check_stock(
    report: Report,
    orders: list[ords.Order],
    reservations: list[inv.Reservation],
    lots: list[inv.MaterialLot],
    *,
    exact: bool,
) -> None:
    """Reservations per order against its status, and each lot's counters against the reservations.

    ``exact``: every lot holds exactly what its orders need (the fault workload), so a lot with
    stock left over means a reservation is missing."""
    status_of = {o.order_id: o.status for o in orders}
    per_order: dict[str, list[inv.Reservation]] = defaultdict(list)
    held_by_lot: Counter[str] = Counter()  # HELD: still in the lot, counted in its reserved quantity
    issued_by_lot: Counter[str] = Counter()  # COMMITTED/CONSUMED: issued out of the lot
    for r in reservations:
        per_order[r.order_id].append(r)
        for item in r.items:
            qty = item.weight_mg if item.kind == common_pb2.MATERIAL_KIND_METAL else item.pieces
            if r.state == inv.RESERVATION_STATE_HELD:
                held_by_lot[item.lot_id] += qty
            elif r.state in ISSUED:
                issued_by_lot[item.lot_id] += qty
    for order_id, group in per_order.items():
        active = [r for r in group if r.state in ACTIVE]
        if len(group) > 1:
            report.double_reservations += 1
            report.details.append(f"{len(group)} reservations for order {order_id}")
        status = status_of.get(order_id)
        if status is None:
            report.reservation_mismatches += 1
            report.details.append(f"reservation for an unknown order {order_id}")
        elif status == ON_HOLD and active:
            report.reservation_mismatches += 1
            report.details.append(f"order {order_id} ON_HOLD but holds a reservation")
        elif status == IN_PRODUCTION and not any(r.state == inv.RESERVATION_STATE_COMMITTED for r in group):
            report.reservation_mismatches += 1
            report.details.append(f"order {order_id} IN_PRODUCTION without a committed reservation")
        elif status in PRODUCED and not any(r.state == inv.RESERVATION_STATE_CONSUMED for r in group):
            report.reservation_mismatches += 1
            report.details.append(f"order {order_id} {ords.OrderStatus.Name(status)} without a consumed reservation")
        elif status == CANCELLED and active:
            report.reservation_mismatches += 1
            report.details.append(f"order {order_id} CANCELLED but holds a reservation")
    for order in orders:
        if order.status in WITH_WORK and order.order_id not in per_order:
            report.reservation_mismatches += 1
            status = ords.OrderStatus.Name(order.status)
            report.details.append(f"order {order.order_id} {status} without any reservation")
    for lot in lots:
        metal = lot.kind == common_pb2.MATERIAL_KIND_METAL
        received = lot.received_mg if metal else lot.received_pieces
        reserved = lot.reserved_mg if metal else lot.reserved_pieces
        on_hand = lot.on_hand_mg if metal else lot.on_hand_pieces
        held, issued = held_by_lot.get(lot.lot_id, 0), issued_by_lot.get(lot.lot_id, 0)
        where = f"lot {lot.lot_id} {lot.material_code}: received {received}, on hand {on_hand}, reserved {reserved}"
        if reserved != held or on_hand != received - issued or not 0 <= reserved <= on_hand:
            report.lot_mismatches += 1
            report.details.append(f"{where}; reservations hold {held}, issued {issued}")
        elif exact and on_hand - reserved != 0:
            # Each lot holds exactly what its orders need: a reservation missing shows here.
            report.lot_mismatches += 1
            report.details.append(f"{where}; {on_hand - reserved} left over (stock was sized exactly)")


def check_work(report: Report, orders: list[ords.Order], work_orders: list[prod.WorkOrder]) -> None:
    """One work order per line; an order has work (not cancelled) exactly while in production or
    after, and a cancelled order only cancelled work."""
    lines_seen: Counter[tuple[str, int]] = Counter((w.order_id, w.line_number) for w in work_orders)
    report.duplicate_work_orders = sum(n - 1 for n in lines_seen.values())
    live = {w.order_id for w in work_orders if w.status != prod.WORK_ORDER_STATUS_CANCELLED}
    for order in orders:
        has_work = order.order_id in live
        if (order.status in WITH_WORK) != has_work:
            report.reservation_mismatches += 1
            report.details.append(
                f"order {order.order_id} {ords.OrderStatus.Name(order.status)}, work orders: {has_work}"
            )


async def check_infrastructure(report: Report, nats: NatsConnection, admin_db_dsn: str) -> None:
    """Status histories, inboxes against outboxes, dead letters, unpublished rows."""
    report.duplicate_transitions = await duplicate_transitions(admin_db_dsn)
    report.inbox, report.dead_letters, report.unpublished, report.dead_letter_rows = await infra_counts(admin_db_dsn)
    missing = await undelivered(admin_db_dsn, await consumer_filters(nats))
    report.undelivered = sum(missing.values())
    if missing:
        report.details.append(f"events missing from inboxes: {missing}")
