"""Reads of work orders honour a read mask (AIP-157): only the fields asked for come back, and
without ``routing_snapshot`` the snapshots are not even read; lists filtered by ids answer
pages of up to 1000; a batch of operations is read by work order."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from mes.production.v1 import production_pb2 as pb
from services.production.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.production._support import SERVICE, T, create_order, line, ready

NO_ROUTING = [f.name for f in pb.WorkOrder.DESCRIPTOR.fields if f.name != "routing_snapshot"]


async def _orders(stub: Any, count: int, lines: int) -> list[pb.WorkOrder]:
    await ready(stub)
    made = []
    for n in range(count):
        made += await create_order(stub, f"ORD-{n:03d}", [line(i + 1, engraving="J" * (i % 2)) for i in range(lines)])
    return made


def _without_routing(work_order: pb.WorkOrder) -> pb.WorkOrder:
    copy = pb.WorkOrder()
    copy.CopyFrom(work_order)
    copy.ClearField("routing_snapshot")
    return copy


async def _list(stub: Any, order_ids: list[str], *paths: str, size: int = 1000) -> pb.ListWorkOrdersResponse:
    request = pb.ListWorkOrdersRequest(order_ids=order_ids, page_size=size, read_mask=FieldMask(paths=list(paths)))
    return await stub.ListWorkOrders(request, metadata=SERVICE, timeout=T)  # type: ignore[no-any-return]


async def test_a_read_mask_returns_only_its_fields(app: App, stub: Any) -> None:
    made = await _orders(stub, 2, 2)
    order_ids = sorted({w.order_id for w in made})
    full = list((await _list(stub, order_ids)).work_orders)
    assert [w.work_order_id for w in full] == [w.work_order_id for w in made]
    assert all(len(w.routing_snapshot) == 7 for w in full)

    masked = list((await _list(stub, order_ids, *NO_ROUTING)).work_orders)
    assert masked == [_without_routing(w) for w in full]
    assert list((await _list(stub, order_ids, "*")).work_orders) == full
    few = list((await _list(stub, order_ids, "work_order_id", "status")).work_orders)
    assert few == [pb.WorkOrder(work_order_id=w.work_order_id, status=w.status) for w in full]

    names = [w.name for w in full]
    batch = await stub.BatchGetWorkOrders(
        pb.BatchGetWorkOrdersRequest(names=names[::-1], read_mask=FieldMask(paths=NO_ROUTING)),
        metadata=SERVICE,
        timeout=T,
    )
    assert list(batch.work_orders) == [_without_routing(w) for w in full[::-1]]
    one = await stub.GetWorkOrder(
        pb.GetWorkOrderRequest(name=names[0], read_mask=FieldMask(paths=["name", "create_time"])),
        metadata=SERVICE,
        timeout=T,
    )
    assert one.work_order == pb.WorkOrder(name=full[0].name, create_time=full[0].create_time)
    unmasked = await stub.GetWorkOrder(pb.GetWorkOrderRequest(name=names[0]), metadata=SERVICE, timeout=T)
    assert unmasked.work_order == full[0]

    async with app.handles.uows.read() as uow:  # the snapshot column is not read at all
        records = await uow.work_orders.get_many([w.work_order_id for w in full], with_routing=False)
    assert {r.routing_snapshot for r in records.values()} == {None}


async def test_a_mask_naming_no_field_of_a_work_order_is_invalid(stub: Any) -> None:
    for call in (
        stub.ListWorkOrders(pb.ListWorkOrdersRequest(read_mask=FieldMask(paths=["status", "nope"])), metadata=SERVICE),
        stub.BatchGetWorkOrders(
            pb.BatchGetWorkOrdersRequest(
                names=["workOrders/x"], read_mask=FieldMask(paths=["routing_snapshot.sequence"])
            ),
            metadata=SERVICE,
        ),
        stub.GetWorkOrder(
            pb.GetWorkOrderRequest(name="workOrders/x", read_mask=FieldMask(paths=["Status"])), metadata=SERVICE
        ),
    ):
        failure = await fails(call)
        assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
        assert len(failure.fields) == 1 and failure.fields[0].startswith("read_mask.paths[")


async def test_lists_by_ids_take_pages_of_up_to_a_thousand_and_tokens_ignore_the_mask(stub: Any) -> None:
    made = await _orders(stub, 21, 5)  # 105 work orders, 735 operations
    order_ids = sorted({w.order_id for w in made})
    by_orders = await _list(stub, order_ids, *NO_ROUTING)
    assert len(by_orders.work_orders) == 105 and not by_orders.next_page_token
    everything = await stub.ListWorkOrders(pb.ListWorkOrdersRequest(page_size=1000), metadata=SERVICE, timeout=T)
    assert len(everything.work_orders) == 100 and everything.next_page_token

    seen, token, masks = [], "", [NO_ROUTING, ["work_order_id"], []]
    for turn in range(60):
        request = pb.ListWorkOrdersRequest(
            order_ids=order_ids[:3], page_size=2, page_token=token, read_mask=FieldMask(paths=masks[turn % 3])
        )
        page = await stub.ListWorkOrders(request, metadata=SERVICE, timeout=T)
        seen += [w.work_order_id for w in page.work_orders]
        token = page.next_page_token
        if not token:
            break
    assert seen == [w.work_order_id for w in made[:15]]

    work_order_ids = [w.work_order_id for w in made]
    request = pb.ListOperationsRequest(work_order_ids=work_order_ids, page_size=1000)
    operations = await stub.ListOperations(request, metadata=SERVICE, timeout=T)
    assert len(operations.operations) == 735 and not operations.next_page_token
    queue = await stub.ListOperations(pb.ListOperationsRequest(page_size=1000), metadata=SERVICE, timeout=T)
    assert len(queue.operations) == 100 and queue.next_page_token


async def test_a_batch_of_operations_is_read_by_work_order(stub: Any) -> None:
    first, second = await _orders(stub, 1, 2)
    names = [f"{w.name}/operations/{seq}" for w in (second, first) for seq in (3, 1)]
    missing = f"{first.name}/operations/9"
    reply = await stub.BatchGetOperations(
        pb.BatchGetOperationsRequest(names=[*names, missing, names[0]], allow_missing=True), metadata=SERVICE, timeout=T
    )
    assert [o.name for o in reply.operations] == [*names, names[0]]
    assert list(reply.missing_names) == [missing]
    assert {o.operation_code for o in reply.operations} == {"CASTING", "STONE_SETTING"}
