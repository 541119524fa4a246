"""Helpers for the GraphQL facade against the running stack: one `mes up` per test module,
GraphQL over HTTP (httpx) and graphql-transport-ws (websockets), the README's examples."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes_stack.partner_keys import PARTNERS_FILE
from tests.e2e._stack import ROOT, RunningStack

OPERATOR_TOKEN = "mes-dev-operator"  # the facade's development operator token
SERVICE_TOKEN = (("authorization", "Bearer mes-dev-token"),)
PROTOCOL = Subprotocol("graphql-transport-ws")
WAIT_S = 20.0

SUBMIT = (
    "mutation($i: SubmitOrderInput!, $k: String!) "
    "{ submitOrder(input: $i, idempotencyKey: $k) { replayed order { id status } } }"
)
#: A partner's subscription: positions (sealed to the partner), not the stream's sequences.
STATUS_SUBSCRIPTION = """subscription($since: String) { orderStatusChanged(since: $since) {
  __typename
  ... on OrderStatusChanged { position orderId fromStatus toStatus reason }
  ... on ResyncRequired { position reason } } }"""
#: A partner's position: subscribing with it as `since` misses none of its later events.
AS_OF_POSITION = "{ asOf { position } }"


class FacadeUrls:
    """The URLs of a facade beside its GraphQL ``url``: the WebSocket endpoint and ``/healthz``."""

    url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def health_url(self) -> str:
        return self.url.removesuffix("/graphql") + "/healthz"


@dataclass(frozen=True)
class GraphQLStack(FacadeUrls):
    stack: RunningStack
    url: str
    keys: Mapping[str, str]  # demo partner id -> API key

    @classmethod
    def of(cls, stack: RunningStack) -> GraphQLStack:
        port = stack.env["MES_FACADE_PORT"]
        partners = json.loads((stack.data_dir / PARTNERS_FILE).read_text())["partners"]
        return cls(stack, f"http://127.0.0.1:{port}/graphql", {p["partner_id"]: p["api_key"] for p in partners})

    def create_partner(self, partner_id: str, tier: orders_pb2.PartnerTier.ValueType) -> str:
        """A new partner through the orders service; returns its API key."""
        with grpc.insecure_channel(self.stack.address("orders")) as channel:
            stub = orders_pb2_grpc.OrdersServiceStub(channel)
            request = orders_pb2.CreatePartnerRequest(partner_id=partner_id, display_name=partner_id, tier=tier)
            response = stub.CreatePartner(request, metadata=SERVICE_TOKEN, timeout=10)
        return str(response.api_key)


# -- HTTP -------------------------------------------------------------------------------------


def partner(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@contextlib.asynccontextmanager
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        yield client


async def post(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], body: Mapping[str, Any]
) -> httpx.Response:
    return await client.post(url, json=dict(body), headers=dict(headers))


async def gql(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    query: str,
    variables: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A query that must succeed: HTTP 200 without errors; returns the whole body."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = dict(variables)
    response = await post(client, url, headers, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert "errors" not in result, result
    return result


def readme_submit_bodies() -> list[dict[str, Any]]:
    """The JSON bodies of the `submitOrder` curl examples of README.md and graphql_facade/README.md."""
    bodies = []
    for path in (ROOT / "README.md", ROOT / "graphql_facade" / "README.md"):
        match = re.search(r"-d '(\{\s*\"query\": \"mutation[^']*submitOrder[^']*)'", path.read_text())
        assert match is not None, f"no submitOrder curl example in {path}"
        bodies.append(json.loads(match.group(1)))
    return bodies


# -- WebSocket --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def ws_session(url: str, params: Mapping[str, str]) -> AsyncIterator[ClientConnection]:
    """An acknowledged graphql-transport-ws connection."""
    async with connect(url, subprotocols=[PROTOCOL], proxy=None, open_timeout=10, compression=None) as ws:
        assert ws.subprotocol == PROTOCOL
        await ws.send(json.dumps({"type": "connection_init", "payload": dict(params)}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield ws


async def subscribe(ws: ClientConnection, op_id: str, query: str, variables: Mapping[str, Any]) -> None:
    payload = {"query": query, "variables": dict(variables)}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def collect(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    """Append every message of the socket (until it closes or the task is cancelled)."""
    async for raw in ws:
        into.append(json.loads(raw))


async def wait_for(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        await asyncio.sleep(0.05)


def status_events(messages: list[dict[str, Any]], op_id: str) -> list[dict[str, Any]]:
    """The `orderStatusChanged` payloads of the `next` messages of one operation."""
    return [
        m["payload"]["data"]["orderStatusChanged"]
        for m in messages
        if m.get("type") == "next" and m.get("id") == op_id and m["payload"].get("data")
    ]
