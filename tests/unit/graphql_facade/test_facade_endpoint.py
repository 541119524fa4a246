"""The HTTP pipeline: request errors, limits and their headers, APQ, shedding, timeouts, health."""

from __future__ import annotations

import asyncio
import hashlib
import json

from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    PARTNER_B,
    FacadeClient,
    add_full_pages,
    facade_settings,
    running_app,
    throttling_settings,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

QUERY = "{ orders(first: 5) { nodes { id } } }"


async def test_get_runs_queries_only(client: FacadeClient) -> None:
    ok = await client.http.get("/graphql", params={"query": QUERY}, headers=OPERATOR)
    assert ok.status_code == 200 and ok.json()["data"] == {"orders": {"nodes": []}}
    mutation = await client.http.get(
        "/graphql", params={"query": 'mutation { cancelOrder(id: "x") { id } }'}, headers=OPERATOR
    )
    assert mutation.status_code == 405


async def test_request_errors(client: FacadeClient) -> None:
    cases = [
        ("{ orders(first: 5) { nodes { id } ", "GRAPHQL_PARSE_FAILED"),
        ("{ orders(first: 5) { nodes { nope } } }", "GRAPHQL_VALIDATION_FAILED"),
        ("subscription { dashboardCounters { seq } }", "BAD_REQUEST"),
        ("query A { asOf { seq } } query B { asOf { seq } }", "BAD_REQUEST"),
        ("{ orders { nodes { id } } }", "GRAPHQL_VALIDATION_FAILED"),  # `first` is required by the schema
    ]
    for query, code in cases:
        response = await client.gql(query)
        assert response.status_code == 400, (query, response.text)
        body = response.json()
        assert "data" not in body and body["errors"][0]["extensions"]["code"] == code, (query, body)


async def test_bad_bodies(client: FacadeClient) -> None:
    not_json = await client.http.post(
        "/graphql", content=b"{nope", headers={**OPERATOR, "content-type": "application/json"}
    )
    assert not_json.status_code == 400
    wrong_type = await client.http.post(
        "/graphql", content=b"query", headers={**OPERATOR, "content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    bad_vars = await client.http.post("/graphql", json={"query": QUERY, "variables": [1]}, headers=OPERATOR)
    assert bad_vars.status_code == 400
    batch = await client.http.post("/graphql", json=[{"query": QUERY}], headers=OPERATOR)
    assert batch.status_code == 400 and "not enabled" in batch.json()["errors"][0]["message"]
    coercion = await client.gql(
        "query($s: [OrderStatus!]) { orders(first: 1, filter: {statuses: $s}) { nodes { id } } }", {"s": ["NOPE"]}
    )
    assert coercion.status_code == 400
    assert coercion.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_first_is_checked_before_execution(client: FacadeClient, backend: FakeBackend) -> None:
    for first in (0, 101):
        response = await client.gql("query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": first})
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "PAGINATION_ARGUMENT_OUT_OF_RANGE"
    assert backend.calls["ListOrders"] == 0


async def test_body_limit_before_anything_else(client: FacadeClient, backend: FakeBackend) -> None:
    huge = json.dumps({"query": QUERY, "variables": {"pad": "x" * 1_100_000}})
    response = await client.http.post(
        "/graphql", content=huge, headers={**PARTNER_A, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert backend.calls["AuthenticatePartner"] == 0


async def test_partner_responses_carry_cost_and_rate_headers(client: FacadeClient) -> None:
    response = await client.gql(QUERY, headers=PARTNER_A)
    cost = response.json()["extensions"]["cost"]
    assert set(cost) == {"requestedQueryCost", "actualQueryCost", "throttleStatus"}
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0
    assert '"cost"' in response.headers["ratelimit-policy"] and '"requests"' in response.headers["ratelimit-policy"]


async def test_flooding_partner_is_throttled_and_others_are_not(backend: FakeBackend) -> None:
    add_full_pages(backend, "partner-a", "partner-b")
    async with running_app(backend, throttling_settings()) as client:
        statuses = [(await client.gql(QUERY, headers=PARTNER_A)).status_code for _ in range(6)]
        assert 429 in statuses
        throttled = await client.gql(QUERY, headers=PARTNER_A)
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert "ratelimit" in throttled.headers and "ratelimit-policy" in throttled.headers
        assert throttled.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert (await client.gql(QUERY, headers=PARTNER_B)).status_code == 200
        assert (await client.gql(QUERY)).status_code == 200  # operators are measured, not throttled


async def test_max_cost(client: FacadeClient, backend: FakeBackend) -> None:
    page = "orders(first: 100) { nodes { lines { style { sku } } statusHistory { reason } } }"
    expensive = "{ " + " ".join(f"a{i}: {page}" for i in range(3)) + " }"
    response = await client.gql(expensive, headers=PARTNER_A)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED" and error["extensions"]["maxCost"] == 1000
    assert backend.calls["ListOrders"] == 0
    assert (await client.gql(expensive)).status_code == 200  # operators have a higher ceiling


async def test_persisted_queries(client: FacadeClient) -> None:
    digest = hashlib.sha256(QUERY.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    unknown = await client.http.post("/graphql", json={"extensions": apq}, headers=PARTNER_A)
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await client.http.post("/graphql", json={"query": QUERY, "extensions": apq}, headers=PARTNER_A)
    assert registered.json()["data"] == {"orders": {"nodes": []}}
    by_hash = await client.http.post("/graphql", json={"extensions": apq}, headers=PARTNER_A)
    assert by_hash.json()["data"] == {"orders": {"nodes": []}}
    wrong = await client.http.post("/graphql", json={"query": QUERY + " ", "extensions": apq}, headers=PARTNER_A)
    assert wrong.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_requests_that_wait_too_long_on_a_full_replica_are_shed(backend: FakeBackend) -> None:
    backend.delay["ListOrders"] = 0.2
    settings = facade_settings(MES_FACADE_MAX_INFLIGHT="2", MES_FACADE_ADMISSION_WAIT_S="0.05", MES_FACADE_CACHE="0")
    async with running_app(backend, settings) as client:
        responses = await asyncio.gather(*(client.gql(QUERY) for _ in range(5)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503]
    shed = next(r for r in responses if r.status_code == 503)
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"


async def test_request_timeout(backend: FakeBackend) -> None:
    backend.delay["ListOrders"] = 1.0
    settings = facade_settings(MES_FACADE_LIMITS_OPERATOR_REQUEST_TIMEOUT_S="0.1", MES_FACADE_CACHE="0")
    async with running_app(backend, settings) as client:
        response = await client.gql(QUERY)
    assert response.status_code == 504
    assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


async def test_batches_when_enabled(backend: FakeBackend) -> None:
    async with running_app(backend, facade_settings(MES_FACADE_BATCHING="1")) as client:
        response = await client.http.post(
            "/graphql", json=[{"query": QUERY}, {"query": "{ asOf { seq } }"}, {"query": "{ nope }"}], headers=OPERATOR
        )
        assert response.status_code == 200
        first, second, third = response.json()
        assert first["data"] == {"orders": {"nodes": []}} and second["data"]["asOf"]["seq"] == 0
        assert third["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        too_many = await client.http.post("/graphql", json=[{"query": QUERY}] * 6, headers=PARTNER_A)
        assert too_many.status_code == 400
        assert too_many.json()["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"


async def test_health_liveness_and_no_metrics_on_the_public_port(client: FacadeClient, backend: FakeBackend) -> None:
    healthy = await client.http.get("/healthz")
    assert healthy.status_code == 200 and healthy.json()["status"] == "ok"
    assert healthy.json()["services"] == {"orders": True, "inventory": True, "production": True}
    alive = await client.http.get("/livez")
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    # Prometheus metrics are served on a port of their own (tests/integration/graphql_facade/test_facade_server.py)
    assert (await client.http.get("/metrics")).status_code == 404


async def test_metrics_on_the_public_port_only_when_asked() -> None:
    backend = FakeBackend()
    async with running_app(backend, facade_settings(MES_FACADE_METRICS_PORT="public")) as client:
        metrics = await client.http.get("/metrics")
    assert metrics.status_code == 200 and "mes_facade_requests_total" in metrics.text


async def test_health_reports_unreachable_services(backend: FakeBackend) -> None:
    backend.healthy["inventory"] = False
    async with running_app(backend) as client:
        response = await client.http.get("/healthz")
    assert response.status_code == 503 and response.json()["services"]["inventory"] is False


async def test_graphql_answers_a_browser_like_any_caller(backend: FakeBackend) -> None:
    # GraphiQL is a page of its own, /graphiql (tests/unit/graphql_facade/web/test_web_pages.py).
    async with running_app(backend, facade_settings(MES_FACADE_GRAPHIQL="1")) as client:
        page = await client.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("application/json")
