"""The consumers' handlers run inside the consumer's transaction: they commit nothing on their
own, their outbox events join that transaction with causation id = the handled event's id,
and the relay is notified only after a commit that wrote events. No NATS needed here: the
handlers are called the way ``EventConsumer`` calls them (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from sqlalchemy import Table, func, select

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as inv_ev
from mes.inventory.v1 import inventory_pb2 as inv
from mes.inventory.v1 import inventory_pb2_grpc
from mes.orders.v1 import orders_events_pb2 as ord_ev
from mes.orders.v1 import orders_pb2 as ords
from mes.orders.v1 import orders_pb2_grpc
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes.production.v1 import production_pb2_grpc
from mes_contracts.events import (
    LOT_RECEIVED,
    OPERATION_CHANGED,
    OPERATION_EVENTS,
    OPERATION_FINISHED,
    OPERATION_REWORKED,
    ORDER_CANCELLED,
    ORDER_STATUS_CHANGED,
    ORDER_SUBMITTED,
    REQUIREMENTS_COMPUTED,
    RESERVATION_FAILED,
    RESERVATION_HELD,
    RESERVATION_RELEASED,
    WORK_ORDERS_CANCELLED,
    WORK_ORDERS_RELEASED,
)
from mes_kernel.clock import utcnow
from mes_kernel.uow import WriteConflict
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.messaging.events import EventContext, Handler
from mes_platform.messaging.runtime import ConsumerSpec
from mes_platform.outbox import new_event_meta
from services.inventory import bootstrap as inventory_boot
from services.inventory.adapters.tables import closed_orders as inventory_closed_orders
from services.inventory.adapters.tables import infra as inventory_infra
from services.inventory.entrypoints import consumers as inventory_consumers
from services.orders import bootstrap as orders_boot
from services.orders.adapters.tables import infra as orders_infra
from services.orders.domain.catalogue import CatalogueKind
from services.orders.entrypoints import consumers as orders_consumers
from services.production import bootstrap as production_boot
from services.production.adapters.tables import infra as production_infra
from services.production.entrypoints import consumers as production_consumers
from tests.integration.saga.saga_stack import ALLOY, STYLE, SVC, T, service_env

METAL = common_pb2.MATERIAL_KIND_METAL
STATUS_CHANGED = ORDER_STATUS_CHANGED.subject
HELD = RESERVATION_HELD.subject
FAILED = RESERVATION_FAILED.subject
COMPUTED = REQUIREMENTS_COMPUTED.subject


class Rollback(Exception):
    pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    make_pg_database: Callable[..., str] = request.getfixturevalue("make_pg_database")
    return make_pg_database()


@pytest.fixture
def settings_for(db_url: str, tmp_path: Path) -> Callable[[str], ServiceSettings]:
    def make(service: str) -> ServiceSettings:
        env = service_env(service, db_url, "", str(tmp_path))
        env.pop("NATS_URL")  # no NATS: the consumers are driven by hand
        return ServiceSettings.from_env(service, env=env)

    return make


@pytest.fixture
async def start_service(
    settings_for: Callable[[str], ServiceSettings],
) -> AsyncIterator[Callable[[str], Awaitable[Any]]]:
    """``await start_service("inventory")``: that service's app in process on a free port, closed after the test."""
    boots = {"orders": orders_boot, "inventory": inventory_boot, "production": production_boot}
    apps: list[Any] = []

    async def start(service: str) -> Any:
        apps.append(await boots[service].start(settings_for(service), port=0))
        return apps[-1]

    yield start
    for app in reversed(apps):
        await app.aclose()


@pytest.fixture
async def channel_to() -> AsyncIterator[Callable[[int], grpc.aio.Channel]]:
    channels: list[grpc.aio.Channel] = []

    def make(port: int) -> grpc.aio.Channel:
        channels.append(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
        return channels[-1]

    yield make
    for ch in channels:
        await ch.close()


def handler(specs: list[ConsumerSpec], subject: str) -> tuple[str, Handler]:
    """(purpose, handler) of the consumer spec handling ``subject``."""
    for spec in specs:
        handlers = spec.handlers_by_subject()
        if subject in handlers:
            return spec.purpose, handlers[subject]
    raise KeyError(subject)


def context(subject: str, event: Message, consumer: str = "test") -> EventContext:
    meta = new_event_meta("test")
    event.meta.CopyFrom(meta)  # type: ignore[attr-defined]
    return EventContext(subject, meta.event_id, consumer, 1, 1, {}, meta)


async def run(db: Database, fn: Handler, event: Message, ctx: EventContext, *, commit: bool) -> None:
    """What EventConsumer does around a handler (minus the inbox row); rolled back unless ``commit``."""
    try:
        async with db.write() as session:
            await fn(session, event, ctx)
            if not commit:
                raise Rollback
    except Rollback:
        pass


async def outbox(db: Database, table: Table, subject: str, cls: type[Message]) -> list[Any]:
    async with db.write() as session:
        rows = (await session.execute(select(table.c.payload).where(table.c.subject == subject))).all()
    return [cls.FromString(bytes(row.payload)) for row in rows]


async def stocked_inventory(channel: grpc.aio.Channel) -> inventory_pb2_grpc.InventoryServiceStub:
    """The inventory service's stub, after the alloy ``ALLOY`` and one lot of 10 g of it."""
    stub = inventory_pb2_grpc.InventoryServiceStub(channel)
    alloy = inv.Alloy(code=ALLOY, metal=inv.METAL_GOLD, fineness=750, colour="yellow", display_name=ALLOY)
    await stub.UpsertAlloy(inv.UpsertAlloyRequest(alloy=alloy), metadata=SVC, timeout=T)
    lot = inv.ReceiveLotRequest(kind=METAL, material_code=ALLOY, weight_mg=10_000, request_id=str(uuid.uuid4()))
    await stub.ReceiveLot(lot, metadata=SVC, timeout=T)
    return stub


async def count(db: Database, table: Table) -> int:
    async with db.write() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def test_inventory_subscribes_only_to_the_operation_outcomes_that_carry_a_final_loss() -> None:
    specs = inventory_consumers.consumer_specs(None, None, wake=print)  # type: ignore[arg-type]  # subjects only
    subscribed = {subject for spec in specs for subject in spec.subjects}
    operations = {event.subject for event in OPERATION_EVENTS}
    final_loss = {OPERATION_FINISHED.subject, OPERATION_REWORKED.subject}
    assert subscribed & operations == final_loss | {OPERATION_CHANGED.subject}  # + every change before the split


async def test_a_stock_event_wakes_the_waiting_orders_sweeper_with_its_id_as_the_cause() -> None:
    woken: list[str] = []
    specs = inventory_consumers.consumer_specs(None, None, wake=woken.append)  # type: ignore[arg-type]
    for subject in (LOT_RECEIVED.subject, RESERVATION_RELEASED.subject):
        event = LOT_RECEIVED.message() if subject == LOT_RECEIVED.subject else RESERVATION_RELEASED.message()
        ctx = context(subject, event)
        await handler(specs, subject)[1](None, event, ctx)  # type: ignore[arg-type]  # no transaction used
        assert woken[-1] == ctx.event_id
    assert len(woken) == 2


async def test_orders_handler_joins_the_consumer_transaction(
    start_service: Callable[[str], Awaitable[Any]], channel_to: Callable[[int], grpc.aio.Channel]
) -> None:
    app = await start_service("orders")
    assert app.messaging is None  # no NATS_URL: gRPC only, events stay in the outbox
    notified: list[int] = []
    app.db.on_outbox_committed(lambda: notified.append(1))
    stub = orders_pb2_grpc.OrdersServiceStub(channel_to(app.port))
    for kind, code in ((CatalogueKind.STYLE, STYLE), (CatalogueKind.ALLOY, ALLOY)):
        await app.handles.event_handlers.apply_catalogue_item(kind, code, code, True, 1)
    await stub.CreatePartner(ords.CreatePartnerRequest(partner_id="acme", display_name="Acme"), metadata=SVC, timeout=T)
    request = ords.SubmitOrderRequest(
        parent="partners/acme",
        partner_reference="r-1",
        lines=[ords.OrderLine(style_code=STYLE, alloy_code=ALLOY, quantity=1)],
        request_id=str(uuid.uuid4()),
    )
    request.due_time.FromDatetime(datetime.now(UTC) + timedelta(days=7))
    order = (await stub.SubmitOrder(request, metadata=SVC, timeout=T)).order
    assert notified == [1]  # the intake transaction wrote orders.order.submitted

    _, held = handler(
        orders_consumers.consumer_specs(app.handles.uows, app.handles.event_handlers), RESERVATION_HELD.subject
    )
    event = inv_ev.ReservationHeldEvent(order_id=order.order_id)
    ctx = context(RESERVATION_HELD.subject, event)
    await run(app.db, held, event, ctx, commit=False)
    get = ords.GetOrderRequest(name=order.name)
    assert (await stub.GetOrder(get, metadata=SVC, timeout=T)).order.status == ords.ORDER_STATUS_SUBMITTED
    assert await outbox(app.db, orders_infra.outbox, STATUS_CHANGED, ord_ev.OrderStatusChangedEvent) == []
    assert notified == [1]

    await run(app.db, held, event, ctx, commit=True)
    assert (await stub.GetOrder(get, metadata=SVC, timeout=T)).order.status == ords.ORDER_STATUS_ACCEPTED
    changes = await outbox(app.db, orders_infra.outbox, STATUS_CHANGED, ord_ev.OrderStatusChangedEvent)
    assert [(c.to_status, c.meta.causation_id) for c in changes] == [(ords.ORDER_STATUS_ACCEPTED, ctx.event_id)]
    assert notified == [1, 1]
    reply = await stub.ListOrderStatusChanges(
        ords.ListOrderStatusChangesRequest(parent=order.name), metadata=SVC, timeout=T
    )
    assert reply.status_changes[-1].cause == ctx.event_id


async def test_inventory_handler_joins_the_consumer_transaction(
    start_service: Callable[[str], Awaitable[Any]], channel_to: Callable[[int], grpc.aio.Channel]
) -> None:
    app = await start_service("inventory")
    stub = await stocked_inventory(channel_to(app.port))
    _, computed = handler(
        inventory_consumers.consumer_specs(app.handles.uows, app.handles.handlers.events, wake=print),
        REQUIREMENTS_COMPUTED.subject,
    )
    event = prod_ev.RequirementsComputedEvent(
        order_id="order-1",
        priority=common_pb2.PRIORITY_HIGH,
        requirements=[common_pb2.MaterialRequirement(material_code=ALLOY, kind=METAL, weight_mg=4_000, line_number=1)],
    )
    ctx = context(REQUIREMENTS_COMPUTED.subject, event)
    listing = inv.ListReservationsRequest(order_ids=["order-1"])

    await run(app.db, computed, event, ctx, commit=False)
    assert list((await stub.ListReservations(listing, metadata=SVC, timeout=T)).reservations) == []
    assert await outbox(app.db, inventory_infra.outbox, HELD, inv_ev.ReservationHeldEvent) == []

    await run(app.db, computed, event, ctx, commit=True)
    [reservation] = (await stub.ListReservations(listing, metadata=SVC, timeout=T)).reservations
    assert reservation.state == inv.RESERVATION_STATE_HELD
    [held] = await outbox(app.db, inventory_infra.outbox, HELD, inv_ev.ReservationHeldEvent)
    assert held.meta.causation_id == ctx.event_id

    # A short order waits (ReservationFailed, caused by its event) in the same way.
    short = prod_ev.RequirementsComputedEvent(
        order_id="order-2",
        requirements=[common_pb2.MaterialRequirement(material_code=ALLOY, kind=METAL, weight_mg=9_000, line_number=1)],
    )
    short_ctx = context(REQUIREMENTS_COMPUTED.subject, short)
    await run(app.db, computed, short, short_ctx, commit=True)
    [failed] = await outbox(app.db, inventory_infra.outbox, FAILED, inv_ev.ReservationFailedEvent)
    assert (failed.order_id, failed.meta.causation_id) == ("order-2", short_ctx.event_id)


async def test_inventory_borrowed_unit_of_work_retries_in_a_savepoint(
    start_service: Callable[[str], Awaitable[Any]],
) -> None:
    app = await start_service("inventory")
    runs: list[str] = []

    async def close(uow: Any) -> None:
        runs.append(f"order-{len(runs) + 1}")
        await uow.waiting.close(runs[-1], "cancelled", utcnow())
        if len(runs) == 1:
            raise WriteConflict("lost a race")  # only this attempt's savepoint rolls back

    async with app.db.write() as session:
        uows = app.handles.uows.borrow(session)
        await uows.transact(close)
        with pytest.raises(WriteConflict):
            async with uows.write() as uow:
                await uow.waiting.close("order-3", "cancelled", utcnow())
                raise WriteConflict("lost a race")
        async with uows.read() as uow:  # the same transaction: sees its own write
            assert await uow.waiting.closed_reason("order-2") == "cancelled"
            assert await uow.waiting.closed_reason("order-1") is None
    async with app.db.write() as session:
        rows = (await session.execute(select(inventory_closed_orders.c.order_id))).scalars().all()
    assert rows == ["order-2"]


async def test_production_handler_joins_the_consumer_transaction(
    start_service: Callable[[str], Awaitable[Any]], channel_to: Callable[[int], grpc.aio.Channel]
) -> None:
    app = await start_service("production")
    stub = production_pb2_grpc.ProductionServiceStub(channel_to(app.port))
    style = prod.Style(
        sku=STYLE,
        display_name="Ring",
        category=prod.STYLE_CATEGORY_RING,
        routing=[prod.RoutingStep(sequence=1, operation_code="CASTING", work_center_type="CAST", expected_minutes=5)],
        bill_of_materials=[prod.BomItem(kind=METAL, weight_mg=3_000)],
        active=True,
    )
    await stub.UpsertStyle(prod.UpsertStyleRequest(style=style), metadata=SVC, timeout=T)
    _, submitted = handler(
        production_consumers.consumer_specs(app.handles.uows, app.handles.handlers.order_events),
        ORDER_SUBMITTED.subject,
    )
    order = ords.Order(
        order_id="order-1",
        priority=common_pb2.PRIORITY_NORMAL,
        lines=[ords.OrderLine(line_number=1, style_code=STYLE, alloy_code=ALLOY, quantity=2)],
    )
    order.create_time.FromDatetime(datetime(2030, 1, 2, tzinfo=UTC))
    event = ord_ev.OrderSubmittedEvent(order=order)
    ctx = context(ORDER_SUBMITTED.subject, event)

    await run(app.db, submitted, event, ctx, commit=False)
    assert await outbox(app.db, production_infra.outbox, COMPUTED, prod_ev.RequirementsComputedEvent) == []
    await run(app.db, submitted, event, ctx, commit=True)
    [computed] = await outbox(app.db, production_infra.outbox, COMPUTED, prod_ev.RequirementsComputedEvent)
    assert computed.meta.causation_id == ctx.event_id
    assert [(r.material_code, r.weight_mg) for r in computed.requirements] == [(ALLOY, 6_000)]
    assert computed.submit_time.ToDatetime(tzinfo=UTC) == datetime(2030, 1, 2, tzinfo=UTC)
    # The same event again (a replay past the inbox) changes nothing.
    await run(app.db, submitted, event, ctx, commit=True)
    assert len(await outbox(app.db, production_infra.outbox, COMPUTED, prod_ev.RequirementsComputedEvent)) == 1


@pytest.mark.parametrize("first", ["order_cancelled", "work_orders_cancelled"])
async def test_inventory_returns_each_mg_once_whatever_the_order_of_the_cancellations(
    start_service: Callable[[str], Awaitable[Any]], channel_to: Callable[[int], grpc.aio.Channel], first: str
) -> None:
    app = await start_service("inventory")
    stub = await stocked_inventory(channel_to(app.port))
    specs = inventory_consumers.consumer_specs(app.handles.uows, app.handles.handlers.events, wake=print)

    async def deliver(subject: str, event: Message) -> None:
        await run(app.db, handler(specs, subject)[1], event, context(subject, event), commit=True)

    need = common_pb2.MaterialRequirement(material_code=ALLOY, kind=METAL, weight_mg=4_000, line_number=1)
    await deliver(COMPUTED, prod_ev.RequirementsComputedEvent(order_id="order-1", requirements=[need]))
    await deliver(WORK_ORDERS_RELEASED.subject, prod_ev.WorkOrdersReleasedEvent(order_id="order-1"))
    casting = prod.Operation(
        name="workOrders/wo-1/operations/1",
        order_id="order-1",
        alloy_code=ALLOY,
        status=prod.OPERATION_STATUS_DONE,
        loss_mg=100,
        finished_by="OP-1",
    )
    await deliver(
        OPERATION_FINISHED.subject,
        prod_ev.OperationChangedEvent(operation=casting, from_status=prod.OPERATION_STATUS_IN_PROGRESS),
    )
    listing = inv.ListReservationsRequest(order_ids=["order-1"])

    async def state() -> int:
        [reservation] = (await stub.ListReservations(listing, metadata=SVC, timeout=T)).reservations
        return int(reservation.state)

    assert await state() == inv.RESERVATION_STATE_COMMITTED
    order_cancelled = ord_ev.OrderCancelledEvent(order_id="order-1", reason="changed their mind")
    back = common_pb2.MaterialRequirement(material_code=ALLOY, kind=METAL, weight_mg=3_900)
    work_cancelled = prod_ev.WorkOrdersCancelledEvent(order_id="order-1", returned=[back])
    if first == "order_cancelled":
        await deliver(ORDER_CANCELLED.subject, order_cancelled)
        assert await state() == inv.RESERVATION_STATE_COMMITTED  # the metal is still on the shop floor
        await deliver(WORK_ORDERS_CANCELLED.subject, work_cancelled)
    else:
        await deliver(WORK_ORDERS_CANCELLED.subject, work_cancelled)
        await deliver(ORDER_CANCELLED.subject, order_cancelled)
    assert await state() == inv.RESERVATION_STATE_RELEASED

    entries = (
        await stub.ListCustodyEntries(
            inv.ListCustodyEntriesRequest(reference="orders/order-1"), metadata=SVC, timeout=T
        )
    ).entries
    assert sum(e.weight_mg for e in entries if e.kind == inv.CUSTODY_KIND_RETURN) == 3_900
    lots = (await stub.ListLots(inv.ListLotsRequest(), metadata=SVC, timeout=T)).lots
    assert [(x.on_hand_mg, x.reserved_mg) for x in lots] == [(9_900, 0)]  # 100 mg lost in casting
