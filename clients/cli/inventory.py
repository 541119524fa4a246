"""``mesctl inventory``: alloys, lots, receiving, balances, shortages, reservations, custody ledger."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from clients.cli._app import CliUsageError, Context, Subcommands, add_command, add_group
from clients.cli._args import enum_choices, enum_value, grams_to_mg, limit, resource_id, resource_name
from clients.cli._render import details, grams, label, table, weight, when
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb

__all__ = ["alloy_details", "balance_table", "lot_details", "lot_table", "register"]


def register(commands: Subcommands) -> None:
    group = add_group(commands, "inventory", "alloys, material lots, stock and the custody ledger")

    add_command(group, "alloys", _alloys, "list alloys")

    p = add_command(group, "alloy-upsert", _alloy_upsert, "create or update an alloy")
    p.add_argument("code", help="e.g. AU750Y")
    p.add_argument("--metal", required=True, help=", ".join(enum_choices(pb.Metal)))
    p.add_argument("--fineness", type=int, required=True, help="parts per thousand, e.g. 750")
    p.add_argument("--colour", default="", help="yellow, white, rose, natural")
    p.add_argument("--density", type=int, default=0, metavar="MG_PER_CM3", help="density in mg/cm3")
    p.add_argument("--display-name", default="")
    p.add_argument("--inactive", action="store_true")

    p = add_command(group, "lots", _lots, "list material lots")
    p.add_argument("--material", default="", help="only lots of this alloy/stone code")
    p.add_argument("--limit", type=int, default=100, help="at most N lots (0: all; default 100)")

    p = add_command(group, "receive", _receive, "receive a lot of metal or stones into stores")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--alloy", help="metal lot of this alloy code")
    what.add_argument("--stone", help="stone lot of this stone code")
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("--weight-mg", type=int, help="gross metal in milligrams")
    amount.add_argument("--grams", help="gross metal in grams (up to 3 decimals)")
    p.add_argument("--pieces", type=int, default=0, help="stones: pieces")
    p.add_argument("--points", type=int, default=0, help="stones: total weight in points (0.01 ct)")
    p.add_argument("--supplier-ref", default="")
    p.add_argument("--request-id", help="idempotency key (default: generated)")

    p = add_command(group, "balances", _balances, "stock per material")
    p.add_argument("--kind", choices=("metal", "stone"))
    p.add_argument("--material", action="append", default=[], help="only these codes (repeatable)")

    p = add_command(group, "shortages", _shortages, "orders waiting for material")
    p.add_argument("--limit", type=int, default=0)

    p = add_command(group, "reservations", _reservations, "list reservations")
    p.add_argument("--order", action="append", default=[], help="order id (repeatable)")
    p.add_argument("--state", action="append", default=[], help=", ".join(enum_choices(pb.ReservationState)))
    p.add_argument("--limit", type=int, default=100, help="at most N (0: all; default 100)")

    p = add_command(group, "custody", _custody, "custody ledger entries, newest first")
    p.add_argument("--holder", default="", help='"stores", "workOrders/<id>", ...')
    p.add_argument("--material", default="")
    p.add_argument("--reference", default="")
    p.add_argument("--limit", type=int, default=50, help="at most N (0: all; default 50)")


_KINDS = {"metal": common_pb2.MATERIAL_KIND_METAL, "stone": common_pb2.MATERIAL_KIND_STONE}


def lot_table(lots: Sequence[pb.MaterialLot]) -> str:
    rows = [
        (
            lot.lot_id,
            label(common_pb2.MaterialKind, lot.kind),
            lot.material_code,
            grams(lot.on_hand_mg) if lot.kind == common_pb2.MATERIAL_KIND_METAL else "",
            grams(lot.reserved_mg) if lot.kind == common_pb2.MATERIAL_KIND_METAL else "",
            lot.on_hand_pieces if lot.kind == common_pb2.MATERIAL_KIND_STONE else "",
            lot.supplier_reference,
            when(lot.receive_time),
        )
        for lot in lots
    ]
    headers = ["LOT", "KIND", "MATERIAL", "ON HAND (g)", "RESERVED (g)", "PIECES", "SUPPLIER REF", "RECEIVED"]
    return table(headers, rows)


def lot_details(lot: pb.MaterialLot) -> str:
    pairs: list[tuple[str, object]] = [
        ("name", lot.name),
        ("kind", label(common_pb2.MaterialKind, lot.kind)),
        ("material", lot.material_code),
    ]
    if lot.kind == common_pb2.MATERIAL_KIND_STONE:
        pairs += [
            ("received pieces", lot.received_pieces),
            ("on hand pieces", lot.on_hand_pieces),
            ("reserved pieces", lot.reserved_pieces),
            ("weight", f"{lot.weight_points} pt"),
        ]
    else:
        pairs += [
            ("received", weight(lot.received_mg)),
            ("on hand", weight(lot.on_hand_mg)),
            ("reserved", weight(lot.reserved_mg)),
        ]
    pairs += [
        ("supplier ref", lot.supplier_reference),
        ("received at", when(lot.receive_time)),
        ("version", lot.version),
    ]
    return details(pairs)


def balance_table(balances: Sequence[pb.Balance]) -> str:
    rows = [
        (
            b.material_code,
            label(common_pb2.MaterialKind, b.kind),
            grams(b.on_hand_mg),
            grams(b.reserved_mg),
            grams(b.available_mg),
            grams(b.fine_available_mg),
            b.on_hand_pieces,
            b.available_pieces,
        )
        for b in balances
    ]
    headers = ["MATERIAL", "KIND", "ON HAND (g)", "RESERVED (g)", "AVAILABLE (g)", "FINE AVAIL (g)", "PCS", "AVAIL PCS"]
    return table(headers, rows)


async def _alloys(args: argparse.Namespace, ctx: Context) -> None:
    alloys = [a async for a in ctx.clients.inventory.iter_alloys()]
    rows = [
        (a.code, label(pb.Metal, a.metal), a.fineness, a.colour, a.density_mg_per_cm3, a.display_name, a.active)
        for a in alloys
    ]
    ctx.output.emit(
        alloys, lambda: table(["CODE", "METAL", "FINENESS", "COLOUR", "DENSITY mg/cm3", "NAME", "ACTIVE"], rows)
    )


async def _alloy_upsert(args: argparse.Namespace, ctx: Context) -> None:
    alloy = pb.Alloy(
        name=f"alloys/{args.code}",
        code=args.code,
        metal=enum_value(pb.Metal, args.metal, "metal"),
        fineness=args.fineness,
        colour=args.colour,
        density_mg_per_cm3=args.density,
        display_name=args.display_name,
        active=not args.inactive,
    )
    saved = await ctx.clients.inventory.upsert_alloy(alloy)
    ctx.output.emit(saved, lambda: alloy_details(saved))


def alloy_details(alloy: pb.Alloy) -> str:
    return details(
        [
            ("name", alloy.name),
            ("metal", label(pb.Metal, alloy.metal)),
            ("fineness", alloy.fineness),
            ("colour", alloy.colour),
            ("density", f"{alloy.density_mg_per_cm3} mg/cm3"),
            ("display name", alloy.display_name),
            ("active", alloy.active),
            ("version", alloy.version),
        ]
    )


async def _lots(args: argparse.Namespace, ctx: Context) -> None:
    found = ctx.clients.inventory.iter_lots(material_code=args.material, limit=limit(args.limit))
    lots = [x async for x in found]
    ctx.output.emit(lots, lambda: lot_table(lots))


def receive_request(args: argparse.Namespace) -> pb.ReceiveLotRequest:
    """The ReceiveLot request of ``inventory receive`` (weights converted to integer mg exactly)."""
    request = pb.ReceiveLotRequest(supplier_reference=args.supplier_ref, request_id=args.request_id or "")
    if args.alloy:
        weight_mg = args.weight_mg if args.weight_mg is not None else (grams_to_mg(args.grams) if args.grams else 0)
        if weight_mg <= 0:
            raise CliUsageError("a metal lot needs --weight-mg or --grams greater than zero")
        if args.pieces or args.points:
            raise CliUsageError("--pieces/--points are for stone lots")
        request.kind, request.material_code, request.weight_mg = common_pb2.MATERIAL_KIND_METAL, args.alloy, weight_mg
        return request
    if args.weight_mg is not None or args.grams:
        raise CliUsageError("stone lots are weighed in --points, not grams")
    if args.pieces <= 0:
        raise CliUsageError("a stone lot needs --pieces greater than zero")
    request.kind, request.material_code = common_pb2.MATERIAL_KIND_STONE, args.stone
    request.pieces, request.weight_points = args.pieces, args.points
    return request


async def _receive(args: argparse.Namespace, ctx: Context) -> None:
    lot = await ctx.clients.inventory.receive_lot(receive_request(args))
    ctx.output.emit(lot, lambda: lot_details(lot))


async def _balances(args: argparse.Namespace, ctx: Context) -> None:
    if args.material:
        names = [resource_name(code, "balances") for code in args.material]
        balances = list((await ctx.clients.inventory.batch_get_balances(names)).balances)
    else:
        kind = _KINDS.get(args.kind or "", common_pb2.MATERIAL_KIND_UNSPECIFIED)
        balances = [b async for b in ctx.clients.inventory.iter_balances(kind=kind)]
    ctx.output.emit(balances, lambda: balance_table(balances))


async def _shortages(args: argparse.Namespace, ctx: Context) -> None:
    found = [s async for s in ctx.clients.inventory.iter_shortages(limit=limit(args.limit))]
    rows = [
        (
            s.order_id,
            s.material_code,
            label(common_pb2.Priority, s.priority),
            grams(s.required_mg) if s.kind != common_pb2.MATERIAL_KIND_STONE else f"{s.required_pieces} pcs",
            grams(s.available_mg) if s.kind != common_pb2.MATERIAL_KIND_STONE else f"{s.available_pieces} pcs",
            when(s.since_time),
        )
        for s in found
    ]
    ctx.output.emit(
        found, lambda: table(["ORDER", "MATERIAL", "PRIORITY", "REQUIRED (g)", "AVAILABLE (g)", "SINCE"], rows)
    )


async def _reservations(args: argparse.Namespace, ctx: Context) -> None:
    states = [enum_value(pb.ReservationState, s, "state") for s in args.state]
    orders = [resource_id(o, "orders") for o in args.order]
    found = [
        r
        async for r in ctx.clients.inventory.iter_reservations(order_ids=orders, states=states, limit=limit(args.limit))
    ]
    rows = [
        (
            r.reservation_id,
            r.order_id,
            label(pb.ReservationState, r.state),
            grams(sum(i.weight_mg for i in r.items)),
            sum(i.pieces for i in r.items),
            len(r.items),
            when(r.update_time),
        )
        for r in found
    ]
    ctx.output.emit(
        found, lambda: table(["RESERVATION", "ORDER", "STATE", "METAL (g)", "PCS", "ITEMS", "UPDATED"], rows)
    )


async def _custody(args: argparse.Namespace, ctx: Context) -> None:
    entries = [
        e
        async for e in ctx.clients.inventory.iter_custody_entries(
            holder=args.holder, material_code=args.material, reference=args.reference, limit=limit(args.limit)
        )
    ]
    rows = [
        (
            when(e.create_time),
            label(pb.CustodyKind, e.kind),
            e.holder,
            e.material_code,
            grams(e.weight_mg),
            e.pieces or "",
            e.reference,
            e.operator_code,
        )
        for e in entries
    ]
    headers = ["TIME", "KIND", "HOLDER", "MATERIAL", "WEIGHT (g)", "PCS", "REFERENCE", "OPERATOR"]
    ctx.output.emit(entries, lambda: table(headers, rows))
