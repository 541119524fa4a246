"""Intake and reads through gRPC: submit, get, batch get, list pages, counts, history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_SUBMITTED
from services.orders.adapters.tables import infra, order_lines, order_status_changes
from services.orders.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.orders._support import (
    SQLITE_ONLY,
    STAFF,
    T,
    count_rows,
    for_partner,
    line,
    outbox_subjects,
    submit_request,
    with_key,
)


async def test_submit_writes_order_lines_history_and_event(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    request = submit_request(lines=[line(quantity=2, size="52", engraving="Forever"), line("PND-HRT-002", "AG925")])
    reply = await stub.SubmitOrder(request, metadata=with_key(partner_keys["acme"]), timeout=T)

    order = reply.order
    assert not reply.replayed
    assert order.name == f"orders/{order.order_id}"
    assert order.partner == "partners/acme"
    assert order.status == orders_pb2.ORDER_STATUS_SUBMITTED
    assert order.priority == 2  # unspecified -> NORMAL
    assert order.version == 1
    assert [(ln.line_number, ln.style_code, ln.quantity) for ln in order.lines] == [
        (1, "RNG-SOL-001", 2),
        (2, "PND-HRT-002", 1),
    ]
    assert order.lines[0].engraving == "Forever"
    assert not order.late
    assert await count_rows(app, order_lines) == 2
    assert await count_rows(app, order_status_changes) == 1
    assert await outbox_subjects(app) == [ORDER_SUBMITTED.subject]
    async with app.db.write() as session:
        payload = (await session.execute(infra.outbox.select())).one().payload
    event = orders_events_pb2.OrderSubmittedEvent.FromString(payload)
    assert event.order.order_id == order.order_id
    assert event.meta.producer == "orders" and event.meta.event_id

    got = await stub.GetOrder(orders_pb2.GetOrderRequest(name=order.name), metadata=STAFF, timeout=T)
    assert got.order == order


async def test_staff_submits_for_a_partner_given_as_parent(stub: Any, partner_keys: dict[str, str]) -> None:
    reply = await stub.SubmitOrder(submit_request(parent="partners/globex"), metadata=STAFF, timeout=T)
    assert reply.order.partner == "partners/globex"

    missing_parent = await fails(stub.SubmitOrder(submit_request("other"), metadata=STAFF, timeout=T))
    assert missing_parent.code == grpc.StatusCode.INVALID_ARGUMENT
    assert missing_parent.fields == ["parent"]

    unknown = await fails(stub.SubmitOrder(submit_request(parent="partners/nobody"), metadata=STAFF, timeout=T))
    assert unknown.code == grpc.StatusCode.NOT_FOUND


@SQLITE_ONLY
async def test_service_acting_for_unknown_partner_is_not_found(stub: Any, partner_keys: dict[str, str]) -> None:
    failure = await fails(stub.SubmitOrder(submit_request(), metadata=for_partner("ghost"), timeout=T))
    assert failure.code == grpc.StatusCode.NOT_FOUND


async def test_list_pages_newest_first_with_tokens_bound_to_filter(stub: Any, partner_keys: dict[str, str]) -> None:
    acme = for_partner("acme")
    submitted = []
    for i in range(7):
        reply = await stub.SubmitOrder(submit_request(f"req-{i}", reference=f"PO-{i}"), metadata=acme, timeout=T)
        submitted.append(reply.order)
    await stub.SubmitOrder(submit_request("g", parent="partners/globex"), metadata=STAFF, timeout=T)
    expected = sorted(submitted, key=lambda o: (o.create_time.ToDatetime(), o.order_id), reverse=True)

    seen: list[orders_pb2.Order] = []
    token = ""
    pages = 0
    while True:
        page = await stub.ListOrders(
            orders_pb2.ListOrdersRequest(parent="partners/acme", page_size=3, page_token=token),
            metadata=STAFF,
            timeout=T,
        )
        seen.extend(page.orders)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert [o.order_id for o in seen] == [o.order_id for o in expected]

    first = await stub.ListOrders(orders_pb2.ListOrdersRequest(page_size=2), metadata=acme, timeout=T)
    assert first.next_page_token
    assert all(o.partner == "partners/acme" for o in first.orders)
    other_filter = orders_pb2.ListOrdersRequest(
        page_size=2, page_token=first.next_page_token, statuses=[orders_pb2.ORDER_STATUS_SUBMITTED]
    )
    failure = await fails(stub.ListOrders(other_filter, metadata=acme, timeout=T))
    assert (failure.code, failure.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
    other_tenant = orders_pb2.ListOrdersRequest(page_size=2, page_token=first.next_page_token)
    failure = await fails(stub.ListOrders(other_tenant, metadata=for_partner("globex"), timeout=T))
    assert (failure.code, failure.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
    tampered = orders_pb2.ListOrdersRequest(page_size=2, page_token=first.next_page_token[:-2] + "xx")
    assert (await fails(stub.ListOrders(tampered, metadata=acme, timeout=T))).code == grpc.StatusCode.INVALID_ARGUMENT

    everything = await stub.ListOrders(orders_pb2.ListOrdersRequest(page_size=500), metadata=STAFF, timeout=T)
    assert len(everything.orders) == 8 and not everything.next_page_token
    negative = await fails(stub.ListOrders(orders_pb2.ListOrdersRequest(page_size=-1), metadata=STAFF, timeout=T))
    assert negative.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_status_filter_late_only_and_counts(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    acme = for_partner("acme")
    late = (await stub.SubmitOrder(submit_request("late", due_in=timedelta(hours=-1)), metadata=acme, timeout=T)).order
    cancelled = (
        await stub.SubmitOrder(submit_request("c", due_in=timedelta(hours=-1)), metadata=acme, timeout=T)
    ).order
    await stub.CancelOrder(orders_pb2.CancelOrderRequest(name=cancelled.name), metadata=acme, timeout=T)
    await stub.SubmitOrder(submit_request("ok"), metadata=acme, timeout=T)
    await stub.SubmitOrder(submit_request("g", parent="partners/globex"), metadata=STAFF, timeout=T)
    assert late.late

    late_page = await stub.ListOrders(orders_pb2.ListOrdersRequest(late_only=True), metadata=acme, timeout=T)
    assert [o.order_id for o in late_page.orders] == [late.order_id]
    by_status = await stub.ListOrders(
        orders_pb2.ListOrdersRequest(statuses=[orders_pb2.ORDER_STATUS_CANCELLED]), metadata=acme, timeout=T
    )
    assert [o.order_id for o in by_status.orders] == [cancelled.order_id]
    bad = orders_pb2.ListOrdersRequest(statuses=[orders_pb2.ORDER_STATUS_UNSPECIFIED])
    assert (await fails(stub.ListOrders(bad, metadata=acme, timeout=T))).fields == ["statuses[0]"]

    counts = await stub.CountOrders(orders_pb2.CountOrdersRequest(), metadata=acme, timeout=T)
    per_status = {c.status: c.count for c in counts.counts}
    assert per_status[orders_pb2.ORDER_STATUS_SUBMITTED] == 2
    assert per_status[orders_pb2.ORDER_STATUS_CANCELLED] == 1
    assert counts.late_count == 1
    everyone = await stub.CountOrders(orders_pb2.CountOrdersRequest(), metadata=STAFF, timeout=T)
    assert sum(c.count for c in everyone.counts) == 4
    one = await stub.CountOrders(orders_pb2.CountOrdersRequest(parent="partners/globex"), metadata=STAFF, timeout=T)
    assert sum(c.count for c in one.counts) == 1


async def test_batch_get_keeps_request_order_and_reports_missing(stub: Any, partner_keys: dict[str, str]) -> None:
    acme = for_partner("acme")
    a = (await stub.SubmitOrder(submit_request("a"), metadata=acme, timeout=T)).order
    b = (await stub.SubmitOrder(submit_request("b"), metadata=acme, timeout=T)).order
    missing = "orders/00000000-0000-7000-8000-000000000000"

    reply = await stub.BatchGetOrders(
        orders_pb2.BatchGetOrdersRequest(names=[b.name, a.name, b.name]), metadata=acme, timeout=T
    )
    assert [o.order_id for o in reply.orders] == [b.order_id, a.order_id, b.order_id]

    failure = await fails(
        stub.BatchGetOrders(orders_pb2.BatchGetOrdersRequest(names=[a.name, missing]), metadata=acme, timeout=T)
    )
    assert failure.code == grpc.StatusCode.NOT_FOUND
    tolerant = await stub.BatchGetOrders(
        orders_pb2.BatchGetOrdersRequest(names=[missing, a.name], allow_missing=True), metadata=acme, timeout=T
    )
    assert [o.order_id for o in tolerant.orders] == [a.order_id]
    assert list(tolerant.missing_names) == [missing]

    too_many = orders_pb2.BatchGetOrdersRequest(names=[a.name] * 1001)
    assert (
        await fails(stub.BatchGetOrders(too_many, metadata=acme, timeout=T))
    ).code == grpc.StatusCode.INVALID_ARGUMENT
    malformed = orders_pb2.BatchGetOrdersRequest(names=[a.name, "order/x"])
    failure = await fails(stub.BatchGetOrders(malformed, metadata=acme, timeout=T))
    assert (failure.code, failure.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["names[1]"])


async def test_status_history_pages_oldest_first(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    order = (await stub.SubmitOrder(submit_request(), metadata=for_partner("acme"), timeout=T)).order
    await app.handles.event_handlers.on_order_completed(order.order_id, "evt-done")

    statuses, token = [], ""
    while True:
        page = await stub.ListOrderStatusChanges(
            orders_pb2.ListOrderStatusChangesRequest(parent=order.name, page_size=3, page_token=token),
            metadata=STAFF,
            timeout=T,
        )
        statuses += [(c.from_status, c.to_status) for c in page.status_changes]
        token = page.next_page_token
        if not token:
            break
    s = orders_pb2
    assert statuses == [
        (s.ORDER_STATUS_UNSPECIFIED, s.ORDER_STATUS_SUBMITTED),
        (s.ORDER_STATUS_SUBMITTED, s.ORDER_STATUS_ACCEPTED),
        (s.ORDER_STATUS_ACCEPTED, s.ORDER_STATUS_IN_PRODUCTION),
        (s.ORDER_STATUS_IN_PRODUCTION, s.ORDER_STATUS_READY_TO_SHIP),
    ]
    current = await stub.GetOrder(orders_pb2.GetOrderRequest(name=order.name), metadata=STAFF, timeout=T)
    assert current.order.version == 4


async def test_catalogue_copy_is_listed_by_kind(stub: Any) -> None:
    styles = await stub.ListCatalogueItems(
        orders_pb2.ListCatalogueItemsRequest(kind=orders_pb2.CATALOGUE_ITEM_KIND_STYLE), metadata=STAFF, timeout=T
    )
    assert [i.code for i in styles.items] == ["PND-HRT-002", "RNG-SOL-001"]
    first = await stub.ListCatalogueItems(orders_pb2.ListCatalogueItemsRequest(page_size=3), metadata=STAFF, timeout=T)
    rest = await stub.ListCatalogueItems(
        orders_pb2.ListCatalogueItemsRequest(page_size=3, page_token=first.next_page_token), metadata=STAFF, timeout=T
    )
    assert len(first.items) == 3 and len(rest.items) == 1 and not rest.next_page_token
