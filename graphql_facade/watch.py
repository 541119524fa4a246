"""``python -m graphql_facade.watch``: follow order status changes (or the dashboard counters) live.

A small graphql-transport-ws client for the facade's ``/graphql`` WebSocket::

    python -m graphql_facade.watch --url http://127.0.0.1:8180/graphql --api-key mes_...
    python -m graphql_facade.watch --token mes-dev-operator --order ID --since 42
    python -m graphql_facade.watch --token mes-dev-operator --counters

It authenticates in ``connection_init`` (``{"apiKey": ...}`` for partners, ``{"token": ...}`` for
operators), subscribes to ``orderStatusChanged`` (``--order`` follows some orders only, ``--since``
first replays what came after that ``seq``) or to ``dashboardCounters`` (operators), and prints one
line per event::

    seq=7 order=01a2183a-... SUBMITTED -> ACCEPTED materials reserved
    seq=9 RESYNC_REQUIRED EVENTS_NOT_RETAINED: refetch, then watch again with --since 9
    seq=12 total=3 late=0 SUBMITTED=1 IN_PRODUCTION=2

Ctrl-C stops it (exit code 0), and so does the server completing the subscription. A refused
credential (close code 4401/4403), a refused subscription (``TOO_MANY_SUBSCRIPTIONS``,
``RATE_LIMITED``, ...) or a lost connection end it with exit code 1 and a message on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from websockets import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI, Subprotocol
from websockets.asyncio.client import connect
from websockets.frames import Close

__all__ = [
    "AUTH_CLOSE_CODES",
    "PROTOCOL",
    "Transport",
    "WatchError",
    "WatchOptions",
    "connection_params",
    "describe_close",
    "format_errors",
    "format_event",
    "main",
    "run",
    "subscribe_payload",
    "watch",
    "websocket_url",
]

PROTOCOL = "graphql-transport-ws"
#: Close codes of a refused credential: no or a bad ``connection_init`` (Strawberry's codes).
AUTH_CLOSE_CODES = {4401: "unauthorized", 4403: "forbidden"}
DEFAULT_URL = "http://127.0.0.1:8180/graphql"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
OPERATION_ID = "1"

_STATUS_FIELDS = "seq orderId fromStatus toStatus reason"
_STATUS_QUERY = """subscription Watch($orderIds: [ID!], $since: Long) {
  orderStatusChanged(orderIds: $orderIds, since: $since) {
    __typename
    ... on OrderStatusChanged { %s }
    ... on ResyncRequired { seq reason }
  }
}"""
_COUNTERS_QUERY = "subscription Counters { dashboardCounters { seq counts { total late byStatus { status count } } } }"


class WatchError(Exception):
    """Ends the watch with exit code 1; the message is for the user."""


class Transport(Protocol):
    """The part of a WebSocket connection the protocol needs (``websockets``' client has it)."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...


@dataclass(frozen=True)
class WatchOptions:
    url: str = DEFAULT_URL
    api_key: str | None = None
    token: str | None = None
    order_ids: tuple[str, ...] = ()
    since: int | None = None
    counters: bool = False
    timeout_s: float = 10.0

    @property
    def operator(self) -> bool:
        return self.token is not None


def websocket_url(url: str) -> str:
    """``http(s)://`` becomes ``ws(s)://``; ``ws(s)://`` is kept."""
    scheme, sep, rest = url.partition("://")
    mapped = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(scheme.lower())
    if not sep or mapped is None:
        raise WatchError(f"--url must start with http://, https://, ws:// or wss://, not {url!r}")
    return f"{mapped}://{rest}"


def connection_params(options: WatchOptions) -> dict[str, str]:
    if options.token is not None:
        return {"token": options.token}
    if options.api_key is not None:
        return {"apiKey": options.api_key}
    raise WatchError("give --api-key (partners) or --token (operators)")


def subscribe_payload(options: WatchOptions) -> dict[str, Any]:
    """The ``subscribe`` message's payload: the document and its variables."""
    if options.counters:
        return {"query": _COUNTERS_QUERY, "operationName": "Counters"}
    fields = _STATUS_FIELDS + (" partnerId" if options.operator else "")
    variables: dict[str, Any] = {"orderIds": list(options.order_ids) or None, "since": options.since}
    return {"query": _STATUS_QUERY % fields, "operationName": "Watch", "variables": variables}


def _status(value: object) -> str:
    return value if isinstance(value, str) and value else "-"


def format_event(data: Mapping[str, Any]) -> str:
    """One line for the ``data`` of a ``next`` message."""
    counters = data.get("dashboardCounters")
    if isinstance(counters, Mapping):
        counts = counters.get("counts") or {}
        parts = [f"seq={counters.get('seq')}", f"total={counts.get('total')}", f"late={counts.get('late')}"]
        parts += [f"{c['status']}={c['count']}" for c in counts.get("byStatus") or () if c.get("count")]
        return " ".join(parts)
    event = data.get("orderStatusChanged")
    if not isinstance(event, Mapping):
        return json.dumps(data, separators=(",", ":"))
    seq = event.get("seq")
    if event.get("__typename") == "ResyncRequired":
        return f"seq={seq} RESYNC_REQUIRED {event.get('reason')}: refetch, then watch again with --since {seq}"
    partner = f" partner={event['partnerId']}" if event.get("partnerId") else ""
    line = f"seq={seq}{partner} order={event.get('orderId')} {_status(event.get('fromStatus'))} -> "
    line += _status(event.get("toStatus"))
    return f"{line} {event['reason']}" if event.get("reason") else line


def format_errors(errors: object) -> str:
    """``CODE: message`` for each GraphQL error, joined with ``; ``."""
    items = errors if isinstance(errors, list) else [errors]
    texts = []
    for error in items:
        if isinstance(error, Mapping):
            code = (error.get("extensions") or {}).get("code")
            message = error.get("message", "")
            texts.append(f"{code}: {message}" if code else str(message))
        else:
            texts.append(str(error))
    return "; ".join(texts)


def describe_close(close: Close | None) -> str:
    if close is None:
        return "the connection was lost"
    detail = f"{close.code}" + (f" {close.reason}" if close.reason else "")
    if close.code in AUTH_CLOSE_CODES:
        return f"authentication failed (close code {detail}): check --api-key or --token"
    return f"the server closed the connection (close code {detail})"


async def _next_message(transport: Transport) -> dict[str, Any]:
    while True:
        raw = await transport.recv()
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise WatchError(f"unexpected message from the server: {raw!r}")
        if message.get("type") == "ping":
            await transport.send(json.dumps({"type": "pong"}))
            continue
        if message.get("type") == "pong":
            continue
        return message


async def run(
    transport: Transport, options: WatchOptions, emit: Callable[[str], None], *, ack_timeout_s: float = 10.0
) -> None:
    """Speak graphql-transport-ws on an open socket until the subscription completes."""
    await transport.send(json.dumps({"type": "connection_init", "payload": connection_params(options)}))
    async with asyncio.timeout(ack_timeout_s):
        ack = await _next_message(transport)
    if ack.get("type") != "connection_ack":
        raise WatchError(f"expected connection_ack, got {ack.get('type')!r}")
    payload = subscribe_payload(options)
    await transport.send(json.dumps({"id": OPERATION_ID, "type": "subscribe", "payload": payload}))
    while True:
        message = await _next_message(transport)
        kind = message.get("type")
        if kind == "next":
            body = message.get("payload") or {}
            if body.get("errors") and not body.get("data"):
                raise WatchError(f"subscription failed: {format_errors(body['errors'])}")
            if body.get("errors"):
                print(f"watch: {format_errors(body['errors'])}", file=sys.stderr, flush=True)
            emit(format_event(body.get("data") or {}))
        elif kind == "error":
            raise WatchError(f"subscription refused: {format_errors(message.get('payload'))}")
        elif kind == "complete":
            return


async def watch(options: WatchOptions, emit: Callable[[str], None]) -> None:
    """Connect, authenticate, subscribe and emit lines; raises :class:`WatchError` on failure."""
    url = websocket_url(options.url)
    # The system's proxy settings apply, except to loopback (a local stack is never behind one).
    proxy: Literal[True] | None = None if urlsplit(url).hostname in _LOOPBACK else True
    try:
        async with connect(
            url, subprotocols=[Subprotocol(PROTOCOL)], open_timeout=options.timeout_s, compression=None, proxy=proxy
        ) as socket:
            if socket.subprotocol != PROTOCOL:
                raise WatchError(f"the server does not speak {PROTOCOL} on {url}")
            await run(socket, options, emit, ack_timeout_s=options.timeout_s)
    except ConnectionClosed as closed:
        raise WatchError(describe_close(closed.rcvd)) from None
    except InvalidStatus as err:
        raise WatchError(f"the server refused the WebSocket on {url}: HTTP {err.response.status_code}") from None
    except TimeoutError:
        raise WatchError(f"no answer from {url} within {options.timeout_s:g} s") from None
    except (OSError, InvalidHandshake, InvalidURI) as err:
        raise WatchError(f"cannot connect to {url}: {err}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m graphql_facade.watch",
        description="Follow order status changes (or the dashboard counters) over the facade's WebSocket.",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the GraphQL endpoint (default {DEFAULT_URL})")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--api-key", help="a partner's API key: its own orders only")
    who.add_argument("--token", help="an operator token (e.g. mes-dev-operator): every order")
    parser.add_argument("--order", action="append", default=[], metavar="ID", help="follow this order (repeatable)")
    parser.add_argument("--since", type=int, metavar="SEQ", help="first replay the events after this seq")
    parser.add_argument("--counters", action="store_true", help="order counts per status instead (operators)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to connect and authenticate (10)")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> WatchOptions:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.counters and args.api_key is not None:
        parser.error("--counters needs an operator --token")
    if args.counters and (args.order or args.since is not None):
        parser.error("--order and --since apply to status changes, not to --counters")
    if args.since is not None and args.since < 0:
        parser.error("--since must not be negative")
    return WatchOptions(
        url=args.url,
        api_key=args.api_key,
        token=args.token,
        order_ids=tuple(args.order),
        since=args.since,
        counters=args.counters,
        timeout_s=args.timeout,
    )


def _print(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        asyncio.run(watch(options, _print))
    except KeyboardInterrupt:
        return 0
    except WatchError as err:
        print(f"watch: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
