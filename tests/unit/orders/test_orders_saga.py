"""The saga transitions the event handlers apply (on the fakes): each event's move, the events
emitted with the handled event as their cause, and redelivered or late events changing nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from mes_kernel.errors import InvalidArgument
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.domain.events import OrderStatusChanged
from services.orders.domain.order import Order, StatusChange
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.event_handlers import OrderEventHandlers
from tests.unit.orders.harness import Orders, partner

S = OrderStatus
Event = Callable[[OrderEventHandlers, str], Awaitable[list[StatusChange]]]


async def held(h: OrderEventHandlers, order_id: str) -> list[StatusChange]:
    return await h.on_reservation_held(order_id, "evt-held")


async def short(h: OrderEventHandlers, order_id: str) -> list[StatusChange]:
    return await h.on_reservation_failed(order_id, "short of AU750Y: 3 g", "evt-short")


async def released(h: OrderEventHandlers, order_id: str) -> list[StatusChange]:
    return await h.on_work_orders_released(order_id, "evt-released")


async def completed(h: OrderEventHandlers, order_id: str) -> list[StatusChange]:
    return await h.on_order_completed(order_id, "evt-done")


async def no_bill(h: OrderEventHandlers, order_id: str) -> list[StatusChange]:
    return await h.on_requirements_failed(order_id, "bill of materials: none", "evt-bill")


HELD, SHORT, RELEASED, COMPLETED, NO_BILL = held, short, released, completed, no_bill


async def submitted() -> tuple[Orders, Order]:
    service = Orders()
    await service.seed("acme")
    return service, await service.submit(partner("acme"))


@pytest.mark.parametrize(
    ("start", "event", "cause", "path", "reason"),
    [
        (S.SUBMITTED, HELD, "evt-held", [S.ACCEPTED], "materials reserved"),
        (S.ON_HOLD, HELD, "evt-held", [S.ACCEPTED], "materials reserved"),
        (S.SUBMITTED, SHORT, "evt-short", [S.ON_HOLD], "short of AU750Y: 3 g"),
        (S.ACCEPTED, RELEASED, "evt-released", [S.IN_PRODUCTION], "work orders released"),
        (S.SUBMITTED, RELEASED, "evt-released", [S.ACCEPTED, S.IN_PRODUCTION], "work orders released"),
        (S.IN_PRODUCTION, COMPLETED, "evt-done", [S.READY_TO_SHIP], "all work orders completed"),
        (S.ON_HOLD, COMPLETED, "evt-done", [S.ACCEPTED, S.IN_PRODUCTION, S.READY_TO_SHIP], "all work orders completed"),
        (S.SUBMITTED, NO_BILL, "evt-bill", [S.REJECTED], "bill of materials: none"),
    ],
)
async def test_each_event_moves_the_order_and_emits_its_changes(
    start: OrderStatus, event: Event, cause: str, path: list[OrderStatus], reason: str
) -> None:
    service, order = await submitted()
    order = await service.bring_to(order, start)
    before = len(service.uows.events)

    changes = await event(service.handlers, order.order_id)

    assert [c.to_status for c in changes] == path
    assert [c.version for c in changes] == list(range(order.version + 1, order.version + 1 + len(path)))
    assert changes[-1].reason == reason and {c.cause for c in changes} == {cause}
    stored = await service.stored(order)
    assert (stored.status, stored.version) == (path[-1], changes[-1].version)
    assert stored.status_reason == (reason if path[-1] in (S.ON_HOLD, S.REJECTED) else "")
    assert (await service.history(order))[-len(path) :] == changes
    assert service.uows.events[before:] == [
        OrderStatusChanged(order.order_id, "acme", order.priority, c) for c in changes
    ]
    assert {e.causation_id for e in service.uows.state.outbox[before:]} == {cause}


@pytest.mark.parametrize(
    ("start", "event"),
    [
        (S.ACCEPTED, HELD),  # redelivered
        (S.ON_HOLD, SHORT),  # redelivered
        (S.IN_PRODUCTION, RELEASED),  # redelivered
        (S.READY_TO_SHIP, COMPLETED),  # redelivered
        (S.REJECTED, NO_BILL),  # redelivered
        (S.ACCEPTED, SHORT),  # a stale failure of an earlier attempt
        (S.IN_PRODUCTION, HELD),  # late
        (S.ACCEPTED, NO_BILL),  # late
        (S.CANCELLED, RELEASED),
        (S.CANCELLED, COMPLETED),
        (S.REJECTED, HELD),
        (S.SHIPPED, COMPLETED),
    ],
)
async def test_a_redelivered_or_late_event_changes_nothing(start: OrderStatus, event: Event) -> None:
    service, order = await submitted()
    order = await service.bring_to(order, start)
    emitted = list(service.uows.events)
    assert await event(service.handlers, order.order_id) == []
    assert await service.stored(order) == order
    assert service.uows.events == emitted


async def test_an_event_for_an_unknown_order_is_ignored() -> None:
    service, _ = await submitted()
    assert await HELD(service.handlers, "00000000-0000-7000-8000-000000000000") == []
    assert len(service.uows.events) == 1


async def test_borrowed_units_of_work_commit_with_the_consumers_transaction_only() -> None:
    service, order = await submitted()
    with pytest.raises(RuntimeError):
        async with service.uows.write() as transaction:
            borrowed = service.uows.borrow(transaction, causation_id="evt-held")
            assert await service.handlers.on_reservation_held(order.order_id, "evt-held", uows=borrowed)
            raise RuntimeError("the consumer fails before its commit")
    assert (await service.stored(order)).status is S.SUBMITTED and len(service.uows.events) == 1

    async with service.uows.write() as transaction:
        borrowed = service.uows.borrow(transaction, causation_id="evt-held")
        await service.handlers.on_reservation_held(order.order_id, "evt-held", uows=borrowed)
    assert (await service.stored(order)).status is S.ACCEPTED
    assert [e.causation_id for e in service.uows.state.outbox] == ["", "evt-held"]


async def test_the_catalogue_copy_only_moves_forward() -> None:
    service = Orders()
    apply = service.handlers.apply_catalogue_item
    assert await apply(CatalogueKind.STYLE, "BRC-001", "Bracelet", True, 3)
    assert not await apply(CatalogueKind.STYLE, "BRC-001", "Bracelet (stale)", False, 2)
    assert not await apply(CatalogueKind.STYLE, "BRC-001", "Bracelet (duplicate)", False, 3)
    assert await apply(CatalogueKind.STYLE, "BRC-001", "B" * 130, False, 4)
    assert service.uows.state.catalogue == {
        ("STYLE", "BRC-001"): CatalogueItem(CatalogueKind.STYLE, "BRC-001", "B" * 120, False, 4)
    }
    with pytest.raises(InvalidArgument) as raised:
        await apply(CatalogueKind.ALLOY, "bad code", "x", True, -1)
    assert [v.field for v in raised.value.violations] == ["code", "source_version"]
