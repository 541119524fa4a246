"""`python -m graphql_facade.watch`: the documents it sends (validated against both schemas), the
lines it prints, graphql-transport-ws handling on a scripted socket and on the app (through ASGI),
close codes, arguments and exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import parse, validate
from websockets.frames import Close

from graphql_facade import watch as watch_module
from graphql_facade.events import EventEnvelope
from graphql_facade.schema import build_schemas
from graphql_facade.watch import (
    WatchError,
    WatchOptions,
    connection_params,
    describe_close,
    format_event,
    main,
    parse_args,
    run,
    subscribe_payload,
    websocket_url,
)
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED
from tests.unit.graphql_facade.conftest import OPERATOR_TOKEN, PARTNER_A_KEY, FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket, websocket

PARTNER = WatchOptions(api_key="key")
SCHEMAS = functools.cache(build_schemas)
OPERATOR = WatchOptions(token="tok")


# -- pure parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8180/graphql", "ws://127.0.0.1:8180/graphql"),
        ("HTTPS://mes.example/graphql", "wss://mes.example/graphql"),
        ("ws://h/graphql", "ws://h/graphql"),
        ("wss://h/graphql", "wss://h/graphql"),
    ],
)
def test_websocket_url(url: str, expected: str) -> None:
    assert websocket_url(url) == expected


@pytest.mark.parametrize("url", ["127.0.0.1:8180/graphql", "ftp://h/graphql"])
def test_websocket_url_rejects_other_schemes(url: str) -> None:
    with pytest.raises(WatchError, match="--url must start with"):
        websocket_url(url)


def test_connection_params() -> None:
    assert connection_params(PARTNER) == {"apiKey": "key"}
    assert connection_params(OPERATOR) == {"token": "tok"}
    with pytest.raises(WatchError):
        connection_params(WatchOptions())


@pytest.mark.parametrize(
    ("options", "audience"),
    [
        (PARTNER, "partner"),
        (WatchOptions(api_key="k", order_ids=("o-1", "o-2"), since=7), "partner"),
        (OPERATOR, "operator"),
        (WatchOptions(token="t", order_ids=("o-1",), since=0), "operator"),
        (WatchOptions(token="t", counters=True), "operator"),
    ],
)
def test_the_documents_are_valid_for_the_audience(options: WatchOptions, audience: str) -> None:
    schema, _ = SCHEMAS().for_audience(audience)
    payload = subscribe_payload(options)
    assert validate(schema._schema, parse(payload["query"])) == []
    if not options.counters:
        assert payload["variables"] == {"orderIds": list(options.order_ids) or None, "since": options.since}
        assert ("partnerId" in payload["query"]) is (audience == "operator")


def test_format_status_changes_resyncs_and_counters() -> None:
    change = {
        "__typename": "OrderStatusChanged",
        "seq": 8,
        "orderId": "o-1",
        "fromStatus": "SUBMITTED",
        "toStatus": "ACCEPTED",
        "reason": "materials reserved",
    }
    assert format_event({"orderStatusChanged": change}) == "seq=8 order=o-1 SUBMITTED -> ACCEPTED materials reserved"
    bare = {**change, "fromStatus": None, "reason": "", "partnerId": "aurora"}
    assert format_event({"orderStatusChanged": bare}) == "seq=8 partner=aurora order=o-1 - -> ACCEPTED"
    resync = {"__typename": "ResyncRequired", "seq": 40, "reason": "EVENTS_NOT_RETAINED"}
    assert format_event({"orderStatusChanged": resync}) == (
        "seq=40 RESYNC_REQUIRED EVENTS_NOT_RETAINED: refetch, then watch again with --since 40"
    )
    counts = {
        "total": 3,
        "late": 1,
        "byStatus": [{"status": "SUBMITTED", "count": 0}, {"status": "ON_HOLD", "count": 3}],
    }
    assert format_event({"dashboardCounters": {"seq": 9, "counts": counts}}) == "seq=9 total=3 late=1 ON_HOLD=3"
    assert format_event({"other": 1}) == '{"other":1}'


@pytest.mark.parametrize(
    ("close", "expected"),
    [
        (Close(4403, "Forbidden"), "authentication failed (close code 4403 Forbidden): check --api-key or --token"),
        (Close(4401, "Unauthorized"), "authentication failed (close code 4401 Unauthorized)"),
        (Close(1001, ""), "the server closed the connection (close code 1001)"),
        (None, "the connection was lost"),
    ],
)
def test_describe_close(close: Close | None, expected: str) -> None:
    assert describe_close(close).startswith(expected)


# -- the protocol on a scripted socket ----------------------------------------------------------


class ScriptedSocket:
    def __init__(self, *incoming: dict[str, Any]) -> None:
        self.incoming = [json.dumps(m) for m in incoming]
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def recv(self) -> str:
        if not self.incoming:
            await asyncio.sleep(3600)
        return self.incoming.pop(0)


def _next(data: dict[str, Any] | None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"data": data}
    if errors is not None:
        payload["errors"] = errors
    return {"id": "1", "type": "next", "payload": payload}


async def test_run_authenticates_subscribes_answers_pings_and_prints_until_complete() -> None:
    event = {"__typename": "OrderStatusChanged", "seq": 3, "orderId": "o", "fromStatus": "A", "toStatus": "B"}
    socket = ScriptedSocket(
        {"type": "ping"},
        {"type": "connection_ack", "payload": {"audience": "partner"}},
        _next({"orderStatusChanged": {**event, "reason": "r"}}),
        {"type": "pong"},
        _next({"orderStatusChanged": {**event, "seq": 4, "reason": ""}}),
        {"id": "1", "type": "complete"},
    )
    lines: list[str] = []
    await run(socket, WatchOptions(api_key="k", since=2), lines.append)
    assert lines == ["seq=3 order=o A -> B r", "seq=4 order=o A -> B"]
    assert socket.sent[0] == {"type": "connection_init", "payload": {"apiKey": "k"}}
    assert socket.sent[1] == {"type": "pong"}
    assert socket.sent[2]["type"] == "subscribe" and socket.sent[2]["id"] == "1"
    assert socket.sent[2]["payload"]["variables"] == {"orderIds": None, "since": 2}


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            {"id": "1", "type": "error", "payload": [{"message": "Slow down", "extensions": {"code": "RATE_LIMITED"}}]},
            "subscription refused: RATE_LIMITED: Slow down",
        ),
        (
            _next(None, [{"message": "At most 10", "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS"}}]),
            "subscription failed: TOO_MANY_SUBSCRIPTIONS: At most 10",
        ),
    ],
)
async def test_run_fails_on_a_refused_subscription(reply: dict[str, Any], message: str) -> None:
    socket = ScriptedSocket({"type": "connection_ack"}, reply)
    with pytest.raises(WatchError, match=message):
        await run(socket, PARTNER, print)


async def test_run_needs_an_ack_in_time() -> None:
    with pytest.raises(WatchError, match="expected connection_ack"):
        await run(ScriptedSocket({"type": "next"}), PARTNER, print)
    garbled = ScriptedSocket()
    garbled.incoming = ["not json"]
    with pytest.raises(WatchError, match="unexpected message from the server: 'not json'"):
        await run(garbled, PARTNER, print)
    with pytest.raises(TimeoutError):
        await run(ScriptedSocket(), PARTNER, print, ack_timeout_s=0.01)


# -- the protocol against the app (ASGI, fake backend) ------------------------------------------


class AsgiTransport:
    def __init__(self, ws: AsgiWebSocket) -> None:
        self._ws = ws

    async def send(self, message: str) -> None:
        await self._ws.send(json.loads(message))

    async def recv(self) -> str:
        return json.dumps(await self._ws.receive(timeout=5))


def _status_changed(seq: int, order_id: str, partner: str) -> EventEnvelope:
    msg = orders_events_pb2.OrderStatusChangedEvent(
        order_id=order_id,
        partner_id=partner,
        from_status=orders_pb2.ORDER_STATUS_SUBMITTED,
        to_status=orders_pb2.ORDER_STATUS_ACCEPTED,
        reason="materials reserved",
    )
    return EventEnvelope("ORDERS", seq, ORDER_STATUS_CHANGED.subject, msg.SerializeToString(), datetime.now(UTC))


@contextlib.asynccontextmanager
async def _watching(client: FacadeClient, options: WatchOptions, lines: list[str]) -> AsyncIterator[None]:
    async with websocket(client.app) as ws:
        task = asyncio.create_task(run(AsgiTransport(ws), options, lines.append))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not reached within {timeout_s} s")


async def test_a_partner_watches_its_own_orders_on_the_app(client: FacadeClient) -> None:
    hub = client.facade.hub
    hub.start_at({"ORDERS": 10})
    lines: list[str] = []
    async with _watching(client, WatchOptions(api_key=PARTNER_A_KEY, since=10), lines):
        await asyncio.sleep(0.05)
        hub.publish(_status_changed(11, "o-b", "partner-b"))
        hub.publish(_status_changed(12, "o-a", "partner-a"))
        await _until(lambda: bool(lines))
    assert lines == ["seq=12 order=o-a SUBMITTED -> ACCEPTED materials reserved"]


async def test_an_operator_is_told_to_resync_and_sees_every_partner(client: FacadeClient) -> None:
    hub = client.facade.hub
    hub.start_at({"ORDERS": 100})  # events up to 100 were never seen by this replica
    lines: list[str] = []
    async with _watching(client, WatchOptions(token=OPERATOR_TOKEN, since=50), lines):
        await _until(lambda: bool(lines))
        hub.publish(_status_changed(101, "o-b", "partner-b"))
        await _until(lambda: len(lines) == 2)
    assert lines == [
        "seq=100 RESYNC_REQUIRED EVENTS_NOT_RETAINED: refetch, then watch again with --since 100",
        "seq=101 partner=partner-b order=o-b SUBMITTED -> ACCEPTED materials reserved",
    ]


async def test_an_operator_watches_the_counters_on_the_app(client: FacadeClient, backend: FakeBackend) -> None:
    client.facade.hub.start_at({"ORDERS": 5})
    backend.add_order("partner-a", status=orders_pb2.ORDER_STATUS_SUBMITTED)
    lines: list[str] = []
    async with _watching(client, WatchOptions(token=OPERATOR_TOKEN, counters=True), lines):
        await _until(lambda: bool(lines))
    assert lines == ["seq=5 total=1 late=0 SUBMITTED=1"]


# -- arguments and exit codes -------------------------------------------------------------------


def test_parse_args() -> None:
    options = parse_args(
        ["--url", "http://h/graphql", "--api-key", "k", "--order", "a", "--order", "b", "--since", "4"]
    )
    assert options == WatchOptions(url="http://h/graphql", api_key="k", order_ids=("a", "b"), since=4)
    assert parse_args(["--token", "t", "--counters"]) == WatchOptions(token="t", counters=True)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--api-key", "k", "--token", "t"],
        ["--api-key", "k", "--counters"],
        ["--token", "t", "--counters", "--order", "o"],
        ["--token", "t", "--since", "-1"],
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2


@pytest.mark.parametrize(("raised", "code"), [(WatchError("authentication failed"), 1), (KeyboardInterrupt(), 0)])
def test_main_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], raised: BaseException, code: int
) -> None:
    async def failing(options: WatchOptions, emit: Callable[[str], None]) -> None:
        raise raised

    monkeypatch.setattr(watch_module, "watch", failing)
    assert main(["--api-key", "k"]) == code
    err = capsys.readouterr().err
    assert err == ("watch: authentication failed\n" if code else "")


def test_main_prints_one_line_per_event(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async def two_lines(options: WatchOptions, emit: Callable[[str], None]) -> None:
        emit("seq=1 order=o - -> SUBMITTED")
        emit("seq=2 order=o SUBMITTED -> ACCEPTED")

    monkeypatch.setattr(watch_module, "watch", two_lines)
    assert main(["--token", "t"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "seq=1 order=o - -> SUBMITTED",
        "seq=2 order=o SUBMITTED -> ACCEPTED",
    ]
