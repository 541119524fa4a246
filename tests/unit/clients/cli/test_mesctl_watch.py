"""`mesctl watch`: the documents it sends (validated against both schemas), the lines it prints,
graphql-transport-ws handling on a scripted socket, close codes, arguments and exit codes (also through
``python -m graphql_facade.watch``). The protocol against the facade app is in
``test_mesctl_watch_app``."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
from graphql import parse, validate
from websockets.frames import Close

from clients.cli import watch as watch_command
from clients.cli.__main__ import build_parser, main, run
from clients.cli._watch import (
    WatchError,
    WatchOptions,
    connection_params,
    describe_close,
    format_event,
    subscribe_payload,
    websocket_url,
)
from clients.cli._watch import run as run_protocol
from clients.cli.watch import options_from
from graphql_facade import watch as facade_watch
from graphql_facade.schema import build_schemas

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
        (WatchOptions(api_key="k", order_ids=("o-1", "o-2"), since="p1.8dtcLtZH8yBB4YEVm60sMQ"), "partner"),
        (OPERATOR, "operator"),
        (WatchOptions(token="t", order_ids=("o-1",), since="0"), "operator"),
        (WatchOptions(token="t", counters=True), "operator"),
    ],
)
def test_the_documents_are_valid_for_the_audience(options: WatchOptions, audience: str) -> None:
    _, documents = SCHEMAS().for_audience(audience)
    payload = subscribe_payload(options)
    assert validate(documents.graphql, parse(payload["query"])) == []
    if not options.counters:
        operator = audience == "operator"
        since = int(options.since) if operator and options.since is not None else options.since
        assert payload["variables"] == {"orderIds": list(options.order_ids) or None, "since": since}
        assert ("partnerId" in payload["query"]) is operator
        # Partners see sealed positions, never the stream's sequence numbers.
        assert ("seq" in payload["query"]) is operator and ("position" in payload["query"]) is not operator


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
    partner = {**change, "position": "p1.x"}
    del partner["seq"]
    assert format_event({"orderStatusChanged": partner}) == (
        "position=p1.x order=o-1 SUBMITTED -> ACCEPTED materials reserved"
    )
    partner_resync = {"__typename": "ResyncRequired", "position": "p1.y", "reason": "SLOW_CONSUMER"}
    assert format_event({"orderStatusChanged": partner_resync}) == (
        "position=p1.y RESYNC_REQUIRED SLOW_CONSUMER: refetch, then watch again with --since p1.y"
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
    event = {"__typename": "OrderStatusChanged", "position": "p3", "orderId": "o", "fromStatus": "A", "toStatus": "B"}
    socket = ScriptedSocket(
        {"type": "ping"},
        {"type": "connection_ack", "payload": {"audience": "partner"}},
        _next({"orderStatusChanged": {**event, "reason": "r"}}),
        {"type": "pong"},
        _next({"orderStatusChanged": {**event, "position": "p4", "reason": ""}}),
        {"id": "1", "type": "complete"},
    )
    lines: list[str] = []
    await run_protocol(socket, WatchOptions(api_key="k", since="p2"), lines.append)
    assert lines == ["position=p3 order=o A -> B r", "position=p4 order=o A -> B"]
    assert socket.sent[0] == {"type": "connection_init", "payload": {"apiKey": "k"}}
    assert socket.sent[1] == {"type": "pong"}
    assert socket.sent[2]["type"] == "subscribe" and socket.sent[2]["id"] == "1"
    assert socket.sent[2]["payload"]["variables"] == {"orderIds": None, "since": "p2"}


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
        await run_protocol(socket, PARTNER, print)


async def test_run_needs_an_ack_in_time() -> None:
    with pytest.raises(WatchError, match="expected connection_ack"):
        await run_protocol(ScriptedSocket({"type": "next"}), PARTNER, print)
    garbled = ScriptedSocket()
    garbled.incoming = ["not json"]
    with pytest.raises(WatchError, match="unexpected message from the server: 'not json'"):
        await run_protocol(garbled, PARTNER, print)
    with pytest.raises(TimeoutError):
        await run_protocol(ScriptedSocket(), PARTNER, print, ack_timeout_s=0.01)


# -- arguments and exit codes -------------------------------------------------------------------


def watch_args(*argv: str) -> WatchOptions:
    return options_from(build_parser().parse_args(["watch", *argv]))


def test_arguments() -> None:
    options = watch_args("--url", "http://h/graphql", "--api-key", "k", "--order", "a", "--order", "b", "--since", "4")
    assert options == WatchOptions(url="http://h/graphql", api_key="k", order_ids=("a", "b"), since="4")
    assert watch_args("--token", "t", "--since", "12") == WatchOptions(token="t", since="12")
    assert watch_args("--token", "t", "--counters") == WatchOptions(token="t", counters=True)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--api-key", "k", "--token", "t"],
        ["--api-key", "k", "--counters"],
        ["--token", "t", "--counters", "--order", "o"],
        ["--token", "t", "--since", "-1"],
        ["--token", "t", "--since", "p1.abc"],
    ],
)
async def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    err = io.StringIO()
    assert await run(["watch", *argv], stdout=io.StringIO(), stderr=err) == 2
    said = err.getvalue() + capsys.readouterr().err  # argparse's own errors go to sys.stderr
    assert "error:" in said and ("--" in said)


def test_a_refused_watch_exits_1_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def refused(options: WatchOptions, emit: Callable[[str], None]) -> None:
        raise WatchError("authentication failed")

    monkeypatch.setattr(watch_command, "watch", refused)
    assert main(["watch", "--api-key", "k"]) == 1
    assert capsys.readouterr().err == "watch: authentication failed\n"


def test_ctrl_c_stops_the_watch_with_exit_code_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def until_interrupted(options: WatchOptions, emit: Callable[[str], None]) -> None:
        emit("seq=1 order=o - -> SUBMITTED")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
        await asyncio.sleep(30)

    monkeypatch.setattr(watch_command, "watch", until_interrupted)
    assert main(["watch", "--token", "t"]) == 0
    assert capsys.readouterr() == ("seq=1 order=o - -> SUBMITTED\n", "")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_facade_module_runs_the_mesctl_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def two_lines(options: WatchOptions, emit: Callable[[str], None]) -> None:
        assert options == WatchOptions(url="http://h/graphql", token="t")
        emit("seq=1 order=o - -> SUBMITTED")
        emit("seq=2 order=o SUBMITTED -> ACCEPTED")

    monkeypatch.setattr(watch_command, "watch", two_lines)
    assert facade_watch.main(["--url", "http://h/graphql", "--token", "t"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "seq=1 order=o - -> SUBMITTED",
        "seq=2 order=o SUBMITTED -> ACCEPTED",
    ]
