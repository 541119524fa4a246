"""The graphql-transport-ws client of ``mesctl watch``: follow order status changes (or the dashboard
counters) on the facade's ``/graphql`` WebSocket.

It authenticates in ``connection_init`` (``{"apiKey": ...}`` for partners, ``{"token": ...}`` for
operators), subscribes to ``orderStatusChanged`` (some orders only, or replaying what came after a
``seq`` for operators, a ``position`` for partners) or to ``dashboardCounters`` (operators), and
emits one line per event::

    seq=7 partner=P-1 order=01a2183a-... SUBMITTED -> ACCEPTED materials reserved
    seq=9 RESYNC_REQUIRED EVENTS_NOT_RETAINED: refetch, then watch again with --since 9
    seq=12 total=3 late=0 SUBMITTED=1 IN_PRODUCTION=2
    position=p1.8dtcLtZH8yBB4YEVm60sMQ order=01a2183a-... SUBMITTED -> ACCEPTED materials reserved

Partners see positions, not sequences: opaque, sealed to the partner (the stream's sequences would
tell them how busy the other partners are); ``--since`` takes one back.

A refused credential (close code 4401/4403), a refused subscription (``TOO_MANY_SUBSCRIPTIONS``,
``RATE_LIMITED``, ...) or a lost connection raise :class:`WatchError` with a message for the user.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from websockets import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI, Subprotocol
from websockets.asyncio.client import connect
from websockets.frames import Close

__all__ = [
    "AUTH_CLOSE_CODES",
    "DEFAULT_URL",
    "PROTOCOL",
    "Transport",
    "WatchError",
    "WatchOptions",
    "connection_params",
    "describe_close",
    "format_errors",
    "format_event",
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

_STATUS_FIELDS = "orderId fromStatus toStatus reason"
_STATUS_QUERY = """subscription Watch($orderIds: [ID!], $since: %(since)s) {
  orderStatusChanged(orderIds: $orderIds, since: $since) {
    __typename
    ... on OrderStatusChanged { %(mark)s %(fields)s }
    ... on ResyncRequired { %(mark)s reason }
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
    #: Operators: a sequence (digits); partners: a position.
    since: str | None = None
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
    if options.operator:
        since: int | str | None = int(options.since) if options.since is not None else None
        query = _STATUS_QUERY % {"since": "Long", "mark": "seq", "fields": _STATUS_FIELDS + " partnerId"}
    else:
        since = options.since
        query = _STATUS_QUERY % {"since": "String", "mark": "position", "fields": _STATUS_FIELDS}
    variables: dict[str, Any] = {"orderIds": list(options.order_ids) or None, "since": since}
    return {"query": query, "operationName": "Watch", "variables": variables}


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
    name = "position" if "position" in event else "seq"
    mark = event.get(name)
    if event.get("__typename") == "ResyncRequired":
        return f"{name}={mark} RESYNC_REQUIRED {event.get('reason')}: refetch, then watch again with --since {mark}"
    partner = f" partner={event['partnerId']}" if event.get("partnerId") else ""
    line = f"{name}={mark}{partner} order={event.get('orderId')} {_status(event.get('fromStatus'))} -> "
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
