"""The waiting-orders sweeper: a pass at start serves every waiting order the stock covers,
page after page, by priority then submit time (a restart resumes release at once); a wake
makes another pass whose reservations carry the waking event as their cause, in a span under the
waking span (a pass nobody woke starts its own trace)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as inv_ev
from mes.inventory.v1 import inventory_pb2 as inv
from mes.inventory.v1 import inventory_pb2_grpc
from mes_contracts.events import RESERVATION_HELD
from mes_platform.config import ServiceSettings
from mes_platform.telemetry.tracing import TraceContext, install_tracer, use_trace
from services.inventory import bootstrap as inventory_boot
from services.inventory.adapters.tables import infra
from services.inventory.entrypoints.waiting_sweeper import SWEEP_CAUSE, WaitingSweeper
from tests._infra.services import BACKENDS, backend_database_url
from tests.integration.saga.saga_stack import ALLOY, SVC, T, eventually, service_env

METAL = common_pb2.MATERIAL_KIND_METAL
#: The span of a consumer that wakes the sweeper (sampled).
WAKER = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[inventory_boot.App]:
    """Inventory in process, without NATS (the sweeper is driven by the test), two waiting
    orders read per page."""
    env = service_env("inventory", backend_database_url(request, tmp_path, "sweep"), "", str(tmp_path))
    env.pop("NATS_URL")
    env["MES_INVENTORY_RETRY_BATCH"] = "2"
    started = await inventory_boot.start(ServiceSettings.from_env("inventory", env=env), port=0)
    try:
        yield started
    finally:
        await started.aclose()


async def queue(stub: inventory_pb2_grpc.InventoryServiceStub, order_id: str, priority: int, minutes: int) -> None:
    submitted = Timestamp()
    submitted.FromDatetime(T0 + timedelta(minutes=minutes))
    need = common_pb2.MaterialRequirement(material_code=ALLOY, kind=METAL, weight_mg=3_000, line_number=1)
    request = inv.ReserveOrderRequest(
        order_id=order_id,
        priority=priority,  # type: ignore[arg-type]
        requirements=[need],
        queue_on_shortage=True,
        submit_time=submitted,
    )
    assert not (await stub.ReserveOrder(request, metadata=SVC, timeout=T)).HasField("reservation")


async def receive(stub: inventory_pb2_grpc.InventoryServiceStub, mg: int) -> None:
    lot = inv.ReceiveLotRequest(kind=METAL, material_code=ALLOY, weight_mg=mg, request_id=str(uuid.uuid4()))
    await stub.ReceiveLot(lot, metadata=SVC, timeout=T)


async def held(app: inventory_boot.App) -> list[tuple[str, str]]:
    """(order id, cause) of every ReservationHeld in the outbox, in the order written."""
    t = infra.outbox
    async with app.db.read() as session:
        query = select(t.c.payload).where(t.c.subject == RESERVATION_HELD.subject).order_by(t.c.seq)
        rows = (await session.execute(query)).scalars().all()
    events = [inv_ev.ReservationHeldEvent.FromString(bytes(p)) for p in rows]
    return [(e.reservation.order_id, e.meta.causation_id) for e in events]


async def test_a_pass_at_start_then_on_a_wake_serves_every_waiting_order_it_can(app: inventory_boot.App) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        alloy = inv.Alloy(code=ALLOY, metal=inv.METAL_GOLD, fineness=750, colour="yellow", display_name=ALLOY)
        await stub.UpsertAlloy(inv.UpsertAlloyRequest(alloy=alloy), metadata=SVC, timeout=T)
        priorities = (common_pb2.PRIORITY_LOW, common_pb2.PRIORITY_RUSH, common_pb2.PRIORITY_NORMAL)
        priorities += (common_pb2.PRIORITY_RUSH, common_pb2.PRIORITY_HIGH)
        for n, priority in enumerate(priorities):
            await queue(stub, f"o{n}", priority, n)
        await receive(stub, 12_000)  # four of the five: more than one page of two

        sweeper = WaitingSweeper(app.handles.uows, app.handles.handlers.events, interval_s=3_600)
        sweeper.start()  # as after a crash: nobody wakes it, it passes at once
        try:
            await eventually(lambda: _count(app, 4), what="four reservations")
            assert await held(app) == [(o, SWEEP_CAUSE) for o in ("o1", "o3", "o4", "o2")]

            await queue(stub, "o5", common_pb2.PRIORITY_LOW, 9)
            await receive(stub, 6_000)  # o0, then o5
            sweeper.wake("evt-lot")
            await eventually(lambda: _count(app, 6), what="six reservations")
            assert (await held(app))[4:] == [("o0", "evt-lot"), ("o5", "evt-lot")]
        finally:
            await sweeper.stop()
    assert sweeper.passes >= 2


async def _count(app: inventory_boot.App, n: int) -> bool:
    return len(await held(app)) == n


async def test_a_pass_is_a_span_under_the_span_that_woke_it(app: inventory_boot.App) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_tracer(provider.get_tracer("test"))
    sweeper = WaitingSweeper(app.handles.uows, app.handles.handlers.events, interval_s=3_600)
    try:
        sweeper.start()  # the pass at start: nobody woke it
        await eventually(lambda: _passes(sweeper, 1), what="the first pass")
        with use_trace(WAKER):
            sweeper.wake("evt-lot")
        await eventually(lambda: _passes(sweeper, 2), what="the woken pass")
    finally:
        await sweeper.stop()
        install_tracer(None)
    passes = [s for s in exporter.get_finished_spans() if s.name == "inventory retry_waiting_orders"]
    assert len(passes) == 2
    first, woken = passes
    assert first.parent is None and first.context.trace_id != int(WAKER.trace_id, 16)
    assert first.attributes == {"mes.causation_id": SWEEP_CAUSE}
    assert woken.parent is not None and woken.parent.span_id == int(WAKER.span_id, 16)
    assert woken.context.trace_id == int(WAKER.trace_id, 16)
    assert woken.attributes == {"mes.causation_id": "evt-lot"}


async def _passes(sweeper: WaitingSweeper, n: int) -> bool:
    return sweeper.passes >= n
