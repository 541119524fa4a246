"""The order saga end to end: three services, a real nats-server, SQLite and PostgreSQL."""

from __future__ import annotations

import time

import grpc
import pytest

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as inv_ev
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts.events import RESERVATION_HELD, WORK_ORDER_COMPLETED, WORK_ORDERS_RELEASED
from tests.integration.saga.saga_stack import ALLOY, RING_MG, STYLE, SVC, SagaStack, T, eventually

OS = ords.OrderStatus
OP = prod.OperationStatus
RS = inv.ReservationState
STYLE_KEY = (ords.CATALOGUE_ITEM_KIND_STYLE, STYLE)
ALLOY_KEY = (ords.CATALOGUE_ITEM_KIND_ALLOY, ALLOY)


def statuses(history: list[ords.OrderStatusChange]) -> list[str]:
    return [OS.Name(change.to_status).removeprefix("ORDER_STATUS_") for change in history]


async def test_catalogue_events_keep_the_copy_of_orders_current(stack: SagaStack) -> None:
    await stack.seed()
    items = await stack.catalogue()
    assert items[STYLE_KEY].display_name == "Saga ring"
    assert items[ALLOY_KEY].display_name == "18k yellow"
    first = items[STYLE_KEY].source_version

    await stack.upsert_style(display_name="Saga ring v2")

    async def renamed() -> bool:
        item = (await stack.catalogue())[STYLE_KEY]
        return item.display_name == "Saga ring v2" and item.source_version > first

    await eventually(renamed, what="the renamed style in the orders catalogue")

    # An inactive style reaches orders too, and intake then refuses it without asking production.
    await stack.upsert_style(active=False)
    await eventually(lambda: stack.catalogue_has({(*STYLE_KEY, False)}), what="the style deactivated")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.submit()
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not in the catalogue" in (refused.value.details() or "")


async def test_an_order_runs_from_submission_to_shipment(stack: SagaStack) -> None:
    await stack.seed(metal_mg=20_000)
    started = time.monotonic()
    order_id = await stack.submit(quantity=2)
    assert time.monotonic() - started < 2.0  # intake does not wait for the saga

    await stack.wait_status(order_id, OS.ORDER_STATUS_IN_PRODUCTION, timeout=15)

    async def committed() -> inv.Reservation | None:
        [reservation] = await stack.reservations(order_id)
        return reservation if reservation.state == RS.RESERVATION_STATE_COMMITTED else None

    # Orders and inventory each consume work_orders.released: the order may be in production first.
    reservation = await eventually(committed, what="the reservation committed (the metal issued)")
    assert sum(item.weight_mg for item in reservation.items) == 2 * RING_MG
    [work_order] = await stack.work_orders(order_id)
    assert work_order.status == prod.WORK_ORDER_STATUS_RELEASED
    assert [
        op.operation_code for op in await stack.operations([work_order.work_order_id], OP.OPERATION_STATUS_QUEUED)
    ] == ["CASTING"]
    issued = [e for e in await stack.custody(order_id) if e.kind == inv.CUSTODY_KIND_ISSUE]
    assert sum(e.weight_mg for e in issued) == 2 * RING_MG

    # Walk the routing: casting loses 100 mg (within 20 per mille), polishing 200 mg (above
    # 10 per mille: loss review, approved), QC nothing.
    weight = 2 * RING_MG
    for code, loss in (("CASTING", 100), ("POLISHING", 200), ("QC", 0)):
        [op] = await stack.operations([work_order.work_order_id], OP.OPERATION_STATUS_QUEUED)
        assert op.operation_code == code
        await stack.start_op(op, weight)
        done = await stack.finish_op(op, weight - loss)
        if done.status == OP.OPERATION_STATUS_LOSS_REVIEW:
            done = await stack.approve_loss(op)
        assert done.status == OP.OPERATION_STATUS_DONE
        weight -= loss

    order = await stack.wait_status(order_id, OS.ORDER_STATUS_READY_TO_SHIP, timeout=15)
    shipped = await stack.orders.ShipOrder(
        ords.ShipOrderRequest(name=order.name, tracking_reference="TRK-1"), metadata=SVC, timeout=T
    )
    assert shipped.order.status == OS.ORDER_STATUS_SHIPPED
    assert statuses(await stack.history(order_id)) == [
        "SUBMITTED", "ACCEPTED", "IN_PRODUCTION", "READY_TO_SHIP", "SHIPPED",
    ]  # fmt: skip
    # Every transition has its time and cause; the saga's causes are the events of the other services.
    history = await stack.history(order_id)
    assert all(change.cause and change.change_time.seconds for change in history)
    held = await stack.outbox("inventory", RESERVATION_HELD.subject, inv_ev.ReservationHeldEvent)
    released = await stack.outbox("production", WORK_ORDERS_RELEASED.subject, prod_ev.WorkOrdersReleasedEvent)
    completed = await stack.outbox("production", WORK_ORDER_COMPLETED.subject, prod_ev.WorkOrderCompletedEvent)
    assert [c.cause for c in history[1:4]] == [
        next(e.meta.event_id for e in held if e.order_id == order_id),
        next(e.meta.event_id for e in released if e.order_id == order_id),
        next(e.meta.event_id for e in completed if e.work_order.order_id == order_id and e.order_completed),
    ]

    async def losses() -> list[int]:
        entries = await stack.custody(order_id)
        found = sorted(e.weight_mg for e in entries if e.kind == inv.CUSTODY_KIND_LOSS)
        return found if len(found) == 2 else []

    assert await eventually(losses, what="custody LOSS entries") == [100, 200]

    async def consumed() -> bool:
        [r] = await stack.reservations(order_id)
        return r.state == RS.RESERVATION_STATE_CONSUMED

    await eventually(consumed, what="the reservation consumed")


async def test_a_short_order_waits_on_hold_and_held_orders_are_served_by_priority(stack: SagaStack) -> None:
    await stack.seed(metal_mg=RING_MG - 1)
    normal_1 = await stack.submit()
    await stack.wait_status(normal_1, OS.ORDER_STATUS_ON_HOLD)
    rush = await stack.submit(priority=common_pb2.PRIORITY_RUSH)
    normal_2 = await stack.submit()
    for order_id in (rush, normal_2):
        order = await stack.wait_status(order_id, OS.ORDER_STATUS_ON_HOLD)
        assert "insufficient stock" in order.status_reason and ALLOY in order.status_reason
    shortages = await stack.shortages()
    assert {s.order_id for s in shortages} == {normal_1, rush, normal_2}
    assert all(s.material_code == ALLOY and s.required_mg == RING_MG for s in shortages)

    # Each lot covers one more order: the rush order first, then the normal ones by submit time.
    expected = [rush, normal_1, normal_2]
    for i, served in enumerate(expected):
        await stack.receive(RING_MG)
        await stack.wait_status(served, OS.ORDER_STATUS_IN_PRODUCTION)
        for later in expected[i + 1 :]:
            assert (await stack.order(later)).status == OS.ORDER_STATUS_ON_HOLD
    assert statuses(await stack.history(normal_1)) == ["SUBMITTED", "ON_HOLD", "ACCEPTED", "IN_PRODUCTION"]
    assert await stack.shortages() == []


@pytest.mark.parametrize("stage", ["accepted", "in_production"])
async def test_cancel_releases_the_reservation_and_returns_the_metal(stack: SagaStack, stage: str) -> None:
    await stack.seed(metal_mg=3 * RING_MG)
    order_id = await stack.submit()
    if stage == "accepted":
        # Production does not see the reservation: the order gets ACCEPTED and stays there.
        for app in stack.production_apps:
            assert app.messaging is not None
            await app.messaging.consumer("production-inventory-events").stop()
        await stack.wait_status(order_id, OS.ORDER_STATUS_ACCEPTED)
    else:
        await stack.wait_status(order_id, OS.ORDER_STATUS_IN_PRODUCTION)
        [work_order] = await stack.work_orders(order_id)
        [casting] = await stack.operations([work_order.work_order_id], OP.OPERATION_STATUS_QUEUED)
        await stack.start_op(casting, RING_MG)  # the metal is on the bench when the order is cancelled

        async def issued() -> bool:  # inventory applies the release on its own consumer, maybe later
            return [r.state for r in await stack.reservations(order_id)] == [RS.RESERVATION_STATE_COMMITTED]

        await eventually(issued, what="the reservation committed (the metal issued)")

    cancelled = await stack.orders.CancelOrder(
        ords.CancelOrderRequest(name=f"orders/{order_id}", reason="customer changed their mind"),
        metadata=SVC,
        timeout=T,
    )
    assert cancelled.order.status == OS.ORDER_STATUS_CANCELLED

    async def released() -> list[inv.Reservation]:
        found = await stack.reservations(order_id)
        return found if found and all(r.state == RS.RESERVATION_STATE_RELEASED for r in found) else []

    await eventually(released, what="the reservation released")

    async def stock_back() -> bool:
        lots = await stack.lots()
        on_hand = sum(lot.on_hand_mg for lot in lots)
        return sum(lot.reserved_mg for lot in lots) == 0 and on_hand == 3 * RING_MG

    await eventually(stock_back, what="every mg back in stock")
    if stage == "in_production":
        returned = [e for e in await stack.custody(reference=f"orders/{order_id}") if e.kind == inv.CUSTODY_KIND_RETURN]
        assert sum(e.weight_mg for e in returned) == RING_MG

        async def work_cancelled() -> bool:
            return all(wo.status == prod.WORK_ORDER_STATUS_CANCELLED for wo in await stack.work_orders(order_id))

        await eventually(work_cancelled, what="the work orders cancelled")
    assert (await stack.order(order_id)).status == OS.ORDER_STATUS_CANCELLED
