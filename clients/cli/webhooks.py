"""``mesctl webhooks``: partners' webhook endpoints, their deliveries, the delivery log, dead letters.

::

    mesctl webhooks endpoints create acme --url https://hooks.acme.example/mes   # prints the secret once
    mesctl webhooks endpoints list|get|update|enable|disable|rotate-secret|delete ...
    mesctl webhooks deliveries list [ENDPOINT] [--state dead] | log ENDPOINT
    mesctl webhooks dead-letters list [ENDPOINT] | replay ENDPOINT [DELIVERY ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from clients.cli._app import Context, Subcommands, add_command, add_group
from clients.cli._args import enum_choices, enum_value, limit, resource_name
from clients.cli._render import details, label, table, when
from mes.webhooks.v1 import webhooks_pb2 as pb

__all__ = ["delivery_table", "endpoint_details", "endpoint_table", "log_table", "register"]

ENDPOINTS = "webhookEndpoints"


def register(commands: Subcommands) -> None:
    group = add_group(commands, "webhooks", "partners' webhook endpoints, deliveries and dead letters")
    _endpoints(add_group(group, "endpoints", "register and manage webhook endpoints"))
    deliveries = add_group(group, "deliveries", "deliveries and the delivery log")
    p = add_command(deliveries, "list", _list_deliveries, "deliveries, newest first")
    _scope(p)
    p.add_argument("--state", action="append", default=[], help="pending, held, delivered or dead (repeatable)")
    p = add_command(deliveries, "log", _log, "an endpoint's delivery log: attempts and notices, newest first")
    p.add_argument("endpoint", help="endpoint id or webhookEndpoints/<id>")
    p.add_argument("--limit", type=int, default=50, help="at most N entries (0: all)")
    dead = add_group(group, "dead-letters", "deliveries that ran out of retries")
    p = add_command(dead, "list", _list_dead, "dead letters, newest first")
    _scope(p)
    p = add_command(dead, "replay", _replay, "send dead letters again (same webhook-id, a new retry window)")
    p.add_argument("endpoint", help="endpoint id or webhookEndpoints/<id>")
    p.add_argument("deliveries", nargs="*", help="delivery ids (msg_...) or names; none: every dead letter")


def _endpoints(group: Subcommands) -> None:
    events = ", ".join(e.lower() for e in enum_choices(pb.WebhookEventType))
    p = add_command(group, "create", _create, "register an endpoint for a partner; prints its secret once")
    p.add_argument("partner_id", help="the partner the endpoint belongs to")
    p.add_argument("--url", required=True, help="https://... (http and local hosts only on a development stack)")
    p.add_argument("--description", default="")
    p.add_argument("--event", action="append", default=[], help=f"event type (repeatable; default all): {events}")
    p = add_command(group, "list", _list, "endpoints, oldest first")
    p.add_argument("--partner-id", help="only this partner's")
    p.add_argument("--limit", type=int, default=0, help="at most N endpoints (0: all)")
    p = add_command(group, "get", _get, "show an endpoint (never its secret)")
    p.add_argument("endpoint", help="endpoint id or webhookEndpoints/<id>")
    p = add_command(group, "update", _update, "change an endpoint's URL, description or event types")
    p.add_argument("endpoint")
    p.add_argument("--url")
    p.add_argument("--description")
    p.add_argument("--event", action="append", default=[], help=f"event types replacing the current ones: {events}")
    p.add_argument("--version", type=int, default=0, help="fail when the endpoint moved past this version")
    p = add_command(group, "enable", _enable, "enable; the deliveries kept meanwhile are sent, oldest first")
    p.add_argument("endpoint")
    p = add_command(group, "disable", _disable, "disable; its events are kept until it is enabled")
    p.add_argument("endpoint")
    p.add_argument("--reason", default="")
    p = add_command(group, "rotate-secret", _rotate, "a new signing secret, printed once (the old one signs 24 h more)")
    p.add_argument("endpoint")
    p = add_command(group, "delete", _delete, "delete an endpoint with its deliveries and log")
    p.add_argument("endpoint")


def _scope(p: argparse.ArgumentParser) -> None:
    p.add_argument("endpoint", nargs="?", help="endpoint id or webhookEndpoints/<id> (default: every endpoint)")
    p.add_argument("--partner-id", help="only this partner's (without an endpoint)")
    p.add_argument("--limit", type=int, default=50, help="at most N deliveries (0: all)")


def _endpoint(value: str) -> str:
    return resource_name(value, ENDPOINTS)


def _events(values: Sequence[str]) -> list[pb.WebhookEventType.ValueType]:
    return [enum_value(pb.WebhookEventType, v, "event type") for v in values]


# -- rendering --------------------------------------------------------------------------


def endpoint_table(endpoints: Sequence[pb.WebhookEndpoint]) -> str:
    rows = [
        (e.endpoint_id, e.partner.removeprefix("partners/"), e.url, "yes" if e.enabled else "no", when(e.failing_since))
        for e in endpoints
    ]
    return table(["ID", "PARTNER", "URL", "ENABLED", "FAILING SINCE"], rows)


def endpoint_details(endpoint: pb.WebhookEndpoint, *, secret: str = "") -> str:
    pairs: list[tuple[str, object]] = [
        ("name", endpoint.name),
        ("partner", endpoint.partner),
        ("url", endpoint.url),
        ("description", endpoint.description),
        ("events", ", ".join(label(pb.WebhookEventType, t).lower() for t in endpoint.event_types)),
        ("enabled", endpoint.enabled),
    ]
    if not endpoint.enabled:
        pairs += [
            ("disabled by", label(pb.WebhookDisabledBy, endpoint.disabled_by)),
            ("disabled", when(endpoint.disable_time)),
            ("reason", endpoint.disabled_reason),
        ]
    pairs += [
        ("failing since", when(endpoint.failing_since)),
        ("secret issued", when(endpoint.secret_create_time)),
        ("old secret until", when(endpoint.previous_secret_expire_time)),
        ("version", endpoint.version),
        ("created", when(endpoint.create_time)),
    ]
    if secret:
        pairs.append(("secret", f"{secret}   (shown only once: store it now)"))
    return details(pairs)


def delivery_table(deliveries: Sequence[pb.WebhookDelivery]) -> str:
    rows = [
        (
            d.delivery_id,
            d.endpoint.removeprefix(f"{ENDPOINTS}/"),
            d.order_id,
            d.order_version,
            label(pb.WebhookDeliveryState, d.state),
            d.attempts,
            d.last_http_status or "",
            d.last_error,
            when(d.create_time),
        )
        for d in deliveries
    ]
    headers = ["WEBHOOK ID", "ENDPOINT", "ORDER", "VERSION", "STATE", "ATTEMPTS", "HTTP", "LAST ERROR", "CREATED"]
    return table(headers, rows)


def log_table(entries: Sequence[pb.WebhookLogEntry]) -> str:
    rows = [
        (
            when(e.log_time),
            label(pb.WebhookLogEntryKind, e.kind),
            e.delivery_id,
            e.attempt or "",
            e.http_status or "",
            f"{e.latency_ms} ms" if e.kind == pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT else "",
            e.error or e.message,
        )
        for e in entries
    ]
    return table(["TIME", "KIND", "WEBHOOK ID", "ATTEMPT", "HTTP", "LATENCY", "ERROR / MESSAGE"], rows)


# -- handlers ---------------------------------------------------------------------------


async def _create(args: argparse.Namespace, ctx: Context) -> None:
    events = _events(args.event) or [pb.WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED]
    resp = await ctx.clients.webhooks.create_webhook_endpoint(
        parent=resource_name(args.partner_id, "partners"),
        url=args.url,
        description=args.description,
        event_types=events,
    )
    ctx.output.emit(resp, lambda: endpoint_details(resp.endpoint, secret=resp.secret))


async def _list(args: argparse.Namespace, ctx: Context) -> None:
    parent = resource_name(args.partner_id, "partners") if args.partner_id else ""
    found = [e async for e in ctx.clients.webhooks.iter_webhook_endpoints(parent=parent, limit=limit(args.limit))]
    ctx.output.emit(found, lambda: endpoint_table(found))


async def _get(args: argparse.Namespace, ctx: Context) -> None:
    endpoint = await ctx.clients.webhooks.get_webhook_endpoint(_endpoint(args.endpoint))
    ctx.output.emit(endpoint, lambda: endpoint_details(endpoint))


async def _update(args: argparse.Namespace, ctx: Context) -> None:
    endpoint = await ctx.clients.webhooks.update_webhook_endpoint(
        _endpoint(args.endpoint),
        url=args.url,
        description=args.description,
        event_types=_events(args.event) or None,
        version=args.version or None,
    )
    ctx.output.emit(endpoint, lambda: endpoint_details(endpoint))


async def _enable(args: argparse.Namespace, ctx: Context) -> None:
    resp = await ctx.clients.webhooks.enable_webhook_endpoint(_endpoint(args.endpoint))
    ctx.output.note(f"{resp.resumed_deliveries} kept deliveries resume, oldest first")
    ctx.output.emit(resp, lambda: endpoint_details(resp.endpoint))


async def _disable(args: argparse.Namespace, ctx: Context) -> None:
    endpoint = await ctx.clients.webhooks.disable_webhook_endpoint(_endpoint(args.endpoint), reason=args.reason)
    ctx.output.emit(endpoint, lambda: endpoint_details(endpoint))


async def _rotate(args: argparse.Namespace, ctx: Context) -> None:
    resp = await ctx.clients.webhooks.rotate_webhook_endpoint_secret(_endpoint(args.endpoint))
    ctx.output.emit(resp, lambda: endpoint_details(resp.endpoint, secret=resp.secret))


async def _delete(args: argparse.Namespace, ctx: Context) -> None:
    name = _endpoint(args.endpoint)
    await ctx.clients.webhooks.delete_webhook_endpoint(name)
    ctx.output.emit({"deleted": name}, lambda: f"deleted {name}")


def _parent(args: argparse.Namespace) -> str:
    if args.endpoint:
        return _endpoint(args.endpoint)
    return resource_name(args.partner_id, "partners") if args.partner_id else ""


async def _deliveries(args: argparse.Namespace, ctx: Context, states: list[pb.WebhookDeliveryState.ValueType]) -> None:
    found = [
        d
        async for d in ctx.clients.webhooks.iter_webhook_deliveries(
            parent=_parent(args), states=states, limit=limit(args.limit)
        )
    ]
    ctx.output.emit(found, lambda: delivery_table(found))


async def _list_deliveries(args: argparse.Namespace, ctx: Context) -> None:
    states = [enum_value(pb.WebhookDeliveryState, s, "state") for s in args.state]
    await _deliveries(args, ctx, states)


async def _list_dead(args: argparse.Namespace, ctx: Context) -> None:
    await _deliveries(args, ctx, [pb.WEBHOOK_DELIVERY_STATE_DEAD])


async def _log(args: argparse.Namespace, ctx: Context) -> None:
    found = [
        e
        async for e in ctx.clients.webhooks.iter_webhook_log_entries(_endpoint(args.endpoint), limit=limit(args.limit))
    ]
    ctx.output.emit(found, lambda: log_table(found))


async def _replay(args: argparse.Namespace, ctx: Context) -> None:
    parent = _endpoint(args.endpoint)
    names = [d if "/" in d else f"{parent}/deliveries/{d}" for d in args.deliveries]
    resp = await ctx.clients.webhooks.replay_webhook_deliveries(parent, names=names)
    ctx.output.emit(resp, lambda: f"replayed {len(resp.names)} dead letters" + "".join(f"\n  {n}" for n in resp.names))
