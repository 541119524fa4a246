"""SubmitOrder is idempotent per partner by request_id, also under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from mes.orders.v1 import orders_pb2
from mes_contracts.events import ORDER_SUBMITTED
from services.orders.adapters.tables import infra
from services.orders.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.orders._support import (
    STAFF,
    T,
    count_rows,
    for_partner,
    line,
    order_count,
    outbox_subjects,
    submit_request,
    with_key,
)


async def test_same_request_replays_the_original_order(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    request = submit_request("r-1")
    first = await stub.SubmitOrder(request, metadata=with_key(partner_keys["acme"]), timeout=T)
    # The same order through the facade, naming the partner explicitly as parent.
    request.parent = "partners/acme"
    again = await stub.SubmitOrder(request, metadata=for_partner("acme"), timeout=T)
    assert again.replayed and not first.replayed
    assert again.order.order_id == first.order.order_id
    assert await order_count(app) == 1
    assert await outbox_subjects(app) == [ORDER_SUBMITTED.subject]


async def test_same_key_with_another_request_is_rejected(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    acme = for_partner("acme")
    request = submit_request("r-1")
    await stub.SubmitOrder(request, metadata=acme, timeout=T)
    changed = orders_pb2.SubmitOrderRequest()
    changed.CopyFrom(request)
    changed.lines[0].quantity = 2
    failure = await fails(stub.SubmitOrder(changed, metadata=acme, timeout=T))
    assert (failure.code, failure.reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")
    reordered = submit_request("r-2", lines=[line(), line("PND-HRT-002")])
    await stub.SubmitOrder(reordered, metadata=acme, timeout=T)
    swapped = orders_pb2.SubmitOrderRequest()
    swapped.CopyFrom(reordered)
    swapped.lines[0].style_code, swapped.lines[1].style_code = "PND-HRT-002", "RNG-SOL-001"
    failure = await fails(stub.SubmitOrder(swapped, metadata=acme, timeout=T))
    assert failure.reason == "IDEMPOTENCY_KEY_REUSED"
    assert await order_count(app) == 2


async def test_request_ids_are_scoped_per_partner(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    a = await stub.SubmitOrder(submit_request("shared"), metadata=for_partner("acme"), timeout=T)
    g = await stub.SubmitOrder(submit_request("shared"), metadata=for_partner("globex"), timeout=T)
    assert a.order.order_id != g.order.order_id and not g.replayed
    assert await order_count(app) == 2


async def test_request_id_is_required(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    failure = await fails(stub.SubmitOrder(submit_request(""), metadata=for_partner("acme"), timeout=T))
    assert (failure.code, failure.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["request_id"])
    assert await order_count(app) == 0


async def test_concurrent_duplicates_create_exactly_one_order(
    app: App, stub: Any, partner_keys: dict[str, str]
) -> None:
    request = submit_request("burst", lines=[line(), line("PND-HRT-002", "AG925", 3)])
    replies = await asyncio.gather(
        *(stub.SubmitOrder(request, metadata=for_partner("acme"), timeout=T) for _ in range(20))
    )
    assert len({reply.order.order_id for reply in replies}) == 1
    assert sum(not reply.replayed for reply in replies) == 1
    assert await order_count(app) == 1
    assert await count_rows(app, infra.outbox) == 1
    assert await count_rows(app, infra.idempotency) == 1


async def test_cancel_with_request_id_replays_and_rejects_reuse(stub: Any, partner_keys: dict[str, str]) -> None:
    acme = for_partner("acme")
    order = (await stub.SubmitOrder(submit_request(), metadata=acme, timeout=T)).order
    cancel = orders_pb2.CancelOrderRequest(name=order.name, reason="changed mind", request_id="c-1")
    first = await stub.CancelOrder(cancel, metadata=acme, timeout=T)
    again = await stub.CancelOrder(cancel, metadata=acme, timeout=T)
    assert first.order == again.order
    other = (await stub.SubmitOrder(submit_request("r-2"), metadata=acme, timeout=T)).order
    reuse = orders_pb2.CancelOrderRequest(name=other.name, request_id="c-1")
    failure = await fails(stub.CancelOrder(reuse, metadata=acme, timeout=T))
    assert failure.reason == "IDEMPOTENCY_KEY_REUSED"
    still = await stub.GetOrder(orders_pb2.GetOrderRequest(name=other.name), metadata=STAFF, timeout=T)
    assert still.order.status == orders_pb2.ORDER_STATUS_SUBMITTED
