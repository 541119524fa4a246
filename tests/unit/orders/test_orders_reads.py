"""Reads (use cases on the fakes): pages with tokens bound to the tenant and the filter,
batch gets in the order asked, counts, and the status history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mes_kernel.errors import InvalidArgument, NotFound
from mes_kernel.paging import PageRequest, PageTokens
from services.orders.domain.order import Order
from services.orders.domain.status import OrderStatus
from services.orders.service_layer import commands as c
from tests.unit.orders.harness import STAFF, Orders, acting_for, partner

S = OrderStatus


async def seven_orders(service: Orders) -> list[Order]:
    await service.seed("acme", "globex")
    orders = []
    for i in range(7):
        service.clock.tick()
        orders.append(await service.submit(partner("acme"), f"r-{i}"))
    await service.submit(partner("globex"), "g")
    return orders


async def test_lists_page_newest_first() -> None:
    service = Orders()
    orders = await seven_orders(service)
    seen, token, pages = [], "", 0
    while True:
        page = await service.orders.list_orders(c.ListOrders(STAFF, "partners/acme", PageRequest(3, token)))
        seen += page.items
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert [o.order_id for o in seen] == [o.order_id for o in reversed(orders)]
    everything = await service.orders.list_orders(c.ListOrders(STAFF, page=PageRequest(500)))
    assert len(everything.items) == 8 and not everything.next_page_token


async def test_page_tokens_are_bound_to_the_tenant_and_the_filter() -> None:
    service = Orders()
    await seven_orders(service)
    first = await service.orders.list_orders(c.ListOrders(acting_for("acme"), page=PageRequest(2)))
    token = first.next_page_token
    for query in (
        c.ListOrders(acting_for("acme"), page=PageRequest(2, token), statuses=(S.SUBMITTED,)),
        c.ListOrders(acting_for("globex"), page=PageRequest(2, token)),
        c.ListOrders(acting_for("acme"), page=PageRequest(2, token[:-2] + "xx")),
    ):
        with pytest.raises(InvalidArgument) as raised:
            await service.orders.list_orders(query)
        assert raised.value.reason == "INVALID_PAGE_TOKEN"
    with pytest.raises(InvalidArgument):
        await service.orders.list_orders(c.ListOrders(STAFF, page=PageRequest(-1)))


async def test_page_tokens_keep_their_format() -> None:
    """A token is the sort key of the last row, bound to (scope, filter) as before: tokens
    issued earlier stay valid."""
    service = Orders()
    orders = await seven_orders(service)
    last = orders[3]
    token = PageTokens(b"unit-test-secret").encode(
        [last.create_time.isoformat(), last.order_id],
        scope="acme",
        filters={"parent": "acme", "statuses": [], "late_only": False},
    )
    page = await service.orders.list_orders(c.ListOrders(partner("acme"), page=PageRequest(10, token)))
    assert [o.order_id for o in page.items] == [o.order_id for o in reversed(orders[:3])]


async def test_filters_counts_and_lateness() -> None:
    service = Orders()
    await service.seed("acme", "globex")
    late = await service.submit(partner("acme"), "late", due_time=service.clock.now + timedelta(hours=1))
    cancelled = await service.submit(partner("acme"), "c", due_time=service.clock.now + timedelta(hours=1))
    await service.orders.cancel(c.CancelOrder(partner("acme"), cancelled.name))
    await service.submit(partner("acme"), "ok")
    await service.submit(partner("globex"), "g")
    service.clock.tick(2 * 3600)

    late_page = await service.orders.list_orders(c.ListOrders(partner("acme"), late_only=True))
    assert [o.order_id for o in late_page.items] == [late.order_id]
    by_status = await service.orders.list_orders(c.ListOrders(partner("acme"), statuses=(S.CANCELLED,)))
    assert [o.order_id for o in by_status.items] == [cancelled.order_id]
    counts, late_count = await service.orders.count(c.CountOrders(partner("acme")))
    assert (counts[S.SUBMITTED], counts[S.CANCELLED], counts[S.SHIPPED], late_count) == (2, 1, 0, 1)
    assert set(counts) == set(S)
    assert sum((await service.orders.count(c.CountOrders(STAFF)))[0].values()) == 4
    assert sum((await service.orders.count(c.CountOrders(STAFF, "partners/globex")))[0].values()) == 1
    with pytest.raises(NotFound):
        await service.orders.count(c.CountOrders(partner("globex"), "partners/acme"))


async def test_batch_get_keeps_the_order_asked_and_hides_other_partners() -> None:
    service = Orders()
    await service.seed("acme", "globex")
    a = await service.submit(partner("acme"), "a")
    b = await service.submit(partner("acme"), "b")
    foreign = await service.submit(partner("globex"), "g")
    missing = "orders/00000000-0000-7000-8000-000000000000"

    found, absent = await service.orders.batch_get(c.BatchGetOrders(partner("acme"), (b.name, a.name, b.name)))
    assert ([o.order_id for o in found], absent) == ([b.order_id, a.order_id, b.order_id], [])
    found, absent = await service.orders.batch_get(
        c.BatchGetOrders(partner("acme"), (foreign.name, missing, a.name), allow_missing=True)
    )
    assert ([o.order_id for o in found], absent) == ([a.order_id], [foreign.name, missing])
    for name in (foreign.name, missing):
        with pytest.raises(NotFound) as raised:
            await service.orders.batch_get(c.BatchGetOrders(partner("acme"), (a.name, name)))
        assert (raised.value.message, raised.value.metadata) == ("order not found", {})
    with pytest.raises(InvalidArgument) as raised:
        await service.orders.batch_get(c.BatchGetOrders(partner("acme"), (a.name,) * 1001))
    assert [v.field for v in raised.value.violations] == ["names"]
    with pytest.raises(InvalidArgument) as raised:
        await service.orders.batch_get(c.BatchGetOrders(partner("acme"), (a.name, "order/x")))
    assert [v.field for v in raised.value.violations] == ["names[1]"]


async def test_get_and_history_of_an_order() -> None:
    service = Orders()
    await service.seed("acme", "globex")
    order = await service.bring_to(await service.submit(partner("acme")), S.READY_TO_SHIP)
    assert await service.orders.get(c.GetOrder(partner("acme"), order.name)) == order
    with pytest.raises(NotFound):
        await service.orders.get(c.GetOrder(partner("globex"), order.name))
    statuses, token = [], ""
    while True:
        page = await service.orders.status_changes(c.ListOrderStatusChanges(STAFF, order.name, PageRequest(3, token)))
        statuses += [(c.from_status, c.to_status) for c in page.items]
        token = page.next_page_token
        if not token:
            break
    assert statuses == [
        (None, S.SUBMITTED),
        (S.SUBMITTED, S.ACCEPTED),
        (S.ACCEPTED, S.IN_PRODUCTION),
        (S.IN_PRODUCTION, S.READY_TO_SHIP),
    ]
    with pytest.raises(NotFound):
        await service.orders.status_changes(c.ListOrderStatusChanges(partner("globex"), order.name))
