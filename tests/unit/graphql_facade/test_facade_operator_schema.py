"""Operators' schema over the fake backend: the board, order detail, floor, materials and mutations."""

from __future__ import annotations

from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod
from tests._infra.graphql import data
from tests.unit.graphql_facade.conftest import FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend


async def test_order_board_filters_reach_the_backend(client: FacadeClient, backend: FakeBackend) -> None:
    late = backend.add_order("partner-a", status=ords.ORDER_STATUS_ON_HOLD)
    late.late = True
    backend.add_order("partner-b")
    query = """query($f: OrderFilter) { orders(first: 10, filter: $f) {
        edges { cursor node { id partnerId status late } } pageInfo { hasNextPage endCursor } } }"""
    board = data(await client.gql(query, {"f": {"statuses": ["ON_HOLD"], "partnerId": "partner-a", "lateOnly": True}}))
    nodes = [e["node"] for e in board["orders"]["edges"]]
    assert nodes == [{"id": late.order_id, "partnerId": "partner-a", "status": "ON_HOLD", "late": True}]
    assert board["orders"]["pageInfo"] == {"hasNextPage": False, "endCursor": board["orders"]["edges"][0]["cursor"]}
    everything = data(await client.gql(query))
    assert {e["node"]["partnerId"] for e in everything["orders"]["edges"]} == {"partner-a", "partner-b"}


async def test_order_board_pages_follow_end_cursor(client: FacadeClient, backend: FakeBackend) -> None:
    ids = [backend.add_order("partner-a", with_production=False).order_id for _ in range(7)]
    query = (
        "query($a: String) { orders(first: 3, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = data(await client.gql(query, {"a": after}))["orders"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids


async def test_every_edge_cursor_resumes_right_after_its_node(client: FacadeClient, backend: FakeBackend) -> None:
    ids = [backend.add_order("partner-a", with_production=False).order_id for _ in range(5)]
    first = data(await client.gql("{ orders(first: 4) { edges { cursor node { id } } } }"))["orders"]["edges"]
    second_cursor = first[1]["cursor"]
    rest = data(
        await client.gql(
            "query($a: String) { orders(first: 10, after: $a) { edges { node { id } } } }", {"a": second_cursor}
        )
    )
    assert [e["node"]["id"] for e in rest["orders"]["edges"]] == ids[2:]


async def test_order_counts(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    backend.add_order("partner-b", status=ords.ORDER_STATUS_SHIPPED)
    counts = data(await client.gql("{ orderCounts { total late byStatus { status count } } }"))["orderCounts"]
    assert counts["total"] == 3
    assert {c["status"]: c["count"] for c in counts["byStatus"]} == {"SUBMITTED": 2, "SHIPPED": 1}
    own = data(await client.gql('{ orderCounts(partnerId: "partner-b") { total } }'))["orderCounts"]
    assert own["total"] == 1


async def test_order_detail(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a", lines=2)
    query = """query($id: ID!) { order(id: $id) {
        id partnerReference priority status lines { lineNumber styleCode style { displayName } alloy { fineness } }
        statusHistory { fromStatus toStatus }
        workOrders { id lineNumber style { sku } operations { id sequence operationCode status workCenter { code } } }
        reservations { id state items { materialCode weightMg } } } }"""
    detail = data(await client.gql(query, {"id": order.order_id}))["order"]
    assert detail["partnerReference"] == order.partner_reference and detail["priority"] == "NORMAL"
    assert [line["style"]["displayName"] for line in detail["lines"]] == ["Solitaire ring", "Solitaire ring"]
    assert detail["lines"][0]["alloy"] == {"fineness": 750}
    assert detail["statusHistory"] == [{"fromStatus": None, "toStatus": "SUBMITTED"}]
    assert [wo["lineNumber"] for wo in detail["workOrders"]] == [1, 2]
    ops = detail["workOrders"][0]["operations"]
    assert [op["sequence"] for op in ops] == [1, 2, 3, 4, 5]
    assert ops[0]["id"] == f"{detail['workOrders'][0]['id']}.1" and ops[0]["workCenter"] == {"code": "CAST-1"}
    assert detail["reservations"][0]["state"] == "HELD"
    assert detail["reservations"][0]["items"] == [{"materialCode": "AU750Y", "weightMg": 5000}]
    missing = data(await client.gql(query, {"id": "nope"}))
    assert missing == {"order": None}


async def test_floor_materials_and_loss(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a")
    from mes.inventory.v1 import inventory_pb2 as inv

    backend.shortages.append(
        inv.Shortage(order_id=order.order_id, material_code="AU750Y", required_mg=9, available_mg=4)
    )
    at_cast = [op for op in backend.operations.values() if op.work_center == "workCenters/CAST-1"]
    at_cast[0].status = prod.OPERATION_STATUS_IN_PROGRESS  # the stats count the fake's operations
    query = """{
      workCenters(first: 10) { edges { node { code stats { queued wip throughputPerHour }
          queue(first: 2) { edges { node { id status } } pageInfo { hasNextPage } } } } }
      alloyBalances(first: 10) { nodes { materialCode onHandMg availableMg fineOnHandMg alloy { fineness } } }
      picked: alloyBalances(first: 5, codes: ["AG925"]) { nodes { materialCode } }
      shortages(first: 5) { nodes { missingMg order { id partnerId } } }
      byOp: metalLoss(by: OPERATION) { key lossMg lossPpm }
      byOperator: metalLoss(by: OPERATOR) { key }
      asOf { seq inventorySeq productionSeq }
    }"""
    floor = data(await client.gql(query))
    centers = {e["node"]["code"]: e["node"] for e in floor["workCenters"]["edges"]}
    assert centers["CAST-1"]["stats"] == {"queued": len(at_cast) - 1, "wip": 1, "throughputPerHour": 1.0}
    assert len(centers["CAST-1"]["queue"]["edges"]) == 2 and centers["CAST-1"]["queue"]["pageInfo"]["hasNextPage"]
    assert centers["FILE-1"]["queue"]["edges"] == []
    balances = {b["materialCode"]: b for b in floor["alloyBalances"]["nodes"]}
    assert balances["AU750Y"]["fineOnHandMg"] == 7_500_000 and balances["AU750Y"]["alloy"] == {"fineness": 750}
    assert floor["picked"]["nodes"] == [{"materialCode": "AG925"}]
    assert floor["shortages"]["nodes"] == [{"missingMg": 5, "order": {"id": order.order_id, "partnerId": "partner-a"}}]
    assert floor["byOp"] == [{"key": "CASTING", "lossMg": 400, "lossPpm": 10000}]
    assert floor["byOperator"] == [{"key": "OP-01"}]
    assert floor["asOf"] == {"seq": 0, "inventorySeq": 0, "productionSeq": 0}
    assert backend.calls["ListWorkCenterStats"] == 1  # one call for every work center


async def test_floor_mutations(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a")
    wo = next(iter(backend.work_orders.values()))
    op_id = f"{wo.work_order_id}.1"
    started = data(
        await client.gql(
            'mutation($id: ID!) { startOperation(id: $id, weighInMg: 5000, idempotencyKey: "k1")'
            " { id status weighInMg startedBy } }",
            {"id": op_id},
        )
    )["startOperation"]
    assert started == {"id": op_id, "status": "IN_PROGRESS", "weighInMg": 5000, "startedBy": "OP-01"}
    finished = data(
        await client.gql(
            'mutation($id: ID!) { finishOperation(id: $id, operatorCode: "OP-01", weighOutMg: 4900,'
            " scrapReturnedMg: 50) { status lossMg } }",
            {"id": op_id},
        )
    )["finishOperation"]
    assert finished == {"status": "DONE", "lossMg": 50}
    reviewed = data(
        await client.gql(
            "mutation($id: ID!) { resolveLossReview(id: $id, decision: APPROVE) { reviewedBy } }",
            {"id": op_id},
        )
    )
    assert reviewed["resolveLossReview"] == {"reviewedBy": "OP-01"}
    lot = data(
        await client.gql(
            'mutation { receiveLot(input: {kind: METAL, materialCode: "AU750Y", weightMg: 100000},'
            ' idempotencyKey: "r1") { id kind materialCode onHandMg } }'
        )
    )["receiveLot"]
    assert lot["kind"] == "METAL" and lot["onHandMg"] == 100000
    shipped = await client.gql("mutation($id: ID!) { shipOrder(id: $id) { status } }", {"id": order.order_id})
    assert shipped.json()["errors"][0]["extensions"]["code"] == "INVALID_STATE_TRANSITION"
    cancelled = data(
        await client.gql(
            'mutation($id: ID!) { cancelOrder(id: $id, reason: "customer", idempotencyKey: "c1") { status } }',
            {"id": order.order_id},
        )
    )
    assert cancelled["cancelOrder"] == {"status": "CANCELLED"}
    last = backend.partner_calls[-1]
    assert last == ("CancelOrder", None)  # operators act for nobody


async def test_operation_ids_are_checked(client: FacadeClient, backend: FakeBackend) -> None:
    response = await client.gql('mutation { startOperation(id: "bad", weighInMg: 1) { id } }')
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["extensions"]["fieldViolations"][0]["field"] == "id"
    assert backend.calls["StartOperation"] == 0


async def test_start_operation_request_carries_the_idempotency_key(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    wo = next(iter(backend.work_orders.values()))
    seen: list[prod.StartOperationRequest] = []
    original = backend.start_operation

    async def spy(request: prod.StartOperationRequest) -> prod.StartOperationResponse:
        seen.append(request)
        return await original(request)

    backend.start_operation = spy  # type: ignore[method-assign]
    await client.gql(
        'mutation($id: ID!) { startOperation(id: $id, weighInMg: 12, idempotencyKey: "abc") { id } }',
        {"id": f"{wo.work_order_id}.2"},
    )
    assert seen[0].name == f"workOrders/{wo.work_order_id}/operations/2"
    assert (seen[0].request_id, seen[0].operator_code, seen[0].weigh_in_mg) == ("abc", "OP-01", 12)
    foreign = await client.gql(
        'mutation($id: ID!) { startOperation(id: $id, weighInMg: 12, operatorCode: "OP-99") { id } }',
        {"id": f"{wo.work_order_id}.3"},
    )
    assert foreign.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len(seen) == 1
