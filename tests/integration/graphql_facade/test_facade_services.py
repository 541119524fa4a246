"""The facade against the real orders, inventory and production services (SQLite, in process)."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from graphql_facade.backend import open_backend
from tests.integration.graphql_facade.conftest import facade_app
from tests.integration.graphql_facade.facade_stack import (
    CountingInterceptor,
    Stack,
    create_partner,
    seed_orders,
)

DASHBOARD = """query Dashboard($first: Int!) {
  orders(first: $first) {
    edges { node {
      id status partnerId
      lines { style { displayName } alloy { fineness } }
      workOrders { id status operations { id sequence status workCenterType } }
      reservations { id state items { weightMg } }
    } }
    pageInfo { hasNextPage }
  }
  orderCounts { total }
}"""


def backend_calls_ok(method: str) -> float:
    return REGISTRY.get_sample_value("mes_facade_backend_calls_total", {"method": method, "code": "OK"}) or 0.0


async def dashboard_calls(stack: Stack, first: int) -> dict[str, int]:
    counter = CountingInterceptor()
    settings = stack.facade_settings(MES_FACADE_CACHE="0")
    backend = open_backend(settings, interceptors=[counter])
    async with facade_app(settings, backend=backend) as facade:
        before = {method: backend_calls_ok(method) for method in ("ListOrders", "CountOrders", "BatchGetOperations")}
        response = await facade.gql(DASHBOARD, {"first": first})
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        edges = body["data"]["orders"]["edges"]
        assert len(edges) == first
        for edge in edges:
            node = edge["node"]
            assert node["lines"][0]["style"]["displayName"] == "Solitaire ring"
            assert len(node["workOrders"]) == 1 and len(node["workOrders"][0]["operations"]) == 4
            assert node["reservations"][0]["items"][0]["weightMg"] == 5000
        # The backend call metrics count each call once, by method and code.
        assert {method: backend_calls_ok(method) - n for method, n in before.items()} == {
            method: counter.calls[method] for method in before
        }
    return dict(counter.calls)


async def test_dashboard_calls_are_the_same_for_10_and_100_orders(stack: Stack) -> None:
    await create_partner(stack, "acme")
    await seed_orders(stack, "acme", 100)
    small = await dashboard_calls(stack, 10)
    large = await dashboard_calls(stack, 100)
    assert small == large
    assert small == {
        "ListOrders": 1,
        "CountOrders": 1,
        "ListWorkOrders": 1,
        "ListOperations": 1,
        "ListReservations": 1,
        "BatchGetStyles": 1,
        "BatchGetAlloys": 1,
    }


SUBMIT = """mutation($input: SubmitOrderInput!, $key: String!) {
  submitOrder(input: $input, idempotencyKey: $key) { replayed order { id status partnerReference } } }"""


async def test_partner_submit_is_idempotent_and_tenant_isolated(stack: Stack) -> None:
    acme = {"X-API-Key": await create_partner(stack, "acme")}
    globex = {"X-API-Key": await create_partner(stack, "globex")}
    order_input = {
        "partnerReference": "PO-77",
        "dueTime": "2031-06-01T12:00:00+00:00",
        "lines": [{"styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 1, "size": "52"}],
    }
    key = uuid.uuid4().hex
    async with facade_app(stack.facade_settings()) as facade:
        first = (await facade.gql(SUBMIT, {"input": order_input, "key": key}, headers=acme)).json()
        assert "errors" not in first, first
        order = first["data"]["submitOrder"]["order"]
        assert first["data"]["submitOrder"]["replayed"] is False and order["status"] == "SUBMITTED"
        again = (await facade.gql(SUBMIT, {"input": order_input, "key": key}, headers=acme)).json()
        assert again["data"]["submitOrder"] == {"replayed": True, "order": order}
        changed = {**order_input, "partnerReference": "PO-78"}
        reused = (await facade.gql(SUBMIT, {"input": changed, "key": key}, headers=acme)).json()
        assert reused["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"

        read = "query($id: ID!) { order(id: $id) { id partnerReference statusHistory { toStatus } } }"
        own = (await facade.gql(read, {"id": order["id"]}, headers=acme)).json()
        assert own["data"]["order"]["partnerReference"] == "PO-77"
        foreign = (await facade.gql(read, {"id": order["id"]}, headers=globex)).json()
        missing = (await facade.gql(read, {"id": "does-not-exist"}, headers=globex)).json()
        assert foreign["data"] == missing["data"] == {"order": None}
        listing = (await facade.gql("{ orders(first: 10) { nodes { id } } }", headers=globex)).json()
        assert listing["data"]["orders"]["nodes"] == []
        cancel = 'mutation($id: ID!) { cancelOrder(id: $id, idempotencyKey: "c-1") { status } }'
        refused = (await facade.gql(cancel, {"id": order["id"]}, headers=globex)).json()
        assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        done = (await facade.gql(cancel, {"id": order["id"]}, headers=acme)).json()
        assert done["data"]["cancelOrder"] == {"status": "CANCELLED"}
        board = (await facade.gql("{ orders(first: 5) { nodes { id partnerId status } } }")).json()
        assert board["data"]["orders"]["nodes"] == [{"id": order["id"], "partnerId": "acme", "status": "CANCELLED"}]


async def test_bad_input_reports_every_field(stack: Stack) -> None:
    acme = {"X-API-Key": await create_partner(stack, "acme")}
    bad = {
        "partnerReference": "",
        "dueTime": "2031-06-01T12:00:00+00:00",
        "lines": [
            {"styleCode": "NOPE", "alloyCode": "AU750Y", "quantity": 0},
            {"styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 1, "engraving": "x" * 200},
        ],
    }
    async with facade_app(stack.facade_settings()) as facade:
        body = (await facade.gql(SUBMIT, {"input": bad, "key": "k-bad"}, headers=acme)).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    fields = {v["field"] for v in error["extensions"].get("fieldViolations", [])}
    assert len(fields) >= 2, error
    # named as the caller wrote them in GraphQL, never the services' field names
    assert all(f.startswith("input.") and "_" not in f for f in fields), fields
    assert "input.partnerReference" in fields and "input.lines[0].quantity" in fields, fields


async def test_operator_floor_against_the_services(stack: Stack) -> None:
    await create_partner(stack, "acme")
    [order_id] = await seed_orders(stack, "acme", 1)
    async with facade_app(stack.facade_settings()) as facade:
        detail = (
            await facade.gql(
                "query($id: ID!) { order(id: $id) { workOrders { operations { id status workCenterType } } } }",
                {"id": order_id},
            )
        ).json()
        operations = detail["data"]["order"]["workOrders"][0]["operations"]
        first = operations[0]
        assert first["workCenterType"] == "CAST"
        floor = (
            await facade.gql(
                "{ workCenters(first: 10) { nodes { code stats { queued wip } queue(first: 5) { nodes { id } } } }"
                " alloyBalances(first: 5) { nodes { materialCode onHandMg reservedMg fineOnHandMg } }"
                " byOp: metalLoss(by: OPERATION) { key } styles(first: 5) { nodes { sku } } }"
            )
        ).json()
        assert "errors" not in floor, floor
        centers = {n["code"]: n for n in floor["data"]["workCenters"]["nodes"]}
        assert set(centers) == {"CAST-1", "BENCH-1", "POL-1", "QC-1"}
        balance = floor["data"]["alloyBalances"]["nodes"][0]
        assert balance["materialCode"] == "AU750Y" and balance["reservedMg"] == 5000
        assert balance["fineOnHandMg"] == balance["onHandMg"] * 750 // 1000
        if first["status"] == "QUEUED":
            started = (
                await facade.gql(
                    "mutation($id: ID!) { startOperation(id: $id, weighInMg: 5200,"
                    ' idempotencyKey: "s-1") { id status weighInMg } }',
                    {"id": first["id"]},
                )
            ).json()
            assert started["data"]["startOperation"]["status"] == "IN_PROGRESS", started
        health = await facade.http.get("/healthz")
        assert health.status_code == 200 and health.json()["services"] == {
            "orders": True,
            "inventory": True,
            "production": True,
        }


async def test_health_is_503_when_a_service_is_down(stack: Stack) -> None:
    settings = stack.facade_settings(MES_PRODUCTION_ADDR="127.0.0.1:1")
    async with facade_app(settings) as facade:
        health = await facade.http.get("/healthz")
    assert health.status_code == 503 and health.json()["services"]["production"] is False
