"""`mesctl watch` against the facade app (through ASGI, fake services): a partner sees its own
orders only, an operator is told to resync and sees every partner, the dashboard counters."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from clients.cli._watch import WatchOptions, run
from graphql_facade.events import EventEnvelope
from graphql_facade.positions_sealed import sealer_for
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED
from tests.unit.graphql_facade.conftest import OPERATOR_TOKEN, PARTNER_A_KEY, PARTNER_B_KEY, FacadeClient, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket, websocket


@pytest.fixture
def backend() -> FakeBackend:
    fake = FakeBackend()
    fake.add_partner("partner-a", PARTNER_A_KEY)
    fake.add_partner("partner-b", PARTNER_B_KEY)
    return fake


@pytest.fixture
async def client(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as app:
        yield app


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
    sealer = sealer_for(client.facade.settings.position_secret)
    async with _watching(client, WatchOptions(api_key=PARTNER_A_KEY, since=sealer.seal("partner-a", 10)), lines):
        await asyncio.sleep(0.05)
        hub.publish(_status_changed(11, "o-b", "partner-b"))
        hub.publish(_status_changed(12, "o-a", "partner-a"))
        await _until(lambda: bool(lines))
    # A partner sees its position, never the stream's sequence.
    assert lines == [f"position={sealer.seal('partner-a', 12)} order=o-a SUBMITTED -> ACCEPTED materials reserved"]


async def test_an_operator_is_told_to_resync_and_sees_every_partner(client: FacadeClient) -> None:
    hub = client.facade.hub
    hub.start_at({"ORDERS": 100})  # events up to 100 were never seen by this replica
    lines: list[str] = []
    async with _watching(client, WatchOptions(token=OPERATOR_TOKEN, since="50"), lines):
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
