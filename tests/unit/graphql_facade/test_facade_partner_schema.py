"""Partners' schema: submit with idempotency, own orders only, catalogue, cancel."""

from __future__ import annotations

from typing import Any

from tests.unit.graphql_facade.conftest import PARTNER_A, PARTNER_B, FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend

SUBMIT = """mutation($input: SubmitOrderInput!, $key: String!) {
  submitOrder(input: $input, idempotencyKey: $key) {
    replayed order { id status partnerReference lines { lineNumber } } } }"""
ORDER_INPUT = {
    "partnerReference": "PO-1",
    "priority": "HIGH",
    "dueTime": "2030-01-01T00:00:00+00:00",
    "lines": [{"styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 2, "size": "52"}],
}


def body(response: Any) -> dict[str, Any]:
    result: dict[str, Any] = response.json()
    return result


async def test_submit_order_is_idempotent(client: FacadeClient, backend: FakeBackend) -> None:
    first = body(await client.gql(SUBMIT, {"input": ORDER_INPUT, "key": "key-1"}, headers=PARTNER_A))
    payload = first["data"]["submitOrder"]
    assert payload["replayed"] is False and payload["order"]["status"] == "SUBMITTED"
    assert payload["order"]["lines"] == [{"lineNumber": 1}]
    again = body(await client.gql(SUBMIT, {"input": ORDER_INPUT, "key": "key-1"}, headers=PARTNER_A))
    assert again["data"]["submitOrder"]["order"]["id"] == payload["order"]["id"]
    assert again["data"]["submitOrder"]["replayed"] is True
    changed = {**ORDER_INPUT, "partnerReference": "PO-2"}
    reused = body(await client.gql(SUBMIT, {"input": changed, "key": "key-1"}, headers=PARTNER_A))
    assert reused["data"] is None
    assert reused["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert reused["errors"][0]["path"] == ["submitOrder"]
    stored = backend.stored_orders[payload["order"]["id"]]
    assert stored.partner == "partners/partner-a" and stored.priority == 3 and stored.due_time.seconds > 0
    assert backend.partner_calls[-1] == ("SubmitOrder", "partner-a")


async def test_submit_order_needs_an_idempotency_key(client: FacadeClient, backend: FakeBackend) -> None:
    missing = body(await client.gql(SUBMIT, {"input": ORDER_INPUT, "key": ""}, headers=PARTNER_A))
    assert missing["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
    assert backend.calls["SubmitOrder"] == 0


async def test_backend_validation_errors_keep_their_reason(client: FacadeClient) -> None:
    bad = {**ORDER_INPUT, "lines": [{"styleCode": "NOPE", "alloyCode": "AU750Y", "quantity": 1}]}
    result = body(await client.gql(SUBMIT, {"input": bad, "key": "k"}, headers=PARTNER_A))
    assert result["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
    assert result["errors"][0]["extensions"]["reason"] == "UNKNOWN_STYLE"


async def test_another_partners_order_looks_missing(client: FacadeClient, backend: FakeBackend) -> None:
    own = backend.add_order("partner-a")
    other = backend.add_order("partner-b")
    query = "query($id: ID!) { order(id: $id) { id status } }"
    assert body(await client.gql(query, {"id": own.order_id}, headers=PARTNER_A))["data"]["order"]["id"] == own.order_id
    foreign = body(await client.gql(query, {"id": other.order_id}, headers=PARTNER_A))
    missing = body(await client.gql(query, {"id": "ord99999"}, headers=PARTNER_A))
    assert foreign["data"] == missing["data"] == {"order": None}
    assert "errors" not in foreign and "errors" not in missing
    listing = body(await client.gql("{ orders(first: 50) { nodes { id } } }", headers=PARTNER_B))
    assert listing["data"]["orders"]["nodes"] == [{"id": other.order_id}]
    cancel = "mutation($id: ID!) { cancelOrder(id: $id) { status } }"
    refused = body(await client.gql(cancel, {"id": own.order_id}, headers=PARTNER_B))
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert backend.stored_orders[own.order_id].status != 8
    done = body(await client.gql(cancel, {"id": own.order_id}, headers=PARTNER_A))
    assert done["data"]["cancelOrder"] == {"status": "CANCELLED"}


async def test_every_partner_call_carries_the_partner(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a")
    backend.reset_calls()
    await client.gql(
        "query($id: ID!) { order(id: $id) { id statusHistory { toStatus } } orders(first: 5) { nodes { id } } }",
        {"id": order.order_id},
        headers=PARTNER_A,
    )
    order_calls = [
        (m, p) for m, p in backend.partner_calls if m in ("BatchGetOrders", "ListOrders", "ListOrderStatusChanges")
    ]
    assert order_calls and all(p == "partner-a" for _, p in order_calls)


async def test_catalogue_pages(client: FacadeClient, backend: FakeBackend) -> None:
    query = (
        "{ styles(first: 1) { nodes { sku category } pageInfo { hasNextPage endCursor } }"
        " alloys(first: 5) { nodes { code metal } } }"
    )
    first = body(await client.gql(query, headers=PARTNER_A))["data"]
    assert first["styles"]["nodes"] == [{"sku": "RNG-SOL-001", "category": "RING"}]
    assert first["styles"]["pageInfo"]["hasNextPage"] is True
    assert {a["code"] for a in first["alloys"]["nodes"]} == {"AU750Y", "AG925"}
    after = first["styles"]["pageInfo"]["endCursor"]
    second = body(
        await client.gql(
            "query($a: String) { styles(first: 5, after: $a) { nodes { sku } } }", {"a": after}, headers=PARTNER_A
        )
    )
    assert second["data"]["styles"]["nodes"] == [{"sku": "PND-HRT-002"}]


async def test_partner_surface_is_small(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a")
    response = await client.gql(
        "query($id: ID!) { order(id: $id) { workOrders { id } } }", {"id": order.order_id}, headers=PARTNER_A
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "workOrders" in error["message"]
    for operator_only in (
        "{ workCenters(first: 1) { nodes { code } } }",
        "{ shortages(first: 1) { nodes { orderId } } }",
    ):
        refused = await client.gql(operator_only, headers=PARTNER_A)
        assert refused.status_code == 400


async def test_partners_get_no_introspection_and_no_suggestions(client: FacadeClient) -> None:
    introspection = await client.gql("{ __schema { types { name } } }", headers=PARTNER_A)
    assert introspection.status_code == 400
    assert introspection.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    typo = await client.gql("{ ordrs(first: 1) { nodes { id } } }", headers=PARTNER_A)
    assert "Did you mean" not in typo.json()["errors"][0]["message"]
    operator_typo = await client.gql("{ ordrs(first: 1) { nodes { id } } }")
    assert "Did you mean" in operator_typo.json()["errors"][0]["message"]
    operator_introspection = await client.gql("{ __schema { queryType { name } } }")
    assert operator_introspection.json()["data"]["__schema"]["queryType"]["name"] == "Query"
