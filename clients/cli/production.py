"""``mesctl production``: styles, work centers, queues, stats, operators and their passwords, metal loss.

The shop-floor commands (work orders, operations, start/pause/resume/finish/review/close, blocking a
work center) are in ``production_floor``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from clients.cli import production_floor
from clients.cli._app import CliUsageError, Context, Subcommands, add_command, add_group
from clients.cli._args import enum_value, parse_since, resource_name
from clients.cli._render import details, grams, label, table, when
from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb

__all__ = ["register", "style_details", "style_table"]


def register(commands: Subcommands) -> None:
    group = add_group(commands, "production", "styles, work centers, work orders and operations")

    p = add_command(group, "styles", _styles, "list styles")
    p.add_argument("--limit", type=int, default=0, help="at most N (0: all)")

    p = add_command(group, "style", _style, "show a style with its routing and bill of materials")
    p.add_argument("style", help="SKU or styles/<sku>")

    add_command(group, "work-centers", _work_centers, "list work centers")

    p = add_command(group, "queue", _queue, "a work center's queue (queued and in-progress operations)")
    p.add_argument("work_center", help="code or workCenters/<code>")
    p.add_argument("--all", action="store_true", help="every status, not only queued/in progress/paused/review")
    p.add_argument("--limit", type=int, default=100)

    p = add_command(group, "stats", _stats, "WIP and throughput per work center")
    p.add_argument("--work-center", action="append", default=[], help="only these (repeatable)")
    p.add_argument("--window-minutes", type=int, default=0, help="throughput window (default: a shift)")

    add_command(group, "operators", _operators, "list operators")

    p = add_command(
        group, "set-password", _set_password, "set an operator's sign-in password (ends their open sessions)"
    )
    p.add_argument("operator", help="code or operators/<code>")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (first line) instead of a prompt"
    )

    p = add_command(group, "loss", _loss, "metal loss grouped by operation or by operator")
    p.add_argument("--by", choices=("operation", "operator"), default="operation")
    p.add_argument("--since", help="only operations finished after this date or date-time")

    production_floor.add_commands(group)


def style_table(styles: Sequence[pb.Style]) -> str:
    rows = [
        (
            s.sku,
            s.display_name,
            label(pb.StyleCategory, s.category),
            s.routing_version,
            len(s.routing),
            grams(sum(b.weight_mg for b in s.bill_of_materials if b.kind == common_pb2.MATERIAL_KIND_METAL)),
            s.active,
        )
        for s in styles
    ]
    return table(["SKU", "NAME", "CATEGORY", "ROUTING V", "STEPS", "METAL/PC (g)", "ACTIVE"], rows)


def style_details(style: pb.Style) -> str:
    head = details(
        [
            ("name", style.name),
            ("display name", style.display_name),
            ("category", label(pb.StyleCategory, style.category)),
            ("routing version", style.routing_version),
            ("active", style.active),
            ("version", style.version),
            ("updated", when(style.update_time)),
        ]
    )
    routing = production_floor.routing_table(style.routing)
    bom = table(
        ["KIND", "MATERIAL", "WEIGHT/PC", "PIECES/PC"],
        [
            (
                label(common_pb2.MaterialKind, b.kind),
                b.material_code or "(order line's alloy)",
                f"{grams(b.weight_mg)} g ({b.weight_mg} mg)" if b.weight_mg else "",
                b.pieces or "",
            )
            for b in style.bill_of_materials
        ],
        empty="(no bill of materials)",
    )
    return f"{head}\n\nrouting:\n{routing}\n\nbill of materials:\n{bom}"


async def _styles(args: argparse.Namespace, ctx: Context) -> None:
    styles = [s async for s in ctx.clients.production.iter_styles(limit=args.limit or None)]
    ctx.output.emit(styles, lambda: style_table(styles))


async def _style(args: argparse.Namespace, ctx: Context) -> None:
    style = await ctx.clients.production.get_style(resource_name(args.style, "styles"))
    ctx.output.emit(style, lambda: style_details(style))


async def _work_centers(args: argparse.Namespace, ctx: Context) -> None:
    centers = [c async for c in ctx.clients.production.iter_work_centers()]
    rows = [
        (c.code, c.work_center_type, c.display_name, c.capacity, c.active, label(pb.WorkCenterState, c.state))
        for c in centers
    ]
    ctx.output.emit(centers, lambda: table(["CODE", "TYPE", "NAME", "CAPACITY", "ACTIVE", "STATE"], rows))


async def _queue(args: argparse.Namespace, ctx: Context) -> None:
    statuses = (
        []
        if args.all
        else [
            pb.OPERATION_STATUS_QUEUED,
            pb.OPERATION_STATUS_IN_PROGRESS,
            pb.OPERATION_STATUS_PAUSED,
            pb.OPERATION_STATUS_LOSS_REVIEW,
        ]
    )
    operations = [
        op
        async for op in ctx.clients.production.iter_operations(
            work_center=resource_name(args.work_center, "workCenters"), statuses=statuses, limit=args.limit or None
        )
    ]
    ctx.output.emit(operations, lambda: production_floor.operation_table(operations))


async def _stats(args: argparse.Namespace, ctx: Context) -> None:
    names = [resource_name(c, "workCenters") for c in args.work_center]
    response = await ctx.clients.production.list_work_center_stats(
        work_centers=names, window_minutes=args.window_minutes
    )
    stats = list(response.stats)
    rows = [
        (
            s.work_center.removeprefix("workCenters/"),
            s.queued,
            s.in_progress,
            s.in_review,
            s.capacity,
            f"{100 * s.in_progress // s.capacity}%" if s.capacity else "",
            s.done_in_window,
            s.window_minutes,
        )
        for s in stats
    ]
    headers = ["WORK CENTER", "QUEUED", "IN PROGRESS", "IN REVIEW", "CAPACITY", "LOAD", "DONE", "WINDOW (min)"]
    ctx.output.emit(stats, lambda: table(headers, rows))


async def _operators(args: argparse.Namespace, ctx: Context) -> None:
    operators = [o async for o in ctx.clients.production.iter_operators()]
    rows = [(o.code, o.display_name, label(pb.OperatorRole, o.role), o.active) for o in operators]
    ctx.output.emit(operators, lambda: table(["CODE", "NAME", "ROLE", "ACTIVE"], rows))


def _read_password(from_stdin: bool) -> str:
    """The new password: stdin's first line, or typed twice at a prompt (never an argument, never echoed)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != password:
        raise CliUsageError("the two passwords differ")
    return password


async def _set_password(args: argparse.Namespace, ctx: Context) -> None:
    password = _read_password(args.password_stdin)
    if not password:
        raise CliUsageError("no password given")
    operator = await ctx.clients.production.set_operator_password(
        resource_name(args.operator, "operators"), password=password
    )
    ctx.output.emit(operator, lambda: f"password set for {operator.name}; their open sessions ended")


async def _loss(args: argparse.Namespace, ctx: Context) -> None:
    grouping = enum_value(pb.LossGrouping, "operation_code" if args.by == "operation" else "operator", "grouping")
    since = parse_since(args.since) if args.since else None
    summaries = list((await ctx.clients.production.summarize_metal_loss(grouping=grouping, since=since)).summaries)
    rows = [
        (
            s.key,
            s.operations,
            grams(s.weigh_in_mg),
            grams(s.loss_mg),
            s.loss_mg,
            f"{s.loss_ppm // 1000}.{s.loss_ppm % 1000:03d}",
            s.reviews,
        )
        for s in summaries
    ]
    key = "OPERATION" if args.by == "operation" else "OPERATOR"
    headers = [key, "OPERATIONS", "WEIGH-IN (g)", "LOSS (g)", "LOSS (mg)", "LOSS (‰)", "REVIEWS"]
    ctx.output.emit(summaries, lambda: table(headers, rows))
