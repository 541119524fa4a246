"""``mesctl partners``: create, get, list, set-tier, rotate-key, revoke-key."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from clients.cli._app import Context, Subcommands, add_command, add_group
from clients.cli._args import enum_choices, enum_value, resource_name
from clients.cli._render import details, label, table, when
from mes.orders.v1 import orders_pb2 as pb

__all__ = ["partner_details", "partner_table", "register"]


def register(commands: Subcommands) -> None:
    group = add_group(commands, "partners", "manage partners (tenants) and their API keys")
    tiers = ", ".join(enum_choices(pb.PartnerTier))

    p = add_command(group, "create", _create, "create a partner; prints its first API key once")
    p.add_argument("partner_id", help="lowercase id, 3..40 of [a-z0-9-]")
    p.add_argument("--display-name", required=True)
    p.add_argument("--tier", default="standard", help=tiers)

    p = add_command(group, "get", _get, "show a partner and its keys")
    p.add_argument("partner", help="partner id or partners/<id>")

    p = add_command(group, "list", _list, "list partners")
    p.add_argument("--limit", type=int, default=0, help="at most N partners (0: all)")

    p = add_command(group, "set-tier", _set_tier, "change a partner's limits tier")
    p.add_argument("partner")
    p.add_argument("tier", help=tiers)

    p = add_command(group, "rotate-key", _rotate, "issue a new API key and revoke the others; prints it once")
    p.add_argument("partner")

    p = add_command(group, "revoke-key", _revoke, "revoke one API key")
    p.add_argument("partner")
    p.add_argument("key_id")


def partner_table(partners: Sequence[pb.Partner]) -> str:
    rows = [
        (
            p.partner_id,
            p.display_name,
            label(pb.PartnerTier, p.tier),
            sum(1 for k in p.api_keys if not k.HasField("revoke_time")),
            when(p.create_time),
        )
        for p in partners
    ]
    return table(["ID", "NAME", "TIER", "ACTIVE KEYS", "CREATED"], rows)


def partner_details(partner: pb.Partner, *, api_key: str = "") -> str:
    pairs: list[tuple[str, object]] = [
        ("name", partner.name),
        ("display name", partner.display_name),
        ("tier", label(pb.PartnerTier, partner.tier)),
        ("version", partner.version),
        ("created", when(partner.create_time)),
    ]
    if api_key:
        pairs.append(("api key", f"{api_key}   (shown only once: store it now)"))
    keys = table(
        ["KEY ID", "PREFIX", "CREATED", "REVOKED"],
        [(k.key_id, k.prefix, when(k.create_time), when(k.revoke_time)) for k in partner.api_keys],
        empty="(no keys)",
    )
    return details(pairs) + "\n\n" + keys


async def _create(args: argparse.Namespace, ctx: Context) -> None:
    tier = enum_value(pb.PartnerTier, args.tier, "tier")
    resp = await ctx.clients.orders.create_partner(args.partner_id, display_name=args.display_name, tier=tier)
    ctx.output.emit(resp, lambda: partner_details(resp.partner, api_key=resp.api_key))


async def _get(args: argparse.Namespace, ctx: Context) -> None:
    partner = await ctx.clients.orders.get_partner(resource_name(args.partner, "partners"))
    ctx.output.emit(partner, lambda: partner_details(partner))


async def _list(args: argparse.Namespace, ctx: Context) -> None:
    found = [p async for p in ctx.clients.orders.iter_partners(limit=args.limit or None)]
    ctx.output.emit(found, lambda: partner_table(found))


async def _set_tier(args: argparse.Namespace, ctx: Context) -> None:
    tier = enum_value(pb.PartnerTier, args.tier, "tier")
    partner = await ctx.clients.orders.set_partner_tier(resource_name(args.partner, "partners"), tier)
    ctx.output.emit(partner, lambda: partner_details(partner))


async def _rotate(args: argparse.Namespace, ctx: Context) -> None:
    resp = await ctx.clients.orders.rotate_partner_api_key(resource_name(args.partner, "partners"))
    ctx.output.emit(resp, lambda: partner_details(resp.partner, api_key=resp.api_key))


async def _revoke(args: argparse.Namespace, ctx: Context) -> None:
    partner = await ctx.clients.orders.revoke_partner_api_key(resource_name(args.partner, "partners"), args.key_id)
    ctx.output.emit(partner, lambda: partner_details(partner))
