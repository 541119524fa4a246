"""Partners' webhook endpoints through the real facade app and a real webhooks service (gRPC, SQLite),
with the orders service authenticating the partners' keys and order events on a private nats-server:
registration (idempotent, the secret shown once), list, change, rotation, disable/enable with the
kept deliveries resumed, deliveries and the log; another partner sees nothing; the URL rules of
production; an installation without the webhooks service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mes.webhooks.v1 import webhooks_pb2_grpc
from services.webhooks.bootstrap import SPEC
from tests._infra.ports import LOOPBACK
from tests._infra.services import ServiceUnderTest, start_service_under_test
from tests.integration.graphql_facade.conftest import Facades, facade_app
from tests.integration.graphql_facade.facade_stack import AUTH_TOKENS, Stack, create_partner
from tests.integration.webhooks._orders import OrderEvents, order_events_on
from tests.integration.webhooks._receiver import Receiver, running_receiver
from tests.integration.webhooks._support import FAST, eventually
from tests.unit.graphql_facade.facade_answers import data_of, error_of

WEBHOOKS = ServiceUnderTest(
    SPEC,
    webhooks_pb2_grpc.WebhooksServiceStub,
    env={"MES_AUTH_TOKENS": AUTH_TOKENS, "MES_PAGE_TOKEN_SECRET": "test-secret", "MES_LOG_FORMAT": "console"},
)
CREATE = """mutation($input: CreateWebhookEndpointInput!, $key: String!) {
  createWebhookEndpoint(input: $input, idempotencyKey: $key) {
    secret endpoint { id url description eventTypes state version createTime } } }"""
ENDPOINT = """query($id: ID!) { webhookEndpoint(id: $id) {
  id url description state disabledBy disabledReason disableTime version previousSecretExpireTime } }"""
ENDPOINTS = "{ webhookEndpoints(first: 10) { nodes { id url } pageInfo { hasNextPage } } }"
UPDATE = """mutation($id: ID!, $input: UpdateWebhookEndpointInput!, $version: Long) {
  updateWebhookEndpoint(id: $id, input: $input, version: $version) { id url description version } }"""
DISABLE = """mutation($id: ID!) { disableWebhookEndpoint(id: $id, reason: "receiver maintenance") {
  state disabledBy disabledReason disableTime } }"""
ENABLE = "mutation($id: ID!) { enableWebhookEndpoint(id: $id) { resumedDeliveries endpoint { state disabledBy } } }"
ROTATE = """mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) {
  secret endpoint { version previousSecretExpireTime } } }"""
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }"
DELIVERIES = """query($id: ID, $states: [WebhookDeliveryState!]) {
  webhookDeliveries(endpointId: $id, first: 50, states: $states) { nodes {
    id endpointId eventType orderId orderVersion state attempts lastHttpStatus lastError createTime deliverTime } } }"""
LOG = """query($id: ID!) { webhookLog(endpointId: $id, first: 50) { nodes {
  kind logTime deliveryId attempt httpStatus message } } }"""
ORDER_STATUS = ["ORDER_STATUS_CHANGED"]


@dataclass
class Partners:
    a: dict[str, str]
    b: dict[str, str]


@pytest.fixture
async def partners(stack: Stack) -> Partners:
    return Partners(
        {"X-API-Key": await create_partner(stack, "hooks-a")}, {"X-API-Key": await create_partner(stack, "hooks-b")}
    )


@pytest.fixture
async def make_webhooks(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await make_webhooks(**env)``: a webhooks service in process (its own database), its address."""
    async with AsyncExitStack() as stack:
        count = 0

        async def make(**env: str) -> str:
            nonlocal count
            count += 1
            db_url = f"sqlite+aiosqlite:///{tmp_path / f'webhooks-{count}.db'}"
            service = await stack.enter_async_context(
                start_service_under_test(SPEC, WEBHOOKS.settings(db_url, tmp_path, **env))
            )
            return f"{LOOPBACK}:{service.port}"

        yield make


@pytest.fixture
async def order_events(make_nats_server: Callable[..., Any]) -> AsyncIterator[tuple[str, OrderEvents]]:
    """A private nats-server and a publisher of order events on it (start the service first)."""
    url = str(make_nats_server().url)
    async with order_events_on(url) as events:
        yield url, events


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as started:
        yield started


async def _deliveries(
    facade: Facades, headers: dict[str, str], endpoint_id: str | None, *states: str
) -> list[dict[str, Any]]:
    variables = {"id": endpoint_id, "states": list(states) or None}
    nodes: list[dict[str, Any]] = data_of(await facade.gql(DELIVERIES, variables, headers=headers))[
        "webhookDeliveries"
    ]["nodes"]
    return nodes


async def test_a_partner_manages_its_endpoint_and_reads_its_deliveries(
    stack: Stack,
    partners: Partners,
    make_webhooks: Callable[..., Any],
    order_events: tuple[str, OrderEvents],
    receiver: Receiver,
) -> None:
    nats_url, events = order_events
    address = await make_webhooks(NATS_URL=nats_url, MES_DEV_MODE="1", **FAST)
    a, b = partners.a, partners.b
    async with facade_app(stack.facade_settings(MES_FACADE_WEBHOOKS_ADDR=address)) as facade:
        # register: the secret is shown; a retry with the same key answers the same endpoint and secret
        url = receiver.url("/hooks-a")
        variables = {"input": {"url": url, "description": "orders feed", "eventTypes": ORDER_STATUS}, "key": "reg-1"}
        created = data_of(await facade.gql(CREATE, variables, headers=a))["createWebhookEndpoint"]
        endpoint, secret = created["endpoint"], created["secret"]
        assert secret.startswith("whsec_")
        assert (endpoint["url"], endpoint["description"], endpoint["state"]) == (url, "orders feed", "ENABLED")
        assert endpoint["eventTypes"] == ORDER_STATUS and endpoint["version"] == 1
        retried = data_of(await facade.gql(CREATE, variables, headers=a))["createWebhookEndpoint"]
        assert retried == created
        endpoint_id = endpoint["id"]
        listed = data_of(await facade.gql(ENDPOINTS, headers=a))["webhookEndpoints"]
        assert listed == {"nodes": [{"id": endpoint_id, "url": url}], "pageInfo": {"hasNextPage": False}}

        # deliveries of the partner's order events reach the receiver, signed with the secret
        route = receiver.route("/hooks-a", [secret])
        order_id = str(uuid.uuid4())
        await events.lifecycle(order_id, "hooks-a", "PO-1", steps=2)

        async def delivered() -> list[dict[str, Any]]:
            found = await _deliveries(facade, a, endpoint_id, "DELIVERED")
            return found if len(found) == 2 else []

        done = await eventually(delivered, what="both deliveries DELIVERED")
        assert route.bad_signatures == 0 and len(route.processed) == 2
        assert {d["id"] for d in done} == route.seen
        assert {(d["orderId"], d["orderVersion"]) for d in done} == {(order_id, 1), (order_id, 2)}
        assert all(d["endpointId"] == endpoint_id and d["eventType"] == "ORDER_STATUS_CHANGED" for d in done)
        assert all(d["attempts"] >= 1 and d["lastHttpStatus"] == 200 and d["deliverTime"] for d in done)
        assert len(await _deliveries(facade, a, endpoint_id)) == 2

        # change it; the next read shows the change (never a cached answer)
        before = data_of(await facade.gql(ENDPOINT, {"id": endpoint_id}, headers=a))["webhookEndpoint"]
        assert before["description"] == "orders feed"
        change = {"id": endpoint_id, "input": {"description": "orders feed v2"}, "version": before["version"]}
        changed = data_of(await facade.gql(UPDATE, change, headers=a))["updateWebhookEndpoint"]
        assert changed["description"] == "orders feed v2" and changed["version"] == before["version"] + 1
        after = data_of(await facade.gql(ENDPOINT, {"id": endpoint_id}, headers=a))["webhookEndpoint"]
        assert after["description"] == "orders feed v2" and after["version"] == changed["version"]
        stale = error_of(await facade.gql(UPDATE, change, headers=a))
        assert stale["extensions"]["code"] == "VERSION_CONFLICT"

        # rotate: a new secret; the previous one keeps signing for the overlap
        rotated = data_of(await facade.gql(ROTATE, {"id": endpoint_id}, headers=a))["rotateWebhookEndpointSecret"]
        new_secret = rotated["secret"]
        assert new_secret.startswith("whsec_") and new_secret != secret
        overlap = datetime.fromisoformat(rotated["endpoint"]["previousSecretExpireTime"]) - datetime.now(UTC)
        assert timedelta(hours=23) < overlap <= timedelta(hours=24)
        route.secrets = [new_secret]

        # disabled: events are kept; enabled: they resume
        disabled = data_of(await facade.gql(DISABLE, {"id": endpoint_id}, headers=a))["disableWebhookEndpoint"]
        assert disabled["state"] == "DISABLED" and disabled["disabledBy"] == "PARTNER"
        assert disabled["disabledReason"] == "receiver maintenance" and disabled["disableTime"]
        await events.changed(order_id, "hooks-a", "ACCEPTED", "IN_PRODUCTION", 3)

        async def held() -> list[dict[str, Any]]:
            return await _deliveries(facade, a, endpoint_id, "HELD")

        assert [d["orderVersion"] for d in await eventually(held, what="the delivery kept")] == [3]
        enabled = data_of(await facade.gql(ENABLE, {"id": endpoint_id}, headers=a))["enableWebhookEndpoint"]
        assert enabled == {"resumedDeliveries": 1, "endpoint": {"state": "ENABLED", "disabledBy": None}}

        async def three() -> list[dict[str, Any]]:
            found = await _deliveries(facade, a, endpoint_id, "DELIVERED")
            return found if len(found) == 3 else []

        await eventually(three, what="the kept delivery DELIVERED")
        assert route.bad_signatures == 0 and len(route.processed) == 3

        log = data_of(await facade.gql(LOG, {"id": endpoint_id}, headers=a))["webhookLog"]["nodes"]
        kinds = [entry["kind"] for entry in log]
        assert {"ATTEMPT", "ENDPOINT_DISABLED", "ENDPOINT_ENABLED"} <= set(kinds)
        assert kinds.index("ENDPOINT_ENABLED") < kinds.index("ENDPOINT_DISABLED")  # newest first
        notice = next(entry for entry in log if entry["kind"] == "ENDPOINT_DISABLED")
        assert "receiver maintenance" in notice["message"] and notice["deliveryId"] is None
        attempts = [entry for entry in log if entry["kind"] == "ATTEMPT"]
        assert all(entry["httpStatus"] == 200 and entry["attempt"] >= 1 for entry in attempts)

        # another partner sees none of it: exactly like a missing endpoint
        assert data_of(await facade.gql(ENDPOINTS, headers=b))["webhookEndpoints"]["nodes"] == []
        assert await _deliveries(facade, b, None) == []  # all of its own: none
        for document, extra in (
            (ENDPOINT, {}),
            (DELIVERIES, {}),
            (LOG, {}),
            (UPDATE, {"input": {"description": "mine now"}}),
            (DISABLE, {}),
            (ENABLE, {}),
            (ROTATE, {}),
            (DELETE, {}),
        ):
            foreign = (await facade.gql(document, {"id": endpoint_id, **extra}, headers=b)).json()
            missing = (await facade.gql(document, {"id": "ep_aaaaaaaaaaaaaaaaaaaa", **extra}, headers=b)).json()
            if document is ENDPOINT:
                assert foreign["data"] == missing["data"] == {"webhookEndpoint": None}
                continue
            assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND", (document, foreign)
            assert [(e["message"], e["extensions"]) for e in foreign["errors"]] == [
                (e["message"], e["extensions"]) for e in missing["errors"]
            ]
        unchanged = data_of(await facade.gql(ENDPOINT, {"id": endpoint_id}, headers=a))["webhookEndpoint"]
        assert unchanged["description"] == "orders feed v2" and unchanged["state"] == "ENABLED"

        # a bad URL names the input field
        bad = {"input": {"url": "ftp://hooks.example.com/x", "eventTypes": ORDER_STATUS}, "key": "reg-bad"}
        refused = error_of(await facade.gql(CREATE, bad, headers=a))
        assert refused["extensions"]["code"] == "INVALID_ARGUMENT"
        assert [v["field"] for v in refused["extensions"]["fieldViolations"]] == ["input.url"]

        # delete: gone, with its deliveries
        assert data_of(await facade.gql(DELETE, {"id": endpoint_id}, headers=a)) == {
            "deleteWebhookEndpoint": endpoint_id
        }
        assert data_of(await facade.gql(ENDPOINT, {"id": endpoint_id}, headers=a)) == {"webhookEndpoint": None}
        gone = error_of(await facade.gql(DELIVERIES, {"id": endpoint_id}, headers=a))
        assert gone["extensions"]["code"] == "NOT_FOUND"


async def test_production_url_rules_and_an_installation_without_webhooks(
    stack: Stack, partners: Partners, make_webhooks: Callable[..., Any]
) -> None:
    address = await make_webhooks(MES_DEV_MODE="0")  # the API alone, production rules
    async with facade_app(stack.facade_settings(MES_FACADE_WEBHOOKS_ADDR=address)) as facade:
        for index, url in enumerate(("http://hooks.example.com/mes", "https://10.1.2.3/mes", "https://localhost/x")):
            variables = {"input": {"url": url, "eventTypes": ORDER_STATUS}, "key": f"bad-{index}"}
            refused = error_of(await facade.gql(CREATE, variables, headers=partners.a))
            assert refused["extensions"]["code"] == "INVALID_ARGUMENT", url
            assert [v["field"] for v in refused["extensions"]["fieldViolations"]] == ["input.url"], url
        good = {"input": {"url": "https://hooks.example.com/mes", "eventTypes": ORDER_STATUS}, "key": "good"}
        assert data_of(await facade.gql(CREATE, good, headers=partners.a))["createWebhookEndpoint"]["secret"]
        no_types = {"input": {"url": "https://hooks.example.com/mes", "eventTypes": []}, "key": "none"}
        empty = error_of(await facade.gql(CREATE, no_types, headers=partners.a))
        assert [v["field"] for v in empty["extensions"]["fieldViolations"]] == ["input.eventTypes"]

    async with facade_app(stack.facade_settings()) as plain:
        for document, variables in ((ENDPOINTS, None), (CREATE, good), (ENDPOINT, {"id": "ep_x"})):
            response = await plain.gql(document, variables, headers=partners.a)
            assert response.status_code == 200
            error = error_of(response)
            assert error["extensions"]["code"] == "WEBHOOKS_NOT_ENABLED"
            assert error["message"] == "Webhooks are not enabled on this installation."
        assert "errors" not in (await plain.gql("{ styles(first: 1) { nodes { sku } } }", headers=partners.a)).json()
