"""Orders short of stock wait in a queue, listed and served by priority then submit time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as ev
from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts.events import RESERVATION_FAILED, RESERVATION_HELD
from services.inventory.adapters.tables import infra, waiting_orders
from services.inventory.bootstrap import App
from services.inventory.service_layer.event_handlers import RetryReport
from tests.integration.inventory._support import (
    SVC,
    TIMEOUT,
    Stub,
    count,
    metal,
    receive_metal,
    stones,
    subjects,
    upsert_alloy,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def retry_pass(app: App, cause: str) -> RetryReport:
    """A retry pass whose events carry ``cause`` (as when a stock event triggers it)."""
    return await app.handles.handlers.events.bound(app.handles.uows.caused_by(cause)).retry_waiting_orders()


async def queue(stub: Stub, order_id: str, priority: int, minutes: int, grams: int) -> pb.ReserveOrderResponse:
    submitted = Timestamp()
    submitted.FromDatetime(T0 + timedelta(minutes=minutes))
    request = pb.ReserveOrderRequest(
        order_id=order_id,
        priority=priority,  # type: ignore[arg-type]
        requirements=[metal("AU750Y", grams * 1_000), stones("DIA-1", 1)]
        if order_id == "o-gems"
        else [metal("AU750Y", grams * 1_000)],
        queue_on_shortage=True,
        submit_time=submitted,
    )
    return await stub.ReserveOrder(request, metadata=SVC, timeout=TIMEOUT)


async def test_waiting_orders_are_listed_and_retried_in_serve_order(app: App, stub: Stub) -> None:
    await upsert_alloy(stub, "AU750Y")
    await receive_metal(stub, "AU750Y", 5_000)

    low = await queue(stub, "o-low", common_pb2.PRIORITY_LOW, 0, 10)
    assert not low.HasField("reservation")
    [shortage] = low.shortages
    assert (shortage.material_code, shortage.required_mg, shortage.available_mg) == ("AU750Y", 10_000, 5_000)
    await queue(stub, "o-rush-late", common_pb2.PRIORITY_RUSH, 30, 10)
    await queue(stub, "o-rush-early", common_pb2.PRIORITY_RUSH, 10, 10)
    await queue(stub, "o-normal", common_pb2.PRIORITY_NORMAL, 5, 8)
    await queue(stub, "o-gems", common_pb2.PRIORITY_HIGH, 1, 1)  # metal fits, stones do not
    assert (await queue(stub, "o-normal", common_pb2.PRIORITY_NORMAL, 5, 8)).shortages  # re-queue: no new event

    listed, token = [], ""
    while True:
        page = await stub.ListShortages(
            pb.ListShortagesRequest(page_size=2, page_token=token), metadata=SVC, timeout=TIMEOUT
        )
        listed += [(s.order_id, s.material_code) for s in page.shortages]
        if not (token := page.next_page_token):
            break
    assert listed == [
        ("o-rush-early", "AU750Y"),
        ("o-rush-late", "AU750Y"),
        ("o-gems", "DIA-1"),
        ("o-normal", "AU750Y"),
        ("o-low", "AU750Y"),
    ]
    assert (await subjects(app)).count(RESERVATION_FAILED.subject) == 5

    # 21 g more: 26 g free -> the two rush orders (10 g each) fit, then o-normal needs 8 g but 6 g are left
    await receive_metal(stub, "AU750Y", 21_000)
    report = await retry_pass(app, "evt-lot-1")
    assert [r.order_id for r in report.reserved] == ["o-rush-early", "o-rush-late"]
    assert report.still_waiting == ("o-gems", "o-normal", "o-low")
    assert await count(app, waiting_orders) == 3

    async with app.db.read() as session:
        rows = (
            await session.execute(
                select(infra.outbox.c.payload).where(infra.outbox.c.subject == RESERVATION_HELD.subject)
            )
        ).all()
    held = [ev.ReservationHeldEvent.FromString(row.payload) for row in rows]
    assert [(e.order_id, e.meta.causation_id) for e in held] == [
        ("o-rush-early", "evt-lot-1"),
        ("o-rush-late", "evt-lot-1"),
    ]

    again = await retry_pass(app, "evt-lot-1")
    assert again.reserved == ()

    await receive_metal(stub, "AU750Y", 20_000)
    report = await retry_pass(app, "evt-lot-2")
    assert [r.order_id for r in report.reserved] == ["o-normal", "o-low"]
    remaining = await stub.ListShortages(pb.ListShortagesRequest(), metadata=SVC, timeout=TIMEOUT)
    assert [s.order_id for s in remaining.shortages] == ["o-gems"]
