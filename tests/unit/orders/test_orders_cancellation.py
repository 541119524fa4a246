"""CancelOrder (use case on the fakes): from each allowed status, with its events; a cancelled
order comes back unchanged; another partner's order answers NOT_FOUND like a missing one."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, InvalidArgument, NotFound
from services.orders.domain.events import OrderCancelled, OrderStatusChanged
from services.orders.domain.status import CANCELLABLE, OrderStatus
from services.orders.service_layer.commands import CancelOrder
from tests.unit.orders.harness import STAFF, Orders, partner

S = OrderStatus


@pytest.mark.parametrize("status", sorted(CANCELLABLE))
async def test_cancel_from_each_allowed_status_emits_both_events(status: OrderStatus) -> None:
    service = Orders()
    await service.seed("acme")
    order = await service.bring_to(await service.submit(partner("acme")), status)
    before = len(service.uows.events)
    service.clock.tick(60)

    cancelled = await service.orders.cancel(CancelOrder(partner("acme"), order.name, "customer withdrew"))

    assert (cancelled.status, cancelled.status_reason, cancelled.version) == (
        S.CANCELLED,
        "customer withdrew",
        order.version + 1,
    )
    assert await service.stored(order) == cancelled
    change = (await service.history(order))[-1]
    assert (change.from_status, change.to_status, change.cause, change.change_time) == (
        status,
        S.CANCELLED,
        "partner:acme",
        service.clock.now,
    )
    assert service.uows.events[before:] == [
        OrderStatusChanged(order.order_id, "acme", order.priority, change),
        OrderCancelled(order.order_id, "acme", status, "customer withdrew"),
    ]


@pytest.mark.parametrize("status", [S.READY_TO_SHIP, S.SHIPPED, S.REJECTED])
async def test_cancel_is_refused_once_production_is_over(status: OrderStatus) -> None:
    service = Orders()
    await service.seed("acme")
    order = await service.bring_to(await service.submit(partner("acme")), status)
    before = len(service.uows.events)
    with pytest.raises(FailedPrecondition) as raised:
        await service.orders.cancel(CancelOrder(STAFF, order.name))
    assert raised.value.reason == "INVALID_STATE_TRANSITION"
    assert await service.stored(order) == order
    assert len(service.uows.events) == before


async def test_a_cancelled_order_comes_back_unchanged() -> None:
    service = Orders()
    await service.seed("acme")
    order = await service.submit(partner("acme"))
    cancelled = await service.orders.cancel(CancelOrder(STAFF, order.name))
    assert cancelled.status_reason == "cancelled by the manufacturer"
    emitted = list(service.uows.events)
    service.clock.tick()
    again = await service.orders.cancel(CancelOrder(partner("acme"), order.name, "once more"))
    assert again == cancelled
    assert service.uows.events == emitted


async def test_another_partners_order_answers_like_a_missing_one() -> None:
    service = Orders()
    await service.seed("acme", "globex")
    order = await service.submit(partner("acme"))
    errors = []
    for name in (order.name, "orders/00000000-0000-7000-8000-000000000001"):
        with pytest.raises(NotFound) as raised:
            await service.orders.cancel(CancelOrder(partner("globex"), name))
        errors.append((raised.value.message, raised.value.reason, raised.value.metadata))
    assert errors[0] == errors[1] == ("order not found", "NOT_FOUND", {})
    assert (await service.stored(order)).status is S.SUBMITTED


async def test_bad_cancel_requests_are_invalid() -> None:
    service = Orders()
    with pytest.raises(InvalidArgument) as raised:
        await service.orders.cancel(CancelOrder(STAFF, "orders/o-1", "x" * 501, " r "))
    assert [v.field for v in raised.value.violations] == ["reason", "request_id"]
    with pytest.raises(InvalidArgument) as raised:
        await service.orders.cancel(CancelOrder(STAFF, "acme"))
    assert [v.field for v in raised.value.violations] == ["name"]


async def test_the_default_reason_speaks_to_partners() -> None:
    """A cancellation without a reason says who cancelled in the partner's terms, never a principal kind."""
    reasons = []
    for principal in (partner("acme"), STAFF):
        service = Orders()
        await service.seed("acme")
        order = await service.submit(partner("acme"))
        reasons.append((await service.orders.cancel(CancelOrder(principal, order.name))).status_reason)
    assert reasons == ["cancelled by the partner", "cancelled by the manufacturer"]
