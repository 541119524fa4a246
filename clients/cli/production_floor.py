"""Shop-floor commands of ``mesctl production``: work orders, operations, weigh-in/out, pauses,
reviews, and blocking a work center."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from clients.cli import production_calendar
from clients.cli._app import Context, Subcommands, add_command, add_group
from clients.cli._args import enum_choices, enum_value, limit, operation_name, resource_id
from clients.cli._render import details, grams, label, table, weight, when
from clients.cli._resource import resource_command
from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb

__all__ = [
    "add_commands",
    "operation_details",
    "operation_table",
    "routing_table",
    "work_center_details",
    "work_order_details",
    "work_order_table",
]


def add_commands(group: Subcommands) -> None:
    p = add_command(group, "work-orders", _work_orders, "list work orders")
    p.add_argument("--order", action="append", default=[], help="only work orders of this order (repeatable)")
    p.add_argument("--status", action="append", default=[], help=", ".join(enum_choices(pb.WorkOrderStatus)))
    p.add_argument("--limit", type=int, default=100, help="at most N (0: all; default 100)")

    work_order = add_group(group, "work-order", "one work order: get, hold, resume")
    p = add_command(work_order, "get", _work_order_get, "show a work order with its routing snapshot")
    p.add_argument("work_order", help="id or workOrders/<id>")
    p = add_command(work_order, "hold", _work_order_hold, "put an in-progress work order on hold")
    p.add_argument("work_order")
    p.add_argument("--reason", default="")
    p = add_command(work_order, "resume", _work_order_resume, "resume a held work order")
    p.add_argument("work_order")

    p = add_command(group, "operations", _operations, "list the operations of work orders")
    p.add_argument("--work-order", action="append", default=[], required=True, help="id (repeatable)")
    p.add_argument("--status", action="append", default=[], help=", ".join(enum_choices(pb.OperationStatus)))

    p = add_command(group, "start", _start, "start an operation with its weigh-in")
    p.add_argument("operation", help="workOrders/<id>/operations/<n> or <id>/<n>")
    p.add_argument("--operator", required=True, help="operator code who weighed")
    p.add_argument("--weigh-in-mg", type=int, required=True)
    p.add_argument("--request-id", help="idempotency key (default: generated)")

    p = add_command(group, "pause", _pause, "pause an operation in progress, with a reason")
    p.add_argument("operation", help="workOrders/<id>/operations/<n> or <id>/<n>")
    p.add_argument("--operator", required=True, help="operator code who paused it")
    p.add_argument("--reason", required=True, help="why (a break, waiting for stones, tool broken)")
    p.add_argument("--request-id", help="idempotency key (default: generated)")

    p = add_command(group, "resume", _resume, "resume a paused operation")
    p.add_argument("operation")
    p.add_argument("--operator", required=True, help="operator code who resumed it")
    p.add_argument("--request-id", help="idempotency key (default: generated)")

    p = add_command(group, "finish", _finish, "finish an operation with its weigh-out")
    p.add_argument("operation")
    p.add_argument("--operator", required=True)
    p.add_argument("--weigh-out-mg", type=int, required=True)
    p.add_argument("--scrap-mg", type=int, default=0, help="scrap returned, in mg")
    p.add_argument("--request-id", help="idempotency key (default: generated)")

    p = add_command(group, "review", _review, "resolve a loss review")
    p.add_argument("operation")
    p.add_argument("--supervisor", required=True, help="supervisor's operator code")
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", action="store_true", help="accept the loss (DONE)")
    decision.add_argument("--rework", action="store_true", help="send the piece to rework")
    p.add_argument("--note", default="")

    p = add_command(group, "close", _close, "close a completed work order, reconciling its metal")
    p.add_argument("work_order")

    work_center = add_group(group, "work-center", "one work center: block, unblock, calendar, output")
    p = add_command(work_center, "block", _work_center_block, "block a work center: nothing starts there")
    p.add_argument("work_center", help="code or workCenters/<code>")
    p.add_argument("--reason", required=True, help="why (a broken kiln, no gas)")
    p.add_argument("--operator", default="", help="operator code who blocked it")
    p = add_command(work_center, "unblock", _work_center_unblock, "lift a work center's block")
    p.add_argument("work_center")
    p.add_argument("--operator", default="", help="operator code who lifted the block")
    production_calendar.add_commands(work_center)


def work_order_table(work_orders: Sequence[pb.WorkOrder]) -> str:
    rows = [
        (
            w.work_order_id,
            w.order_id,
            w.line_number,
            w.style_sku,
            w.alloy_code,
            w.quantity,
            label(pb.WorkOrderStatus, w.status),
            label(common_pb2.Priority, w.priority),
            grams(w.issued_mg),
            grams(w.loss_mg),
        )
        for w in work_orders
    ]
    headers = ["WORK ORDER", "ORDER", "LINE", "STYLE", "ALLOY", "QTY", "STATUS", "PRIORITY", "ISSUED (g)", "LOSS (g)"]
    return table(headers, rows)


def work_order_details(w: pb.WorkOrder) -> str:
    head = details(
        [
            ("name", w.name),
            ("order", f"orders/{w.order_id} line {w.line_number}"),
            ("style", w.style_sku),
            ("alloy", w.alloy_code),
            ("size", w.size),
            ("engraving", w.engraving),
            ("quantity", w.quantity),
            ("status", label(pb.WorkOrderStatus, w.status)),
            ("priority", label(common_pb2.Priority, w.priority)),
            ("issued", weight(w.issued_mg)),
            ("finished", weight(w.finished_mg)),
            ("loss", weight(w.loss_mg)),
            ("scrap returned", weight(w.scrap_returned_mg)),
            ("routing version", w.routing_version),
            ("version", w.version),
            ("created", when(w.create_time)),
            ("updated", when(w.update_time)),
        ]
    )
    return f"{head}\n\nrouting snapshot:\n{routing_table(w.routing_snapshot)}"


def routing_table(steps: Sequence[pb.RoutingStep]) -> str:
    """A style's routing, or the snapshot a work order was planned with."""
    rows = [
        (r.sequence, r.operation_code, r.work_center_type, r.expected_minutes, r.loss_tolerance_per_mille, r.optional)
        for r in steps
    ]
    headers = ["SEQ", "OPERATION", "WORK CENTER TYPE", "MINUTES", "LOSS TOL (‰)", "OPTIONAL"]
    return table(headers, rows, empty="(no routing)")


def operation_table(operations: Sequence[pb.Operation]) -> str:
    rows = [
        (
            f"{op.work_order_id}/{op.sequence}",
            op.operation_code,
            op.work_center.removeprefix("workCenters/"),
            label(pb.OperationStatus, op.status),
            grams(op.weigh_in_mg) if op.weigh_in_mg else "",
            grams(op.weigh_out_mg) if op.weigh_out_mg else "",
            op.loss_mg if op.weigh_out_mg else "",
            op.started_by,
            op.attempt,
        )
        for op in operations
    ]
    headers = ["OPERATION", "CODE", "WORK CENTER", "STATUS", "IN (g)", "OUT (g)", "LOSS (mg)", "BY", "ATTEMPT"]
    return table(headers, rows)


def operation_details(op: pb.Operation) -> str:
    tolerance = op.weigh_in_mg * op.loss_tolerance_per_mille // 1000
    return details(
        [
            ("name", op.name),
            ("operation", op.operation_code),
            ("work center", op.work_center),
            ("status", label(pb.OperationStatus, op.status)),
            ("weigh-in", weight(op.weigh_in_mg)),
            ("weigh-out", weight(op.weigh_out_mg)),
            ("scrap returned", weight(op.scrap_returned_mg)),
            ("loss", weight(op.loss_mg)),
            ("tolerance", f"{op.loss_tolerance_per_mille} ‰ = {weight(tolerance)}"),
            ("started by", op.started_by),
            ("finished by", op.finished_by),
            ("reviewed by", op.reviewed_by),
            ("review note", op.review_note),
            ("started", when(op.start_time)),
            ("finished", when(op.finish_time)),
            ("paused", f"since {when(op.pause_time)}: {op.pause_reason}" if op.HasField("pause_time") else "-"),
            ("paused (ended)", f"{op.paused_seconds} s"),
            ("attempt", op.attempt),
        ]
    )


def work_center_details(c: pb.WorkCenter) -> str:
    return details(
        [
            ("name", c.name),
            ("type", c.work_center_type),
            ("display name", c.display_name),
            ("capacity", c.capacity),
            ("active", c.active),
            ("state", label(pb.WorkCenterState, c.state)),
            ("reason", c.state_reason),
            ("since", when(c.state_time)),
            ("version", c.version),
        ]
    )


async def _work_orders(args: argparse.Namespace, ctx: Context) -> None:
    statuses = [enum_value(pb.WorkOrderStatus, s, "status") for s in args.status]
    orders = [resource_id(o, "orders") for o in args.order]
    found = [
        w
        async for w in ctx.clients.production.iter_work_orders(
            order_ids=orders, statuses=statuses, limit=limit(args.limit)
        )
    ]
    ctx.output.emit(found, lambda: work_order_table(found))


async def _operations(args: argparse.Namespace, ctx: Context) -> None:
    ids = [resource_id(w, "workOrders") for w in args.work_order]
    statuses = [enum_value(pb.OperationStatus, s, "status") for s in args.status]
    found = [op async for op in ctx.clients.production.iter_operations(work_order_ids=ids, statuses=statuses)]
    ctx.output.emit(found, lambda: operation_table(found))


async def _start(args: argparse.Namespace, ctx: Context) -> None:
    await _weigh(args, ctx, ctx.clients.production.start_operation, weigh_in_mg=args.weigh_in_mg)


async def _finish(args: argparse.Namespace, ctx: Context) -> None:
    weights = {"weigh_out_mg": args.weigh_out_mg, "scrap_returned_mg": args.scrap_mg}
    await _weigh(args, ctx, ctx.clients.production.finish_operation, **weights)


async def _pause(args: argparse.Namespace, ctx: Context) -> None:
    await _weigh(args, ctx, ctx.clients.production.pause_operation, reason=args.reason)


async def _resume(args: argparse.Namespace, ctx: Context) -> None:
    await _weigh(args, ctx, ctx.clients.production.resume_operation)


async def _weigh(
    args: argparse.Namespace, ctx: Context, call: Callable[..., Awaitable[pb.Operation]], **fields: int | str
) -> None:
    """Start, pause, resume or finish ``args.operation`` as ``args.operator`` (with its weights or
    reason), once per request id."""
    name = operation_name(args.operation)
    op = await call(name=name, operator_code=args.operator, request_id=args.request_id, **fields)
    ctx.output.emit(op, lambda: operation_details(op))


async def _review(args: argparse.Namespace, ctx: Context) -> None:
    decision = pb.LOSS_REVIEW_DECISION_APPROVE if args.approve else pb.LOSS_REVIEW_DECISION_REWORK
    op = await ctx.clients.production.resolve_loss_review(
        operation_name(args.operation), supervisor_code=args.supervisor, decision=decision, note=args.note
    )
    ctx.output.emit(op, lambda: operation_details(op))


# -- one call on one work order or work center ---------------------------------------------

_work_order = partial(resource_command, ("work_order", "workOrders"), work_order_details)
_work_order_get = _work_order(lambda c: c.production.get_work_order)
_work_order_hold = _work_order(lambda c: c.production.hold_work_order, reason="reason")
_work_order_resume = _work_order(lambda c: c.production.resume_work_order)
_close = _work_order(lambda c: c.production.close_work_order)
_work_center = partial(resource_command, ("work_center", "workCenters"), work_center_details)
_work_center_block = _work_center(lambda c: c.production.block_work_center, reason="reason", operator_code="operator")
_work_center_unblock = _work_center(lambda c: c.production.unblock_work_center, operator_code="operator")
