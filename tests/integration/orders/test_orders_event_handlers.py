"""The handlers the event consumers call: idempotent, tolerant of order, transactional."""

from __future__ import annotations

from typing import Any

import pytest

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED, ORDER_SUBMITTED
from services.orders.adapters.tables import catalogue_items, infra, order_status_changes
from services.orders.bootstrap import App
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.status import OrderStatus
from tests.integration.orders._support import STAFF, T, count_rows, for_partner, outbox_subjects, submit_request

S = OrderStatus


async def _submit(stub: Any) -> str:
    reply = await stub.SubmitOrder(submit_request(), metadata=for_partner("acme"), timeout=T)
    return str(reply.order.order_id)


async def _status(stub: Any, order_id: str) -> int:
    reply = await stub.GetOrder(orders_pb2.GetOrderRequest(name=f"orders/{order_id}"), metadata=STAFF, timeout=T)
    return int(reply.order.status)


async def test_saga_path_with_duplicates_and_stale_events(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    handlers = app.handles.event_handlers
    order_id = await _submit(stub)

    failed = await handlers.on_reservation_failed(order_id, "short of AU750Y: 3 g", "e1")
    assert [c.to_status for c in failed] == [S.ON_HOLD]
    assert await handlers.on_reservation_failed(order_id, "again", "e1") == []
    held = await handlers.on_reservation_held(order_id, "e2")
    assert [(c.from_status, c.to_status) for c in held] == [(S.ON_HOLD, S.ACCEPTED)]
    assert await handlers.on_reservation_held(order_id, "e2") == []
    assert await handlers.on_reservation_failed(order_id, "stale", "e1") == []
    assert await handlers.on_requirements_failed(order_id, "stale", "e0") == []
    assert [c.to_status for c in await handlers.on_work_orders_released(order_id, "e3")] == [S.IN_PRODUCTION]
    assert await handlers.on_work_orders_released(order_id, "e3") == []
    assert [c.to_status for c in await handlers.on_order_completed(order_id, "e4")] == [S.READY_TO_SHIP]
    assert await handlers.on_order_completed(order_id, "e4") == []
    assert await handlers.on_reservation_held(order_id, "e2") == []

    assert await _status(stub, order_id) == orders_pb2.ORDER_STATUS_READY_TO_SHIP
    assert await count_rows(app, order_status_changes) == 5
    subjects = await outbox_subjects(app)
    assert subjects.count(ORDER_STATUS_CHANGED.subject) == 4
    async with app.db.write() as session:
        last = (await session.execute(infra.outbox.select().order_by(infra.outbox.c.seq.desc()))).first()
    assert last is not None
    event = orders_events_pb2.OrderStatusChangedEvent.FromString(last.payload)
    assert event.meta.causation_id == "e4" and event.order_version == 5


async def test_release_before_reservation_goes_through_accepted(
    app: App, stub: Any, partner_keys: dict[str, str]
) -> None:
    order_id = await _submit(stub)
    changes = await app.handles.event_handlers.on_work_orders_released(order_id, "e1")
    assert [(c.from_status, c.to_status, c.version) for c in changes] == [
        (S.SUBMITTED, S.ACCEPTED, 2),
        (S.ACCEPTED, S.IN_PRODUCTION, 3),
    ]
    assert await app.handles.event_handlers.on_reservation_held(order_id, "late-held") == []


async def test_events_after_cancel_or_reject_change_nothing(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    rejected = await _submit(stub)
    changes = await app.handles.event_handlers.on_requirements_failed(rejected, "style has no bill of materials", "e1")
    assert [c.to_status for c in changes] == [S.REJECTED]
    cancelled = await _submit(stub)
    await stub.CancelOrder(orders_pb2.CancelOrderRequest(name=f"orders/{cancelled}"), metadata=STAFF, timeout=T)
    for order_id in (rejected, cancelled):
        assert await app.handles.event_handlers.on_reservation_held(order_id, "e2") == []
        assert await app.handles.event_handlers.on_work_orders_released(order_id, "e3") == []
        assert await app.handles.event_handlers.on_order_completed(order_id, "e4") == []
    assert await _status(stub, rejected) == orders_pb2.ORDER_STATUS_REJECTED
    assert await app.handles.event_handlers.on_reservation_held("00000000-0000-7000-8000-000000000000", "e5") == []


async def test_handler_joins_the_callers_transaction(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    order_id = await _submit(stub)
    handlers = app.handles.event_handlers
    with pytest.raises(RuntimeError):
        async with app.db.write() as session:
            uows = app.handles.uows.borrow(session, causation_id="e1")
            assert await handlers.on_reservation_held(order_id, "e1", uows=uows)
            raise RuntimeError("the consumer fails before commit")
    assert await _status(stub, order_id) == orders_pb2.ORDER_STATUS_SUBMITTED
    assert await outbox_subjects(app) == [ORDER_SUBMITTED.subject]

    async with app.db.write() as session:
        await handlers.on_reservation_held(order_id, "e1", uows=app.handles.uows.borrow(session, causation_id="e1"))
    assert await _status(stub, order_id) == orders_pb2.ORDER_STATUS_ACCEPTED
    assert await outbox_subjects(app) == [ORDER_SUBMITTED.subject, ORDER_STATUS_CHANGED.subject]


async def test_catalogue_copy_only_moves_forward(app: App, stub: Any) -> None:
    apply = app.handles.event_handlers.apply_catalogue_item
    assert await apply(CatalogueKind.STYLE, "BRC-001", "Bracelet", True, 3)
    assert not await apply(CatalogueKind.STYLE, "BRC-001", "Bracelet v2 (stale)", False, 2)
    assert not await apply(CatalogueKind.STYLE, "BRC-001", "Bracelet (duplicate)", False, 3)
    assert await apply(CatalogueKind.STYLE, "BRC-001", "Bracelet v4", False, 4)
    async with app.handles.uows.read() as uow:
        item = await uow.catalogue.get(CatalogueKind.STYLE, "BRC-001")
    assert item is not None and (item.display_name, item.active, item.source_version) == ("Bracelet v4", False, 4)
    assert await count_rows(app, catalogue_items) == 5
