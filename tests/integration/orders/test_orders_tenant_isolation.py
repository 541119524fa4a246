"""A partner never sees another partner's orders: foreign answers exactly like missing."""

from __future__ import annotations

from typing import Any

import grpc

from mes.orders.v1 import orders_pb2
from services.orders.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.orders._support import STAFF, T, for_partner, order_count, submit_request, with_key

MISSING = "orders/00000000-0000-7000-8000-000000000001"


async def test_foreign_order_answers_like_a_missing_one(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    order = (await stub.SubmitOrder(submit_request(), metadata=with_key(partner_keys["acme"]), timeout=T)).order
    globex = with_key(partner_keys["globex"])

    calls = {
        "GetOrder": lambda name: stub.GetOrder(orders_pb2.GetOrderRequest(name=name), metadata=globex, timeout=T),
        "BatchGetOrders": lambda name: stub.BatchGetOrders(
            orders_pb2.BatchGetOrdersRequest(names=[name]), metadata=globex, timeout=T
        ),
        "ListOrderStatusChanges": lambda name: stub.ListOrderStatusChanges(
            orders_pb2.ListOrderStatusChangesRequest(parent=name), metadata=globex, timeout=T
        ),
        "CancelOrder": lambda name: stub.CancelOrder(
            orders_pb2.CancelOrderRequest(name=name), metadata=globex, timeout=T
        ),
    }
    for method, call in calls.items():
        foreign = await fails(call(order.name))
        missing = await fails(call(MISSING))
        assert foreign.code == grpc.StatusCode.NOT_FOUND, method
        assert (foreign.message, foreign.reason, foreign.details) == (missing.message, missing.reason, missing.details)

    tolerant = await stub.BatchGetOrders(
        orders_pb2.BatchGetOrdersRequest(names=[order.name], allow_missing=True), metadata=globex, timeout=T
    )
    assert not tolerant.orders and list(tolerant.missing_names) == [order.name]
    unchanged = await stub.GetOrder(orders_pb2.GetOrderRequest(name=order.name), metadata=STAFF, timeout=T)
    assert unchanged.order.status == orders_pb2.ORDER_STATUS_SUBMITTED


async def test_lists_and_counts_never_show_another_partner(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    for i in range(3):
        await stub.SubmitOrder(submit_request(f"a-{i}"), metadata=for_partner("acme"), timeout=T)
    own = (await stub.SubmitOrder(submit_request("g-1"), metadata=for_partner("globex"), timeout=T)).order
    globex = with_key(partner_keys["globex"])

    listed = await stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=globex, timeout=T)
    assert [o.order_id for o in listed.orders] == [own.order_id]
    counts = await stub.CountOrders(orders_pb2.CountOrdersRequest(), metadata=globex, timeout=T)
    assert sum(c.count for c in counts.counts) == 1

    for request in (
        orders_pb2.ListOrdersRequest(parent="partners/acme"),
        orders_pb2.CountOrdersRequest(parent="partners/acme"),
    ):
        method = stub.ListOrders if isinstance(request, orders_pb2.ListOrdersRequest) else stub.CountOrders
        foreign = await fails(method(request, metadata=globex, timeout=T))
        request.parent = "partners/nobody"
        missing = await fails(method(request, metadata=globex, timeout=T))
        assert foreign.code == grpc.StatusCode.NOT_FOUND
        assert (foreign.message, foreign.details) == (missing.message, missing.details)


async def test_partner_cannot_submit_for_another_partner(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    foreign = await fails(
        stub.SubmitOrder(submit_request(parent="partners/acme"), metadata=with_key(partner_keys["globex"]), timeout=T)
    )
    missing = await fails(
        stub.SubmitOrder(submit_request(parent="partners/nobody"), metadata=with_key(partner_keys["globex"]), timeout=T)
    )
    assert foreign.code == grpc.StatusCode.NOT_FOUND
    assert (foreign.message, foreign.details) == (missing.message, missing.details)
    assert await order_count(app) == 0


async def test_partner_sees_only_its_own_partner_record(stub: Any, partner_keys: dict[str, str]) -> None:
    acme = with_key(partner_keys["acme"])
    own = await stub.GetPartner(orders_pb2.GetPartnerRequest(name="partners/acme"), metadata=acme, timeout=T)
    assert own.partner.partner_id == "acme"
    foreign = await fails(
        stub.GetPartner(orders_pb2.GetPartnerRequest(name="partners/globex"), metadata=acme, timeout=T)
    )
    missing = await fails(
        stub.GetPartner(orders_pb2.GetPartnerRequest(name="partners/nobody"), metadata=acme, timeout=T)
    )
    assert foreign.code == grpc.StatusCode.NOT_FOUND
    assert (foreign.message, foreign.details) == (missing.message, missing.details)
    listing = await fails(stub.ListPartners(orders_pb2.ListPartnersRequest(), metadata=acme, timeout=T))
    assert listing.code == grpc.StatusCode.PERMISSION_DENIED
