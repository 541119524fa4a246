"""Partners' webhook endpoints through the facade: registration with an idempotency key and the secret
shown once, changes, enable/disable, rotation, deliveries and the log; tenant isolation, error names,
the installation without webhooks, cost, no response cache, the generic execution path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from graphql import parse
from graphql.execution.values import VariableValues

from clients import InvalidArgumentError, UnavailableError
from clients._errors import FieldViolation
from graphql_facade.backend import client_config
from graphql_facade.compiled import PlanCache, Unsupported, compile_plan
from graphql_facade.errors import graphql_field
from graphql_facade.pipeline.execute import EXECUTIONS
from graphql_facade.response_cache import LIVE_FIELDS, selects_live
from graphql_facade.schema import build_schemas
from mes.webhooks.v1 import webhooks_pb2 as pb
from tests.unit.graphql_facade.conftest import (
    PARTNER_A,
    PARTNER_B,
    FacadeClient,
    facade_settings,
    running_app,
    seeded,
)
from tests.unit.graphql_facade.facade_answers import error_of
from tests.unit.graphql_facade.webhook_fakes import WEBHOOKS_ADDR, FakeWebhooksBackend

CREATE = """mutation($input: CreateWebhookEndpointInput!, $key: String!) {
  createWebhookEndpoint(input: $input, idempotencyKey: $key) {
    secret endpoint { id url description eventTypes state version } } }"""
INPUT = {"url": "https://hooks.example.com/mes", "description": "orders feed", "eventTypes": ["ORDER_STATUS_CHANGED"]}
ENDPOINT = """query($id: ID!) { webhookEndpoint(id: $id) {
  id url description eventTypes state disabledBy disabledReason disableTime failingSince
  secretCreateTime previousSecretExpireTime version createTime } }"""
ENDPOINTS = """query($after: String) { webhookEndpoints(first: 2, after: $after) {
  nodes { id url } pageInfo { hasNextPage endCursor } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateWebhookEndpointInput!, $version: Long) {
  updateWebhookEndpoint(id: $id, input: $input, version: $version) { id url description version } }"""
DELIVERIES = """query($id: ID, $states: [WebhookDeliveryState!]) {
  webhookDeliveries(endpointId: $id, first: 10, states: $states) { nodes {
    id endpointId eventType orderId orderVersion state attempts nextAttemptTime lastHttpStatus lastError
    createTime deliverTime payload } } }"""
LOG = """query($id: ID!) { webhookLog(endpointId: $id, first: 10) { nodes {
  kind logTime deliveryId eventType attempt httpStatus latencyMs error message } } }"""


def body(response: Any) -> dict[str, Any]:
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def hooks() -> FakeWebhooksBackend:
    return seeded(FakeWebhooksBackend())


@pytest.fixture
async def client(hooks: FakeWebhooksBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(hooks, facade_settings(MES_FACADE_WEBHOOKS_ADDR=WEBHOOKS_ADDR)) as c:
        yield c


async def test_an_endpoint_is_registered_once_per_key_and_its_secret_shown(
    client: FacadeClient, hooks: FakeWebhooksBackend
) -> None:
    first = body(await client.gql(CREATE, {"input": INPUT, "key": "hook-1"}, headers=PARTNER_A))
    created = first["data"]["createWebhookEndpoint"]
    endpoint = created["endpoint"]
    assert created["secret"].startswith("whsec_")
    assert endpoint["url"] == INPUT["url"] and endpoint["description"] == "orders feed"
    assert endpoint["eventTypes"] == ["ORDER_STATUS_CHANGED"] and endpoint["state"] == "ENABLED"
    again = body(await client.gql(CREATE, {"input": INPUT, "key": "hook-1"}, headers=PARTNER_A))
    assert again["data"]["createWebhookEndpoint"] == created
    assert len(hooks.endpoints) == 1
    request = next(r for m, r in hooks.requests if m == "CreateWebhookEndpoint")
    assert isinstance(request, pb.CreateWebhookEndpointRequest)
    assert request.request_id == "hook-1" and request.parent == ""
    reused = error_of(
        await client.gql(CREATE, {"input": {**INPUT, "url": INPUT["url"] + "/2"}, "key": "hook-1"}, headers=PARTNER_A)
    )
    assert reused["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert {p for m, p in hooks.partner_calls if m == "CreateWebhookEndpoint"} == {"partner-a"}

    got = body(await client.gql(ENDPOINT, {"id": endpoint["id"]}, headers=PARTNER_A))["data"]["webhookEndpoint"]
    assert got["id"] == endpoint["id"] and got["version"] == 1 and got["createTime"].startswith("2030-01-01")
    assert got["disabledBy"] is None and got["disableTime"] is None and got["previousSecretExpireTime"] is None
    assert "secret" not in got


async def test_registration_needs_an_idempotency_key(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    missing = error_of(await client.gql(CREATE, {"input": INPUT, "key": ""}, headers=PARTNER_A))
    assert missing["extensions"]["code"] == "INVALID_ARGUMENT"
    assert missing["extensions"]["fieldViolations"] == [{"field": "idempotencyKey", "description": "is required"}]
    assert hooks.calls["CreateWebhookEndpoint"] == 0


async def test_endpoints_are_listed_in_pages(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    ids = [hooks.add_endpoint("partner-a").endpoint_id for _ in range(3)]
    hooks.add_endpoint("partner-b")
    first = body(await client.gql(ENDPOINTS, headers=PARTNER_A))["data"]["webhookEndpoints"]
    assert [n["id"] for n in first["nodes"]] == ids[:2] and first["pageInfo"]["hasNextPage"] is True
    after = {"after": first["pageInfo"]["endCursor"]}
    rest = body(await client.gql(ENDPOINTS, after, headers=PARTNER_A))["data"]["webhookEndpoints"]
    assert [n["id"] for n in rest["nodes"]] == ids[2:] and rest["pageInfo"]["hasNextPage"] is False


async def test_a_bad_url_names_the_input_field(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    bad = error_of(
        await client.gql(CREATE, {"input": {**INPUT, "url": "http://10.0.0.1/x"}, "key": "k"}, headers=PARTNER_A)
    )
    assert bad["extensions"]["code"] == "INVALID_ARGUMENT"
    assert bad["extensions"]["fieldViolations"] == [{"field": "input.url", "description": "must be an https URL"}]
    endpoint = hooks.add_endpoint("partner-a")
    changed = error_of(
        await client.gql(UPDATE, {"id": endpoint.endpoint_id, "input": {"url": "ftp://x"}}, headers=PARTNER_A)
    )
    assert [v["field"] for v in changed["extensions"]["fieldViolations"]] == ["input.url"]
    hooks.fail["CreateWebhookEndpoint"] = InvalidArgumentError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid request",
        violations=[FieldViolation("event_types[0]", "unknown"), FieldViolation("description", "too long")],
    )
    both = error_of(await client.gql(CREATE, {"input": INPUT, "key": "k2"}, headers=PARTNER_A))
    assert [v["field"] for v in both["extensions"]["fieldViolations"]] == ["input.eventTypes[0]", "input.description"]


async def test_an_endpoint_is_changed_with_its_version(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    endpoint = hooks.add_endpoint("partner-a")
    variables = {"id": endpoint.endpoint_id, "input": {"description": "new"}, "version": 1}
    changed = body(await client.gql(UPDATE, variables, headers=PARTNER_A))["data"]["updateWebhookEndpoint"]
    assert changed == {"id": endpoint.endpoint_id, "url": endpoint.url, "description": "new", "version": 2}
    stale = error_of(await client.gql(UPDATE, variables, headers=PARTNER_A))
    assert stale["extensions"]["code"] == "VERSION_CONFLICT"
    empty = error_of(
        await client.gql(UPDATE, {"id": endpoint.endpoint_id, "input": {"eventTypes": []}}, headers=PARTNER_A)
    )
    assert empty["extensions"]["fieldViolations"][0]["field"] == "input.eventTypes"
    assert hooks.calls["UpdateWebhookEndpoint"] == 2


async def test_disable_enable_rotate_and_delete(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    endpoint = hooks.add_endpoint("partner-a")
    hooks.add_delivery(endpoint, "ord1", state=pb.WEBHOOK_DELIVERY_STATE_HELD)
    variables = {"id": endpoint.endpoint_id}
    disable = """mutation($id: ID!) { disableWebhookEndpoint(id: $id, reason: "maintenance") {
      state disabledBy disabledReason disableTime } }"""
    disabled = body(await client.gql(disable, variables, headers=PARTNER_A))["data"]["disableWebhookEndpoint"]
    assert disabled["state"] == "DISABLED" and disabled["disabledBy"] == "PARTNER"
    assert disabled["disabledReason"] == "maintenance" and disabled["disableTime"] is not None
    enable = "mutation($id: ID!) { enableWebhookEndpoint(id: $id) { resumedDeliveries endpoint { state disabledBy } } }"
    enabled = body(await client.gql(enable, variables, headers=PARTNER_A))["data"]["enableWebhookEndpoint"]
    assert enabled == {"resumedDeliveries": 1, "endpoint": {"state": "ENABLED", "disabledBy": None}}
    rotate = (
        "mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) { secret endpoint { previousSecretExpireTime } } }"
    )
    rotated = body(await client.gql(rotate, variables, headers=PARTNER_A))["data"]["rotateWebhookEndpointSecret"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != f"whsec_{endpoint.endpoint_id}_1"
    assert rotated["endpoint"]["previousSecretExpireTime"].startswith("2030-01-02")
    delete = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }"
    assert body(await client.gql(delete, variables, headers=PARTNER_A))["data"] == {
        "deleteWebhookEndpoint": endpoint.endpoint_id
    }
    assert body(await client.gql(ENDPOINT, variables, headers=PARTNER_A))["data"] == {"webhookEndpoint": None}


async def test_deliveries_and_the_log(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    endpoint = hooks.add_endpoint("partner-a")
    hooks.add_delivery(endpoint, "ord1", state=pb.WEBHOOK_DELIVERY_STATE_DELIVERED, attempts=1, last_http_status=204)
    hooks.add_delivery(endpoint, "ord2", state=pb.WEBHOOK_DELIVERY_STATE_DEAD, attempts=9, last_error="timeout")
    hooks.add_log(
        endpoint,
        kind=pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_DISABLED,
        message="disabled after failing for 3 days; 2 pending deliveries are kept until the endpoint is enabled",
    )
    hooks.add_log(
        endpoint,
        kind=pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT,
        delivery_id="msg_ord2",
        event_type=pb.WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED,
        attempt=9,
        latency_ms=0,
        error="timeout",
    )
    every = body(await client.gql(DELIVERIES, {"id": endpoint.endpoint_id}, headers=PARTNER_A))
    nodes = every["data"]["webhookDeliveries"]["nodes"]
    assert [n["id"] for n in nodes] == ["msg_ord2", "msg_ord1"]
    assert nodes[0]["state"] == "DEAD" and nodes[0]["lastError"] == "timeout" and nodes[0]["lastHttpStatus"] is None
    assert nodes[1] | {"createTime": None} == {
        "id": "msg_ord1",
        "endpointId": endpoint.endpoint_id,
        "eventType": "ORDER_STATUS_CHANGED",
        "orderId": "ord1",
        "orderVersion": 2,
        "state": "DELIVERED",
        "attempts": 1,
        "nextAttemptTime": None,
        "lastHttpStatus": 204,
        "lastError": None,
        "createTime": None,
        "deliverTime": None,
        "payload": '{"type":"order.status_changed"}',
    }
    dead = body(await client.gql(DELIVERIES, {"id": endpoint.endpoint_id, "states": ["DEAD"]}, headers=PARTNER_A))
    assert [n["id"] for n in dead["data"]["webhookDeliveries"]["nodes"]] == ["msg_ord2"]
    mine = body(await client.gql(DELIVERIES, {"id": None}, headers=PARTNER_A))
    assert len(mine["data"]["webhookDeliveries"]["nodes"]) == 2
    request = [r for m, r in hooks.requests if m == "ListWebhookDeliveries"][-1]
    assert isinstance(request, pb.ListWebhookDeliveriesRequest) and request.parent == ""

    log = body(await client.gql(LOG, {"id": endpoint.endpoint_id}, headers=PARTNER_A))["data"]["webhookLog"]["nodes"]
    assert [e["kind"] for e in log] == ["ATTEMPT", "ENDPOINT_DISABLED"]
    assert log[0]["deliveryId"] == "msg_ord2" and log[0]["attempt"] == 9 and log[0]["latencyMs"] == 0
    assert log[1]["message"].startswith("disabled after failing for 3 days") and log[1]["latencyMs"] is None
    assert log[1]["deliveryId"] is None and log[1]["error"] is None


async def test_a_bad_endpoint_id_of_a_list_is_named_after_the_argument(
    client: FacadeClient, hooks: FakeWebhooksBackend
) -> None:
    bad = error_of(await client.gql(LOG, {"id": "bad id!"}, headers=PARTNER_A))
    assert bad["extensions"]["fieldViolations"][0]["field"] == "endpointId"
    endpoint = hooks.add_endpoint("partner-a")
    hooks.fail["ListWebhookLogEntries"] = InvalidArgumentError(
        grpc.StatusCode.INVALID_ARGUMENT, "bad", violations=[FieldViolation("parent", "is not an endpoint")]
    )
    named = error_of(await client.gql(LOG, {"id": endpoint.endpoint_id}, headers=PARTNER_A))
    assert named["extensions"]["fieldViolations"] == [{"field": "endpointId", "description": "is not an endpoint"}]
    assert graphql_field("parent", ("endpointId", "first")) == "endpointId"
    assert graphql_field("parent") == "parent"  # fields without that argument keep it


async def test_another_partners_endpoint_looks_missing(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    theirs = hooks.add_endpoint("partner-a")
    hooks.add_delivery(theirs, "ord1")
    hooks.add_log(theirs, kind=pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_ENABLED, message="enabled")
    for headers in (PARTNER_A, PARTNER_B):
        hooks.reset_calls()
        listed = body(await client.gql(ENDPOINTS, headers=headers))["data"]["webhookEndpoints"]["nodes"]
        assert listed == ([{"id": theirs.endpoint_id, "url": theirs.url}] if headers is PARTNER_A else [])
        assert {p for _, p in hooks.partner_calls if p} == {"partner-a" if headers is PARTNER_A else "partner-b"}
    foreign = await client.gql(ENDPOINT, {"id": theirs.endpoint_id}, headers=PARTNER_B)
    missing = await client.gql(ENDPOINT, {"id": "ep_missing"}, headers=PARTNER_B)
    assert body(foreign)["data"] == body(missing)["data"] == {"webhookEndpoint": None}
    assert "errors" not in body(foreign) and "errors" not in body(missing)
    assert (
        body(await client.gql(DELIVERIES, {"id": None}, headers=PARTNER_B))["data"]["webhookDeliveries"]["nodes"] == []
    )
    mutations = (
        (UPDATE, {"input": {"description": "x"}}),
        ("mutation($id: ID!) { disableWebhookEndpoint(id: $id) { id } }", {}),
        ("mutation($id: ID!) { enableWebhookEndpoint(id: $id) { resumedDeliveries } }", {}),
        ("mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) { secret } }", {}),
        ("mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }", {}),
        (DELIVERIES, {}),
        (LOG, {}),
    )
    for document, extra in mutations:
        foreign_error = error_of(await client.gql(document, {"id": theirs.endpoint_id, **extra}, headers=PARTNER_B))
        missing_error = error_of(await client.gql(document, {"id": "ep_missing", **extra}, headers=PARTNER_B))
        assert foreign_error["extensions"]["code"] == "NOT_FOUND"
        assert (foreign_error["message"], foreign_error["extensions"]) == (
            missing_error["message"],
            missing_error["extensions"],
        )
    assert theirs.endpoint_id in hooks.endpoints and hooks.endpoints[theirs.endpoint_id].enabled


async def test_without_the_webhooks_service_the_fields_say_so(hooks: FakeWebhooksBackend) -> None:
    async with running_app(hooks, facade_settings()) as plain:
        for document, variables in (
            (ENDPOINTS, None),
            (ENDPOINT, {"id": "ep_1"}),
            (LOG, {"id": "ep_1"}),
            (CREATE, {"input": INPUT, "key": "k"}),
            ('mutation { rotateWebhookEndpointSecret(id: "ep_1") { secret } }', None),
        ):
            response = await plain.gql(document, variables, headers=PARTNER_A)
            assert response.status_code == 200  # not an outage: nothing to retry
            error = error_of(response)
            assert error["extensions"] == {"code": "WEBHOOKS_NOT_ENABLED"}
            assert error["message"] == "Webhooks are not enabled on this installation."
        # the rest of the schema is unaffected
        assert "errors" not in body(await plain.gql("{ styles(first: 1) { nodes { sku } } }", headers=PARTNER_A))
    assert not any(method.startswith(("Create", "Get", "ListWebhook", "Rotate")) for method in hooks.calls)


async def test_an_outage_of_the_webhooks_service_is_unavailable(
    client: FacadeClient, hooks: FakeWebhooksBackend
) -> None:
    hooks.fail["ListWebhookEndpoints"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "connection refused")
    response = await client.gql(ENDPOINTS, headers=PARTNER_A)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert error_of(response)["extensions"]["code"] == "UNAVAILABLE"


async def test_webhook_answers_are_never_served_from_the_cache(
    client: FacadeClient, hooks: FakeWebhooksBackend
) -> None:
    endpoint = hooks.add_endpoint("partner-a")
    read = {"id": endpoint.endpoint_id}
    first = await client.gql(ENDPOINT, read, headers=PARTNER_A)
    assert body(first)["data"]["webhookEndpoint"]["description"] == ""
    changed = {"id": endpoint.endpoint_id, "input": {"description": "changed"}}
    assert "errors" not in body(await client.gql(UPDATE, changed, headers=PARTNER_A))
    second = await client.gql(ENDPOINT, read, headers=PARTNER_A)
    assert body(second)["data"]["webhookEndpoint"]["description"] == "changed"
    third = await client.gql(ENDPOINT, read, headers=PARTNER_A)
    assert hooks.calls["GetWebhookEndpoint"] == 3
    assert body(third)["data"] == body(second)["data"]
    responses = client.facade.responses
    assert responses is not None and len(responses.table) == 0
    # the catalogue beside them still is cached
    styles = "{ styles(first: 1) { nodes { sku } } }"
    await client.gql(styles, headers=PARTNER_A)
    await client.gql(styles, headers=PARTNER_A)
    assert hooks.calls["ListStyles"] == 1


def test_live_fields_are_found_through_fragments() -> None:
    assert {"webhookEndpoints", "webhookEndpoint", "webhookDeliveries", "webhookLog", "me"} == LIVE_FIELDS
    for document in (
        '{ webhookEndpoint(id: "e") { id } }',
        """{ styles(first: 1) { nodes { sku } }
        ... on Query { webhookLog(endpointId: "e", first: 1) { nodes { kind } } } }""",
        """query { ...F } fragment F on Query { ...G }
        fragment G on Query { webhookEndpoints(first: 1) { nodes { id } } }""",
        "query { ...F } fragment F on Query { ...F webhookDeliveries(first: 1) { nodes { id } } }",
    ):
        assert selects_live(parse(document), None), document
    assert not selects_live(parse("{ styles(first: 1) { nodes { sku } } }"), None)
    two = parse('query A { styles(first: 1) { nodes { sku } } } query B { webhookEndpoint(id: "e") { id } }')
    assert not selects_live(two, "A") and selects_live(two, "B")


async def test_lists_cost_by_first(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    endpoint = hooks.add_endpoint("partner-a")
    query = """query($id: ID!) { webhookEndpoints(first: 30) { nodes { id } }
      webhookLog(endpointId: $id, first: 20) { edges { node { kind } } } }"""
    answer = body(await client.gql(query, {"id": endpoint.endpoint_id}, headers=PARTNER_A))
    assert "errors" not in answer
    assert answer["extensions"]["cost"]["requestedQueryCost"] == (2 + 30 * 1) + (2 + 20 * 1)
    too_many = error_of(await client.gql("{ webhookEndpoints(first: 101) { nodes { id } } }", headers=PARTNER_A))
    assert too_many["extensions"]["code"] == "PAGINATION_ARGUMENT_OUT_OF_RANGE"
    mutation = body(await client.gql(CREATE, {"input": INPUT, "key": "cost"}, headers=PARTNER_A))
    assert mutation["extensions"]["cost"]["requestedQueryCost"] == 10 + 1


async def test_webhook_queries_run_on_the_generic_path(client: FacadeClient, hooks: FakeWebhooksBackend) -> None:
    schema = build_schemas().partner_documents.graphql
    specs = PlanCache().specs["partner"]
    none = VariableValues({}, {})
    for field in sorted(LIVE_FIELDS):
        assert field not in specs["Query"]
    with pytest.raises(Unsupported, match=r"Query\.webhookEndpoints"):
        compile_plan(schema, specs, parse("{ webhookEndpoints(first: 1) { nodes { id } } }"), None, none)
    endpoint = hooks.add_endpoint("partner-a")
    before = EXECUTIONS.labels("compiled")._value.get(), EXECUTIONS.labels("generic")._value.get()
    mixed = "query($id: ID!) { styles(first: 1) { nodes { sku } } webhookEndpoint(id: $id) { url } }"
    answer = body(await client.gql(mixed, {"id": endpoint.endpoint_id}, headers=PARTNER_A))
    assert answer["data"]["webhookEndpoint"] == {"url": endpoint.url} and answer["data"]["styles"]["nodes"]
    after = EXECUTIONS.labels("compiled")._value.get(), EXECUTIONS.labels("generic")._value.get()
    assert after == (before[0], before[1] + 1)


def test_operators_have_no_webhook_fields() -> None:
    schemas = build_schemas()
    operator = schemas.operator_documents.graphql
    partner = schemas.partner_documents.graphql
    assert operator.query_type is not None and operator.mutation_type is not None
    assert partner.query_type is not None and partner.mutation_type is not None
    assert set(partner.query_type.fields) >= LIVE_FIELDS - {"me"}  # `me` is the operators' field
    assert "me" in operator.query_type.fields
    assert not any("webhook" in name.lower() for name in operator.query_type.fields)
    assert not any("webhook" in name.lower() for name in operator.mutation_type.fields)
    assert not any(name.startswith("Webhook") for name in operator.type_map)
    mutations = {name for name in partner.mutation_type.fields if "Webhook" in name}
    assert mutations == {
        "createWebhookEndpoint",
        "updateWebhookEndpoint",
        "enableWebhookEndpoint",
        "disableWebhookEndpoint",
        "rotateWebhookEndpointSecret",
        "deleteWebhookEndpoint",
    }


def test_the_backend_calls_the_configured_webhooks_service() -> None:
    assert client_config(
        facade_settings(MES_FACADE_WEBHOOKS_ADDR="ipv4:10.0.0.5:50154,10.0.0.6:50154")
    ).webhooks_addr == ("ipv4:10.0.0.5:50154,10.0.0.6:50154")
    assert facade_settings().webhooks_addr is None
