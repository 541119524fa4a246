"""Every WebSocket message is bounded: a message larger than ``MES_FACADE_WS_MAX_MESSAGE_BYTES`` or nested
deeper than 128 levels closes the socket with 4400 and a short reason (no traceback, no dropped
connection), and a subscription's variables have the size and depth limits of the caller's tier.

The facade is served by a real uvicorn on a loopback port (as in
``tests/integration/graphql_facade/test_facade_server.py``), so a failure looks as it would in
production: "Exception in ASGI application" and a connection dropped without a close frame."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.frames import Close
from websockets.typing import Subprotocol

from graphql_facade.app import create_app
from graphql_facade.config import FacadeSettings
from graphql_facade.pipeline.request import MAX_JSON_DEPTH
from tests._infra.asgi_server import uvicorn_serving
from tests.unit.graphql_facade.conftest import OPERATOR_TOKEN, PARTNER_A_KEY, facade_settings
from tests.unit.graphql_facade.facade_fakes import FakeBackend

# Valid for partners and operators alike.
STATUS = """subscription { orderStatusChanged {
  __typename ... on OrderStatusChanged { orderId } ... on ResyncRequired { reason } } }"""


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@asynccontextmanager
async def connected(backend: FakeBackend, settings: FacadeSettings | None = None) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws connection to the facade on uvicorn; no error may be logged meanwhile."""
    app = create_app(settings or facade_settings(), backend=backend, events=False)
    errors = _Records()
    logging.getLogger("uvicorn.error").addHandler(errors)
    try:
        async with (
            uvicorn_serving(app, ws="websockets-sansio", log_config=None) as address,
            websockets.connect(
                f"ws://{address}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None
            ) as ws,
        ):
            yield ws
    finally:
        logging.getLogger("uvicorn.error").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return message


async def init(ws: ClientConnection, payload: dict[str, Any]) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert (await receive(ws))["type"] == "connection_ack"


async def closed_with(ws: ClientConnection) -> Close:
    """The close frame the server sent next (fails on any other message, or on a drop without one)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        message = await receive(ws)
        raise AssertionError(f"the socket stayed open: {message}")
    frame = closed.value.rcvd
    assert frame is not None, "the connection dropped without a close frame"
    return frame


async def still_open(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert await receive(ws) == {"type": "pong"}


async def send(ws: ClientConnection, message: object) -> None:
    await ws.send(json.dumps(message))


NESTED = {
    "brackets": "[" * 100_000,
    "braces": '{"a":' * 100_000,
    "just-past-the-bound": "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
    "deep-variables": json.dumps(
        {"id": "1", "type": "subscribe", "payload": {"query": STATUS, "variables": {"a": [[[]]]}}}
    ).replace("[[[]]]", "[" * 150 + "]" * 150),
}


@pytest.mark.parametrize("text", NESTED.values(), ids=NESTED.keys())
@pytest.mark.parametrize("initialised", [False, True], ids=["before-init", "after-init"])
async def test_a_deeply_nested_message_closes_with_4400(backend: FakeBackend, text: str, initialised: bool) -> None:
    async with connected(backend) as ws:
        if initialised:
            await init(ws, {"apiKey": PARTNER_A_KEY})
        await ws.send(text)
        closed = await closed_with(ws)
    assert closed.code == 4400
    assert closed.reason == f"The message nests more than {MAX_JSON_DEPTH} levels deep."


async def test_nesting_up_to_the_bound_is_decoded(backend: FakeBackend) -> None:
    depth = MAX_JSON_DEPTH - 4  # the message, its payload and the variables object are 3 of the levels
    message = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": STATUS, "variables": {"a": 1}}})
    async with connected(backend) as ws:
        await init(ws, {"token": OPERATOR_TOKEN})
        await ws.send(message.replace('"a": 1', '"a": ' + "[" * depth + "]" * depth))
        refused = await receive(ws)  # decoded: the variables' own depth limit answers it
        await still_open(ws)
    assert refused["type"] == "error" and refused["id"] == "1"
    assert refused["payload"][0]["extensions"]["code"] == "VARIABLES_TOO_DEEP"


async def test_a_message_above_the_size_limit_closes_with_4400(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_WS_MAX_MESSAGE_BYTES="2000")
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": STATUS + " " * 1500}}
    async with connected(backend, settings) as ws:
        await init(ws, {"apiKey": PARTNER_A_KEY})
        await send(ws, subscribe)  # within the limit
        await still_open(ws)
        await send(ws, {**subscribe, "id": "2", "payload": {"query": STATUS + " " * 2000}})
        closed = await closed_with(ws)
    assert closed.code == 4400
    assert closed.reason == "The message is larger than 2000 bytes."


async def test_the_size_limit_counts_bytes_and_applies_before_init(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_WS_MAX_MESSAGE_BYTES="1000")
    async with connected(backend, settings) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": "é" * 600}}, ensure_ascii=False))
        closed = await closed_with(ws)  # 600 characters, 1200 bytes
    assert closed.code == 4400 and closed.reason == "The message is larger than 1000 bytes."


@pytest.mark.parametrize("text", ["[]", "1", '"connection_init"', "null", "{nope"])
async def test_a_message_that_is_not_a_json_object_closes_with_4400(backend: FakeBackend, text: str) -> None:
    async with connected(backend) as ws:
        await init(ws, {"apiKey": PARTNER_A_KEY})
        await ws.send(text)
        closed = await closed_with(ws)
    assert closed.code == 4400


@pytest.mark.parametrize(
    "message", [{"type": "x" * 5000}, {"id": ["1"], "type": "complete"}], ids=["long-type", "list-id"]
)
async def test_close_reasons_fit_a_close_frame_and_odd_fields_close_with_4400(
    backend: FakeBackend, message: dict[str, Any]
) -> None:
    async with connected(backend) as ws:
        await init(ws, {"apiKey": PARTNER_A_KEY})
        await send(ws, message)
        closed = await closed_with(ws)
    assert closed.code == 4400 and len(closed.reason.encode()) <= 123


async def test_a_subscribe_payload_that_is_not_an_object_closes_with_4400(backend: FakeBackend) -> None:
    async with connected(backend) as ws:
        await init(ws, {"apiKey": PARTNER_A_KEY})
        await send(ws, {"id": "1", "type": "subscribe", "payload": ["nope"]})
        closed = await closed_with(ws)
    assert closed.code == 4400


def test_the_message_size_limit_is_a_setting() -> None:
    assert facade_settings().ws_max_message_bytes == 1_000_000
    assert facade_settings(MES_FACADE_WS_MAX_MESSAGE_BYTES="5000").ws_max_message_bytes == 5000
    with pytest.raises(ValueError, match="MES_FACADE_WS_MAX_MESSAGE_BYTES"):
        facade_settings(MES_FACADE_WS_MAX_MESSAGE_BYTES="0")


@pytest.mark.parametrize(
    ("credentials", "tier"),
    [({"apiKey": PARTNER_A_KEY}, "STANDARD"), ({"token": OPERATOR_TOKEN}, "OPERATOR")],
    ids=["partner", "operator"],
)
async def test_subscription_variables_have_the_tiers_limits(
    backend: FakeBackend, credentials: dict[str, str], tier: str
) -> None:
    settings = facade_settings(
        **{f"MES_FACADE_LIMITS_{tier}_MAX_VARIABLES_BYTES": "200", f"MES_FACADE_LIMITS_{tier}_MAX_VARIABLES_DEPTH": "3"}
    )
    async with connected(backend, settings) as ws:
        await init(ws, credentials)
        await send(
            ws, {"id": "large", "type": "subscribe", "payload": {"query": STATUS, "variables": {"p": "x" * 300}}}
        )
        large = await receive(ws)
        await send(ws, {"id": "deep", "type": "subscribe", "payload": {"query": STATUS, "variables": {"x": [[[1]]]}}})
        deep = await receive(ws)
        await send(ws, {"id": "bad", "type": "subscribe", "payload": {"query": STATUS, "variables": [1]}})
        not_an_object = await receive(ws)
        await send(ws, {"id": "fine", "type": "subscribe", "payload": {"query": STATUS, "variables": {"x": [[1]]}}})
        await still_open(ws)  # the fine one runs: nothing but the pong comes back
    assert large["type"] == "error" and large["id"] == "large"
    assert large["payload"][0]["extensions"]["code"] == "VARIABLES_TOO_LARGE"
    assert large["payload"][0]["extensions"]["limit"] == "max_variables_bytes"
    assert large["payload"][0]["extensions"]["maxBytes"] == 200
    assert deep["type"] == "error" and deep["id"] == "deep"
    assert deep["payload"][0]["extensions"]["code"] == "VARIABLES_TOO_DEEP"
    assert deep["payload"][0]["extensions"]["maxDepth"] == 3
    assert "max_variables_depth" in deep["payload"][0]["message"]
    assert not_an_object["type"] == "error" and not_an_object["id"] == "bad"
    assert not_an_object["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_strawberry_still_decodes_with_the_view_and_dispatches_in_handle_message() -> None:
    """The hooks the bounds use (graphql_facade/strawberry_internals.py): the ASGI adapter decodes each text
    frame with the view's ``decode_json``, the handler dispatches it in ``handle_message`` and closes with
    4400 in ``handle_invalid_message``."""
    import inspect

    from strawberry.asgi import ASGIWebSocketAdapter
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

    assert "self.view.decode_json(" in inspect.getsource(ASGIWebSocketAdapter.iter_json)
    handle = inspect.getsource(BaseGraphQLTransportWSHandler.handle)
    assert "self.websocket.iter_json()" in handle and "self.handle_message(" in handle
    assert "code=4400" in inspect.getsource(BaseGraphQLTransportWSHandler.handle_invalid_message)
