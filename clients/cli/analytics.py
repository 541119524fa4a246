"""``mesctl analytics``: the analytics read model: its status, partner, flow and metal analytics, rebuilds.

::

    mesctl analytics status                                   # positions applied, facts held, imported ones
    mesctl analytics partners --grain week --partner-id aurora-jewels
    mesctl analytics flow --from 2026-11-01 --to 2026-12-01
    mesctl analytics metal --grain week
    mesctl analytics rebuild [--keep-imported] [--from-services]

Windows are ``[--from, --to)`` in UTC (a date is the start of that day); ``--to`` defaults to now and
``--from`` to 2 days (``--grain hour``), 28 days (``day``, the default) or 12 weeks (``week``) before it.
``rebuild`` empties the read model and replays the event streams; ``--from-services`` then loads what
the streams no longer hold from the services' own stores: every order (``ListOrders``; a shipped or
cancelled order's ``update_time`` is its ship or cancel time, since those states are final and only a
status change moves ``update_time``; its release from its work orders) and every operation of those
work orders (``ListWorkOrders``, ``ListOperations``), sent with ``ImportFacts`` in batches, the next
batch read while the last one is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from clients.analytics import make_window
from clients.cli._app import CliUsageError, Context, Subcommands, add_command, add_group
from clients.cli._args import enum_choices, enum_value, parse_since, resource_id
from clients.cli._render import details, grams, label, table, when
from mes.analytics.v1 import analytics_pb2 as pb
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2

__all__ = [
    "IMPORT_BATCH",
    "flow_text",
    "metal_text",
    "operation_facts",
    "order_fact",
    "partners_text",
    "register",
    "status_text",
    "window_from_args",
]

#: Orders (with the operations of their work orders) per ImportFacts call: about 20 operations each
#: in a 3-line order, well under the call's 10,000 operations.
IMPORT_BATCH = 250
_DEFAULT_SPAN = {pb.GRAIN_HOUR: timedelta(days=2), pb.GRAIN_DAY: timedelta(days=28), pb.GRAIN_WEEK: timedelta(weeks=12)}
#: Production's operation statuses as the analytics' facts name them (the rest keep their own name).
_FACT_STATUS = {
    production_pb2.OPERATION_STATUS_QUEUED: "READY",
    production_pb2.OPERATION_STATUS_DONE: "FINISHED",
}


def register(commands: Subcommands) -> None:
    group = add_group(commands, "analytics", "the analytics read model: partners, flow, metal; status and rebuild")
    add_command(group, "status", _status, "what the read model has applied and holds")
    p = add_command(group, "partners", _partners, "partners: volume, mix, cancellations, lead time, delivery, API use")
    _window_arguments(p)
    p.add_argument(
        "--partner-id",
        metavar="PARTNER_ID",
        help="only this partner (id or partners/<id>; the global --partner, acting for a partner, also selects it)",
    )
    p = add_command(group, "flow", _flow, "flow and capacity: WIP, queues, throughput, utilisation")
    _window_arguments(p)
    p = add_command(group, "metal", _metal, "metal: loss per operation and operator against tolerance, custody")
    _window_arguments(p)
    p = add_command(group, "rebuild", _rebuild, "empty the read model and replay the streams")
    p.add_argument("--keep-imported", action="store_true", help="keep the facts loaded by an earlier import")
    p.add_argument(
        "--from-services",
        action="store_true",
        help="then load the orders and operations the streams no longer hold from the services",
    )
    p.add_argument("--request-id", help="idempotency key of the rebuild (default: generated)")


def _window_arguments(p: argparse.ArgumentParser) -> None:
    grains = ", ".join(g.lower() for g in enum_choices(pb.Grain))
    p.add_argument("--from", dest="from_time", metavar="DATE", help="window start, UTC (default: by the grain)")
    p.add_argument("--to", dest="to_time", metavar="DATE", help="window end, exclusive, UTC (default: now)")
    p.add_argument("--grain", default="day", help=f"bucket size: {grains} (default day)")


def window_from_args(args: argparse.Namespace, *, now: datetime | None = None) -> pb.Window:
    """The window of ``--from``, ``--to`` and ``--grain`` (defaults: see the module)."""
    grain = enum_value(pb.Grain, args.grain, "grain")
    to_time = parse_since(args.to_time) if args.to_time else (now or datetime.now(UTC)).replace(microsecond=0)
    from_time = parse_since(args.from_time) if args.from_time else to_time - _DEFAULT_SPAN[grain]
    if from_time >= to_time:
        raise CliUsageError(f"--from ({from_time.isoformat()}) must be before --to ({to_time.isoformat()})")
    return make_window(from_time, to_time, grain)


# -- rendering --------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _num(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def _center(name: str) -> str:
    return name.removeprefix("workCenters/")


def _loss(pct: float) -> str:
    """A loss percentage (losses are small: three decimals)."""
    return f"{pct:.3f}%"


def _partner(value: str) -> str:
    return value or "(all)"


def _section(title: str, body: str) -> str:
    return f"{title}\n{body}"


def _as_of(as_of: pb.AsOf) -> str:
    positions = ", ".join(f"{p.stream} {p.sequence}" for p in as_of.positions) or "-"
    return f"as of {when(as_of.compute_time)} (stream positions: {positions})"


def status_text(status: pb.GetProjectionStatusResponse) -> str:
    pairs: list[tuple[str, object]] = [
        ("orders", status.orders),
        ("  imported", status.imported_orders),
        ("operations", status.operations),
        ("  imported", status.imported_operations),
        ("custody entries", status.custody_entries),
        ("API usage minutes", status.usage_minutes),
        ("last event", when(status.last_event_time)),
        ("computed", when(status.as_of.compute_time)),
    ]
    pairs += [(f"position {p.stream}", p.sequence) for p in status.as_of.positions]
    return details(pairs)


def partners_text(resp: pb.GetPartnerAnalyticsResponse) -> str:
    parts = [
        _section(
            "Volume (accepted orders submitted)",
            table(
                ["PARTNER", "BUCKET", "ORDERS", "PIECES"],
                [(v.partner_id, when(v.bucket_start), v.orders, v.pieces) for v in resp.volume],
            ),
        ),
        _section(
            "Mix (pieces)",
            table(
                ["BY", "KEY", "PIECES", "SHARE"],
                [(label(pb.MixDimension, m.dimension), m.key, m.pieces, _pct(m.share)) for m in resp.mix],
            ),
        ),
        _section(
            "Cancellations within 30 days, by submission cohort",
            table(
                ["PARTNER", "COHORT", "SUBMITTED", "CANCELLED", "BEFORE RELEASE", "AFTER", "RATE", "MATURE"],
                [
                    (
                        c.partner_id,
                        when(c.bucket_start),
                        c.submitted,
                        c.cancelled,
                        c.cancelled_before_release,
                        c.cancelled_after_release,
                        _pct(c.rate),
                        c.mature,
                    )
                    for c in resp.cancellation
                ],
            ),
        ),
        _section(
            "Lead time of orders shipped (hours)",
            table(
                ["PARTNER", "N", "P50", "P85", "P95"],
                [
                    (_partner(x.partner_id), x.n, *(_hours(x) if x.has_percentiles else ("", "", "")))
                    for x in resp.lead_time
                ],
            ),
        ),
        _section(
            "On-time delivery",
            table(
                ["PARTNER", "SHIPPED", "ON TIME", "OTD"],
                [(_partner(x.partner_id), x.shipped, x.on_time, _pct(x.otd)) for x in resp.delivery],
            ),
        ),
        _section(
            "Cadence (last 180 days)",
            table(
                ["PARTNER", "SUBMISSIONS", "MEDIAN GAP (D)", "DAYS SINCE LAST", "QUIET"],
                [
                    (
                        c.partner_id,
                        c.submissions,
                        _num(c.median_gap_days) if c.has_median else "",
                        _num(c.days_since_last),
                        c.quiet,
                    )
                    for c in resp.cadence
                ],
            ),
        ),
        _section(
            "API usage",
            table(
                ["PARTNER", "BUCKET", "REQUESTS", "THROTTLED", "LIMITED", "COST USE", "4XX", "5XX", "P50 MS", "P95 MS"],
                [
                    (
                        u.partner_id,
                        when(u.bucket_start),
                        u.requests,
                        _pct(u.throttle_rate),
                        u.rate_limited,
                        _pct(u.cost_utilisation),
                        _pct(u.error_rate_4xx),
                        _pct(u.error_rate_5xx),
                        _num(u.p50_ms) if u.has_percentiles else "",
                        _num(u.p95_ms) if u.has_percentiles else "",
                    )
                    for u in resp.api_usage
                ],
            ),
        ),
        _section(
            "API operations",
            table(
                ["PARTNER", "OPERATION", "REQUESTS", "ERRORS", "P50 MS", "P95 MS"],
                [
                    (
                        o.partner_id,
                        o.operation,
                        o.requests,
                        o.errors,
                        _num(o.p50_ms) if o.has_percentiles else "",
                        _num(o.p95_ms) if o.has_percentiles else "",
                    )
                    for o in resp.api_operations
                ],
            ),
        ),
        _section(
            "API errors",
            table(["PARTNER", "CODE", "COUNT"], [(e.partner_id, e.code, e.count) for e in resp.api_errors]),
        ),
        _section(
            "Order submissions (idempotency)",
            table(
                ["PARTNER", "SUBMISSIONS", "REPLAYS", "KEY REUSED", "REPLAY RATE"],
                [(i.partner_id, i.submissions, i.replays, i.key_reused, _pct(i.replay_rate)) for i in resp.idempotency],
            ),
        ),
        _as_of(resp.as_of),
    ]
    return "\n\n".join(parts)


def _hours(lead: pb.LeadTime) -> tuple[str, str, str]:
    return _num(lead.p50_hours), _num(lead.p85_hours), _num(lead.p95_hours)


def flow_text(resp: pb.GetFlowAnalyticsResponse) -> str:
    law = resp.littles_law
    parts = [
        _section(
            "Work centers now",
            table(
                ["WORK CENTER", "WIP", "WIP GROSS G", "WIP FINE G", "QUEUE", "OLDEST MIN", "MEDIAN MIN"],
                [
                    (
                        _center(w.work_center),
                        w.wip_operations,
                        grams(w.wip_gross_mg),
                        grams(w.wip_fine_mg),
                        w.queue,
                        _num(w.oldest_queue_min),
                        _num(w.median_queue_min),
                    )
                    for w in resp.work_centers
                ],
            ),
        ),
        _section(
            "Utilisation and bottleneck rank",
            table(
                ["RANK", "WORK CENTER", "BUSY MIN", "SHIFT MIN", "UTILISATION", "MEAN QUEUE MIN", "CONSTRAINT?"],
                [
                    (
                        u.rank,
                        _center(u.work_center),
                        _num(u.busy_min, 0),
                        _num(u.available_min, 0),
                        _pct(u.utilisation),
                        _num(u.mean_queue_min),
                        u.constraint_candidate,
                    )
                    for u in resp.utilisation
                ],
            ),
        ),
        _section(
            "Value stream (minutes, operations finished in the window)",
            table(
                ["OPERATION", "N", "QUEUE P50", "QUEUE P85", "TOUCH P50", "TOUCH P85"],
                [
                    (
                        v.operation_code,
                        v.n,
                        *(
                            (_num(v.queue_p50_min), _num(v.queue_p85_min), _num(v.touch_p50_min), _num(v.touch_p85_min))
                            if v.has_percentiles
                            else ("", "", "", "")
                        ),
                    )
                    for v in resp.value_stream
                ],
            ),
        ),
        _section(
            "Throughput (operations finished)",
            table(
                ["WORK CENTER", "BUCKET", "OPERATIONS"],
                [(_center(t.work_center), when(t.bucket_start), t.operations) for t in resp.throughput],
            ),
        ),
        _section(
            "Orders shipped",
            table(["BUCKET", "ORDERS"], [(when(s.bucket_start), s.orders) for s in resp.shipped]),
        ),
        _section(
            "Open work orders by age",
            table(
                ["UP TO HOURS", "WORK ORDERS"],
                [(w.up_to_hours or "more", w.work_orders) for w in resp.wip_aging],
            ),
        ),
        _section(
            "Little's law",
            details(
                [
                    ("mean WIP", _num(law.mean_wip, 2)),
                    ("throughput per day", _num(law.throughput_per_day, 2)),
                    ("mean flow days", _num(law.mean_flow_days, 2)),
                    ("deviation", _pct(law.deviation)),
                    ("steady", law.steady),
                    ("completed", law.completed),
                ]
            ),
        ),
        _as_of(resp.as_of),
    ]
    return "\n\n".join(parts)


def metal_text(resp: pb.GetMetalAnalyticsResponse) -> str:
    parts = [
        _section(
            "Loss per operation and alloy",
            table(
                ["OPERATION", "ALLOY", "OPS", "GROSS IN G", "LOSS G", "LOSS %", "ALLOWED G", "EXCESS G", "EXCEPTIONS"],
                [
                    (
                        x.operation_code,
                        x.alloy_code,
                        x.operations,
                        grams(x.gross_in_mg),
                        grams(x.loss_mg),
                        _loss(x.loss_pct),
                        grams(x.allowed_mg),
                        grams(x.excess_mg),
                        x.exceptions,
                    )
                    for x in resp.by_operation
                ],
            ),
        ),
        _section(
            "Loss per operator",
            table(
                ["OPERATOR", "OPS", "GROSS IN G", "LOSS G", "LOSS %", "ALLOWED G", "EXCESS G"],
                [
                    (
                        x.operator_code,
                        x.operations,
                        grams(x.gross_in_mg),
                        grams(x.loss_mg),
                        _loss(x.loss_pct),
                        grams(x.allowed_mg),
                        grams(x.excess_mg),
                    )
                    for x in resp.by_operator
                ],
            ),
        ),
        _section(
            "Loss trend",
            table(
                ["BUCKET", "GROSS IN G", "LOSS G", "LOSS %", "ALLOWED G"],
                [
                    (
                        when(x.bucket_start),
                        grams(x.gross_in_mg),
                        grams(x.loss_mg),
                        _loss(x.loss_pct),
                        grams(x.allowed_mg),
                    )
                    for x in resp.trend
                ],
            ),
        ),
        _section(
            "Custody pending",
            table(
                ["HOLDER", "MATERIAL", "ISSUED G", "RETURNED G", "LOST G", "PENDING G", "FINE G", "OLDEST OPEN ISSUE"],
                [
                    (
                        c.holder,
                        c.material_code,
                        grams(c.issued_mg),
                        grams(c.returned_mg),
                        grams(c.loss_mg),
                        grams(c.pending_mg),
                        grams(c.pending_fine_mg),
                        when(c.oldest_open_issue_time),
                    )
                    for c in resp.custody
                ],
            ),
        ),
        _as_of(resp.as_of),
    ]
    return "\n\n".join(parts)


# -- facts from the services' stores ---------------------------------------------------------


def _set(target: Timestamp, value: Timestamp | None) -> None:
    if value is not None and (value.seconds or value.nanos):
        target.CopyFrom(value)


def order_fact(order: orders_pb2.Order, work_orders: Sequence[production_pb2.WorkOrder]) -> pb.OrderFact:
    """An order as the analytics' fact: submitted when created, released with its first work order,
    shipped or cancelled at its ``update_time`` when it is SHIPPED or CANCELLED (final states: the
    status change into them was the order's last change)."""
    fact = pb.OrderFact(
        order_id=order.order_id,
        partner_id=order.partner.removeprefix("partners/"),
        lines=[
            pb.OrderLineFact(style_code=x.style_code, alloy_code=x.alloy_code, quantity=x.quantity) for x in order.lines
        ],
    )
    _set(fact.submit_time, order.create_time)
    _set(fact.due_time, order.due_time)
    if order.status == orders_pb2.ORDER_STATUS_SHIPPED:
        _set(fact.ship_time, order.update_time)
    elif order.status == orders_pb2.ORDER_STATUS_CANCELLED:
        _set(fact.cancel_time, order.update_time)
    releases = [wo.create_time for wo in work_orders if wo.create_time.seconds]
    _set(fact.release_time, min(releases, key=lambda t: (t.seconds, t.nanos)) if releases else None)
    return fact


def operation_facts(
    work_order: production_pb2.WorkOrder, operations: Iterable[production_pb2.Operation]
) -> list[pb.OperationFact]:
    """A work order's operations as facts; an operation was ready when the one before it finished
    (the first one: when the work order was released)."""
    facts = []
    ready: Timestamp | None = work_order.create_time
    for op in sorted(operations, key=lambda o: o.sequence):
        fact = pb.OperationFact(
            name=op.name,
            order_id=op.order_id or work_order.order_id,
            operation_code=op.operation_code,
            work_center=op.work_center,
            alloy_code=op.alloy_code or work_order.alloy_code,
            status=_FACT_STATUS.get(op.status, label(production_pb2.OperationStatus, op.status)),
            paused_seconds=op.paused_seconds,
            weigh_in_mg=op.weigh_in_mg,
            weigh_out_mg=op.weigh_out_mg,
            scrap_returned_mg=op.scrap_returned_mg,
            loss_tolerance_per_mille=op.loss_tolerance_per_mille,
            finished_by=op.finished_by,
        )
        if op.status != production_pb2.OPERATION_STATUS_PENDING:
            _set(fact.ready_time, ready)
        _set(fact.start_time, op.start_time)
        _set(fact.finish_time, op.finish_time)
        _set(fact.release_time, work_order.create_time)
        if op.finish_time.seconds:
            ready = op.finish_time
        facts.append(fact)
    return facts


async def _chunks(orders: AsyncIterator[orders_pb2.Order], size: int) -> AsyncIterator[list[orders_pb2.Order]]:
    chunk: list[orders_pb2.Order] = []
    async for order in orders:
        chunk.append(order)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _facts_of(ctx: Context, orders: Sequence[orders_pb2.Order]) -> pb.ImportFactsRequest:
    """The facts of a batch of orders: their work orders and operations."""
    work_orders: dict[str, list[production_pb2.WorkOrder]] = {}
    async for wo in ctx.clients.production.iter_work_orders(order_ids=[o.order_id for o in orders], page_size=1000):
        work_orders.setdefault(wo.order_id, []).append(wo)
    by_id = {wo.work_order_id: wo for wos in work_orders.values() for wo in wos}
    operations: dict[str, list[production_pb2.Operation]] = {}
    ids = list(by_id)
    for first in range(0, len(ids), 1000):
        batch = ids[first : first + 1000]
        async for op in ctx.clients.production.iter_operations(work_order_ids=batch, page_size=1000):
            operations.setdefault(op.work_order_id, []).append(op)
    request = pb.ImportFactsRequest()
    for order in orders:
        request.orders.append(order_fact(order, work_orders.get(order.order_id, [])))
    for wo_id, wo in by_id.items():
        request.operations.extend(operation_facts(wo, operations.get(wo_id, [])))
    return request


async def _import_from_services(ctx: Context) -> dict[str, int]:
    """Every order but the rejected ones (never accepted: no analytics counts them) and their operations;
    a batch is read from the services while the one before it is imported."""
    orders = operations = 0

    async def accepted() -> AsyncIterator[orders_pb2.Order]:
        async for order in ctx.clients.orders.iter_orders():
            if order.status != orders_pb2.ORDER_STATUS_REJECTED:
                yield order

    async def send(request: pb.ImportFactsRequest) -> None:
        nonlocal orders, operations
        response = await ctx.clients.analytics.import_facts(request)
        orders += response.orders
        operations += response.operations
        ctx.output.note(f"imported {orders} orders, {operations} operations")

    sending: asyncio.Task[None] | None = None
    try:
        async for chunk in _chunks(accepted(), IMPORT_BATCH):
            request = await _facts_of(ctx, chunk)
            if sending is not None:
                await sending
            sending = asyncio.create_task(send(request))
        if sending is not None:
            await sending
    finally:
        if sending is not None and not sending.done():
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
    return {"orders": orders, "operations": operations}


# -- handlers ---------------------------------------------------------------------------


async def _status(args: argparse.Namespace, ctx: Context) -> None:
    status = await ctx.clients.analytics.get_projection_status()
    ctx.output.emit(status, lambda: status_text(status))


async def _partners(args: argparse.Namespace, ctx: Context) -> None:
    window = window_from_args(args)
    chosen = args.partner_id or args.acting_partner
    partner = resource_id(chosen, "partners") if chosen else ""
    resp = await ctx.clients.analytics.get_partner_analytics(window=window, partner_id=partner)
    ctx.output.emit(resp, lambda: partners_text(resp))


async def _flow(args: argparse.Namespace, ctx: Context) -> None:
    resp = await ctx.clients.analytics.get_flow_analytics(window=window_from_args(args))
    ctx.output.emit(resp, lambda: flow_text(resp))


async def _metal(args: argparse.Namespace, ctx: Context) -> None:
    resp = await ctx.clients.analytics.get_metal_analytics(window=window_from_args(args))
    ctx.output.emit(resp, lambda: metal_text(resp))


async def _rebuild(args: argparse.Namespace, ctx: Context) -> None:
    resp = await ctx.clients.analytics.rebuild(keep_imported=args.keep_imported, request_id=args.request_id)
    ctx.output.note(f"rebuilt: {_as_of(resp.as_of)}")
    result: dict[str, Any] = {"rebuild": resp}
    if args.from_services:
        ctx.output.note("loading the orders and operations from the services")
        result["imported"] = await _import_from_services(ctx)
    imported = result.get("imported")
    ctx.output.emit(
        result,
        lambda: (
            "rebuilt"
            + (f"; imported {imported['orders']} orders, {imported['operations']} operations" if imported else "")
        ),
    )
