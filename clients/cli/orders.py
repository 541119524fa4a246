"""``mesctl orders``: submit, get, list, history, cancel, ship, count, catalogue, bulk-submit."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from clients.cli import _bulk
from clients.cli._app import CliUsageError, Context, Subcommands, add_command, add_group
from clients.cli._args import enum_choices, enum_value, limit, order_line, parse_due, resource_name
from clients.cli._render import details, label, table, when
from clients.cli._resource import resource_command
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2 as pb

__all__ = ["order_details", "order_table", "register", "submit_request"]


def register(commands: Subcommands) -> None:
    group = add_group(commands, "orders", "submit and follow orders")

    p = add_command(group, "submit", _submit, "submit one order from a JSON file and/or flags")
    p.add_argument("--file", help="JSON SubmitOrderRequest ('-' for stdin); flags override its fields")
    _add_order_fields(p)
    p.add_argument("--request-id", help="idempotency key (default: generated)")

    p = add_command(group, "get", _get, "show an order")
    p.add_argument("order", help="order id or orders/<id>")

    p = add_command(group, "list", _list, "list orders (follows pages)")
    p.add_argument(
        "--status", action="append", default=[], help=f"repeatable: {', '.join(enum_choices(pb.OrderStatus))}"
    )
    p.add_argument("--late", action="store_true", help="only late orders")
    p.add_argument("--limit", type=int, default=100, help="at most N orders (0: all; default 100)")
    p.add_argument("--parent", help="only this partner's orders (id or partners/<id>)")

    p = add_command(group, "history", _history, "show an order's status history")
    p.add_argument("order")

    p = add_command(group, "cancel", _cancel, "cancel an order that has not shipped")
    p.add_argument("order")
    p.add_argument("--reason", default="")
    p.add_argument("--request-id")

    p = add_command(group, "ship", _ship, "ship an order that is ready to ship")
    p.add_argument("order")
    p.add_argument("--tracking", default="", help="carrier tracking reference")
    p.add_argument("--request-id")

    p = add_command(group, "count", _count, "count orders per status")
    p.add_argument("--parent")

    p = add_command(group, "catalogue", _catalogue, "list the catalogue copy used to validate orders")
    p.add_argument("--kind", choices=("style", "alloy"))

    p = add_command(group, "bulk-submit", _bulk.bulk_submit, "submit one order per CSV row, safely re-runnable")
    p.description = _bulk.DESCRIPTION
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    _bulk.add_arguments(p)


def _add_order_fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parent", help="partner id or partners/<id> (empty when acting as a partner)")
    p.add_argument("--reference", help="the partner's own order reference")
    p.add_argument("--priority", help=", ".join(enum_choices(common_pb2.Priority)))
    p.add_argument("--due", help="YYYY-MM-DD (end of day, UTC) or ISO date-time")
    p.add_argument(
        "--line", action="append", default=[], metavar="STYLE:ALLOY:QTY[:SIZE[:ENGRAVING]]", help="repeatable"
    )


# -- building requests ----------------------------------------------------------------------


def submit_request(args: argparse.Namespace, file_data: dict[str, Any] | None = None) -> pb.SubmitOrderRequest:
    """The request from an optional JSON document, overridden by the flags."""
    req = pb.SubmitOrderRequest()
    if file_data is not None:
        try:
            json_format.ParseDict(_normalize(file_data), req)
        except json_format.ParseError as exc:
            raise CliUsageError(f"bad order file: {exc}") from None
    if args.parent:
        req.parent = resource_name(args.parent, "partners")
    if args.reference is not None:
        req.partner_reference = args.reference
    if args.priority:
        req.priority = enum_value(common_pb2.Priority, args.priority, "priority")
    if args.due:
        req.due_time.FromDatetime(parse_due(args.due))
    if args.line:
        del req.lines[:]
        req.lines.extend(order_line(spec) for spec in args.line)
    if getattr(args, "request_id", None):
        req.request_id = args.request_id
    for number, line in enumerate(req.lines, start=1):
        line.line_number = line.line_number or number
    return req


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    """Friendly spellings in order files: 'reference', 'due' (a date), short priorities, line strings."""
    data = dict(data)
    for alias, key in (("reference", "partner_reference"), ("due", "due_time"), ("dueTime", "due_time")):
        if alias in data:
            data[key] = data.pop(alias)
    if isinstance(data.get("priority"), str):
        data["priority"] = common_pb2.Priority.Name(enum_value(common_pb2.Priority, data["priority"], "priority"))
    if isinstance(data.get("due_time"), str):
        data["due_time"] = parse_due(data["due_time"]).isoformat()
    if isinstance(data.get("parent"), str) and data["parent"]:
        data["parent"] = resource_name(data["parent"], "partners")
    if isinstance(data.get("lines"), list):
        data["lines"] = [json_format.MessageToDict(order_line(x)) if isinstance(x, str) else x for x in data["lines"]]
    return data


def _read_json(path: str) -> dict[str, Any]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliUsageError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CliUsageError(f"{path}: want a JSON object")
    return data


# -- rendering ------------------------------------------------------------------------------


def order_table(orders: Sequence[pb.Order]) -> str:
    rows = [
        (
            o.order_id,
            o.partner.removeprefix("partners/"),
            o.partner_reference,
            label(pb.OrderStatus, o.status),
            label(common_pb2.Priority, o.priority),
            when(o.due_time, present=o.HasField("due_time")),
            "LATE" if o.late else "",
            sum(line.quantity for line in o.lines),
        )
        for o in orders
    ]
    return table(["ID", "PARTNER", "REFERENCE", "STATUS", "PRIORITY", "DUE", "LATE", "PIECES"], rows)


def order_details(order: pb.Order, *, replayed: bool | None = None) -> str:
    pairs: list[tuple[str, object]] = [
        ("name", order.name),
        ("partner", order.partner),
        ("reference", order.partner_reference),
        ("status", label(pb.OrderStatus, order.status)),
        ("status reason", order.status_reason),
        ("priority", label(common_pb2.Priority, order.priority)),
        ("due", when(order.due_time, present=order.HasField("due_time"))),
        ("late", order.late),
        ("version", order.version),
        ("created", when(order.create_time)),
        ("updated", when(order.update_time)),
    ]
    if replayed is not None:
        pairs.append(("replayed", replayed))
    lines = table(
        ["LINE", "STYLE", "ALLOY", "SIZE", "ENGRAVING", "QTY"],
        [(x.line_number, x.style_code, x.alloy_code, x.size, x.engraving, x.quantity) for x in order.lines],
        empty="(no lines)",
    )
    return details(pairs) + "\n\n" + lines


# -- handlers -------------------------------------------------------------------------------


async def _submit(args: argparse.Namespace, ctx: Context) -> None:
    req = submit_request(args, _read_json(args.file) if args.file else None)
    resp = await ctx.clients.orders.submit_order(req)
    ctx.output.emit(resp, lambda: order_details(resp.order, replayed=resp.replayed))


async def _list(args: argparse.Namespace, ctx: Context) -> None:
    most = limit(args.limit)
    statuses = [enum_value(pb.OrderStatus, s, "status") for s in args.status]
    found = [
        order
        async for order in ctx.clients.orders.iter_orders(
            parent=resource_name(args.parent, "partners") if args.parent else "",
            statuses=statuses,
            late_only=args.late,
            page_size=min(most or 100, 100),
            limit=most,
        )
    ]
    ctx.output.emit(found, lambda: order_table(found))


async def _history(args: argparse.Namespace, ctx: Context) -> None:
    name = resource_name(args.order, "orders")
    changes = [c async for c in ctx.clients.orders.iter_order_status_changes(name)]
    rows = [
        (
            when(c.change_time),
            label(pb.OrderStatus, c.from_status),
            label(pb.OrderStatus, c.to_status),
            c.reason,
            c.cause,
        )
        for c in changes
    ]
    ctx.output.emit(changes, lambda: table(["TIME", "FROM", "TO", "REASON", "CAUSE"], rows))


async def _count(args: argparse.Namespace, ctx: Context) -> None:
    parent = resource_name(args.parent, "partners") if args.parent else ""
    resp = await ctx.clients.orders.count_orders(parent=parent)
    rows: list[tuple[object, ...]] = [(label(pb.OrderStatus, c.status), c.count) for c in resp.counts]
    rows.append(("LATE", resp.late_count))
    ctx.output.emit(resp, lambda: table(["STATUS", "COUNT"], rows))


async def _catalogue(args: argparse.Namespace, ctx: Context) -> None:
    kind = {"style": pb.CATALOGUE_ITEM_KIND_STYLE, "alloy": pb.CATALOGUE_ITEM_KIND_ALLOY}.get(
        args.kind or "", pb.CATALOGUE_ITEM_KIND_UNSPECIFIED
    )
    items = [item async for item in ctx.clients.orders.iter_catalogue_items(kind=kind)]
    rows = [(label(pb.CatalogueItemKind, i.kind), i.code, i.display_name, i.active, i.source_version) for i in items]
    ctx.output.emit(items, lambda: table(["KIND", "CODE", "NAME", "ACTIVE", "SOURCE VERSION"], rows))


# -- one call on one order ---------------------------------------------------------------------

_order = partial(resource_command, ("order", "orders"), order_details)
_get = _order(lambda c: c.orders.get_order)
_cancel = _order(lambda c: c.orders.cancel_order, reason="reason", request_id="request_id")
_ship = _order(lambda c: c.orders.ship_order, tracking_reference="tracking", request_id="request_id")
