"""ShipOrder (use case on the fakes): staff only, from READY_TO_SHIP, once."""

from __future__ import annotations

import pytest

from mes_kernel.errors import FailedPrecondition, PermissionDenied
from mes_kernel.principal import Principal
from services.orders.domain.events import OrderStatusChanged
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.commands import ShipOrder
from tests.unit.orders.harness import SERVICE, STAFF, Orders, acting_for, partner

S = OrderStatus


@pytest.mark.parametrize("caller", [partner("acme"), acting_for("acme")], ids=["partner", "facade-for-partner"])
async def test_partners_may_not_ship(caller: Principal) -> None:
    service = Orders()
    await service.seed("acme")
    order = await service.bring_to(await service.submit(partner("acme")), S.READY_TO_SHIP)
    with pytest.raises(PermissionDenied) as raised:
        await service.orders.ship(ShipOrder(caller, order.name, "1Z999"))
    assert raised.value.reason == "PERMISSION_DENIED"
    assert (await service.stored(order)).status is S.READY_TO_SHIP


@pytest.mark.parametrize("caller", [STAFF, SERVICE], ids=["operator", "service"])
async def test_staff_ship_a_ready_order_once(caller: Principal) -> None:
    service = Orders()
    await service.seed("acme")
    order = await service.bring_to(await service.submit(partner("acme")), S.READY_TO_SHIP)
    before = len(service.uows.events)

    shipped = await service.orders.ship(ShipOrder(caller, order.name, "1Z999"))

    assert (shipped.status, shipped.tracking_reference, shipped.version) == (S.SHIPPED, "1Z999", order.version + 1)
    change = (await service.history(order))[-1]
    assert (change.reason, change.cause) == ("tracking 1Z999", caller.label)
    assert service.uows.events[before:] == [OrderStatusChanged(order.order_id, "acme", order.priority, change)]
    assert await service.orders.ship(ShipOrder(caller, order.name, "1Z999")) == shipped
    assert len(service.uows.events) == before + 1


async def test_an_order_not_ready_cannot_ship() -> None:
    service = Orders()
    await service.seed("acme")
    order = await service.bring_to(await service.submit(partner("acme")), S.IN_PRODUCTION)
    with pytest.raises(FailedPrecondition) as raised:
        await service.orders.ship(ShipOrder(STAFF, order.name))
    assert raised.value.reason == "INVALID_STATE_TRANSITION"
    assert (await service.stored(order)).status is S.IN_PRODUCTION
