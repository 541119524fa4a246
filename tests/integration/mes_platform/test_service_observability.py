"""A real service (inventory, SQLite, in process): the /metrics endpoint, and the trace context
from gRPC metadata to the log lines and the outbox rows of the call."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from mes.inventory.v1 import inventory_events_pb2, inventory_pb2_grpc
from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts.events import ALLOY_UPSERTED
from mes_platform.config import ServiceSettings
from mes_platform.telemetry.logs import configure_logging
from mes_platform.telemetry.tracing import parse_traceparent
from services.inventory.adapters.tables import infra
from services.inventory.bootstrap import App, start
from tests._infra.logs import logging_restored
from tests._infra.ports import free_port

SVC = (("authorization", "Bearer svc-token"),)
TIMEOUT = 10.0
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., ServiceSettings]:
    def make(**env: str) -> ServiceSettings:
        base = {
            "MES_AUTH_TOKENS": "svc-token=service:test",
            "MES_INVENTORY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}",
            "MES_DATA_DIR": str(tmp_path),
            "MES_SHUTDOWN_GRACE_S": "1",
            "MES_LOG_FORMAT": "console",
        }
        return ServiceSettings.from_env("inventory", env={**base, **env})

    return make


@pytest.fixture
async def app(make_settings: Callable[..., ServiceSettings]) -> AsyncIterator[App]:
    started = await start(make_settings(), port=0)
    try:
        yield started
    finally:
        await started.aclose()


async def upsert_alloy(app: App, code: str, metadata: tuple[tuple[str, str], ...]) -> None:
    alloy = pb.Alloy(code=code, metal=pb.METAL_GOLD, fineness=750, colour="yellow", display_name=code, active=True)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        await stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=alloy), metadata=metadata, timeout=TIMEOUT)


async def outbox_rows(app: App) -> list[tuple[inventory_events_pb2.AlloyUpsertedEvent, dict[str, str]]]:
    t = infra.outbox
    async with app.db.read() as session:
        rows = (
            await session.execute(
                select(t.c.payload, t.c.headers).where(t.c.subject == ALLOY_UPSERTED.subject).order_by(t.c.seq)
            )
        ).all()
    return [(inventory_events_pb2.AlloyUpsertedEvent.FromString(bytes(p)), json.loads(h)) for p, h in rows]


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


# -- metrics --------------------------------------------------------------------------


async def test_metrics_endpoint_serves_rpc_latency_and_closes_on_shutdown(
    make_settings: Callable[..., ServiceSettings],
) -> None:
    port = free_port()
    app = await start(make_settings(MES_INVENTORY_METRICS_PORT=str(port)), port=0)
    try:
        assert app.metrics is not None and app.metrics.port == port
        await upsert_alloy(app, "AU585R", SVC)
        text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")
        assert "# TYPE mes_rpc_seconds histogram" in text
        labels = ('code="OK"', 'method="UpsertAlloy"', 'service="inventory"')
        counts = [line for line in text.splitlines() if line.startswith("mes_rpc_seconds_count{")]
        assert any(all(label in line for label in labels) for line in counts), counts
    finally:
        await app.aclose()
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")


async def test_metrics_are_off_by_default(app: App) -> None:
    assert app.metrics is None


# -- trace context ----------------------------------------------------------------------


async def test_the_callers_trace_reaches_the_outbox_row(app: App) -> None:
    await upsert_alloy(app, "AU750Y", (*SVC, ("traceparent", TRACEPARENT)))
    [(event, headers)] = await outbox_rows(app)
    span = parse_traceparent(event.meta.traceparent)
    assert span is not None
    assert span.trace_id == TRACE  # same trace
    assert span.span_id != CALLER_SPAN  # the service's own span, child of the caller's
    assert headers["traceparent"] == event.meta.traceparent  # published as a NATS header by the relay


async def test_a_call_without_traceparent_starts_a_new_trace(app: App) -> None:
    await upsert_alloy(app, "AU750Y", SVC)
    await upsert_alloy(app, "AG925", (*SVC, ("traceparent", "junk")))
    (first, _), (second, _) = await outbox_rows(app)
    one, two = parse_traceparent(first.meta.traceparent), parse_traceparent(second.meta.traceparent)
    assert one is not None and two is not None and one.trace_id != two.trace_id


@pytest.fixture
def json_logs() -> Iterator[None]:
    with logging_restored():
        configure_logging("inventory", "DEBUG")
        yield


async def test_log_lines_of_the_call_carry_the_trace(
    json_logs: None, app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await upsert_alloy(app, "AU750Y", (*SVC, ("traceparent", TRACEPARENT)))
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [rpc] = [line for line in logged if line.get("event") == "rpc" and "UpsertAlloy" in str(line.get("method"))]
    [(event, _)] = await outbox_rows(app)
    span = parse_traceparent(event.meta.traceparent)
    assert span is not None
    assert (rpc["trace_id"], rpc["span_id"]) == (TRACE, span.span_id)
