"""The webhooks API over a real gRPC channel, on SQLite and PostgreSQL: endpoints and their
rules (https only without the development flag, no credentials, no private hosts), tenant
isolation, idempotent registration, secrets shown once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from mes.webhooks.v1 import webhooks_pb2 as pb
from mes.webhooks.v1 import webhooks_pb2_grpc
from services.webhooks.bootstrap import SPEC
from tests._infra.ports import LOOPBACK
from tests._infra.services import start_service_under_test
from tests.integration.webhooks._support import STAFF, T, acting

ORDER_STATUS = pb.WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED


async def _create(stub: Any, partner: str, url: str = "https://hooks.example.com/mes", **fields: Any) -> Any:
    request = pb.CreateWebhookEndpointRequest(url=url, event_types=[ORDER_STATUS], **fields)
    return await stub.CreateWebhookEndpoint(request, metadata=acting(partner), timeout=T)


def _violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    return {v.field: v.description for v in bad.field_violations}
    return {}


async def test_an_endpoint_is_registered_read_changed_rotated_disabled_enabled_and_deleted(stub: Any) -> None:
    created = await _create(stub, "acme", description="orders feed", request_id="create-1")
    endpoint = created.endpoint
    assert created.secret.startswith("whsec_")
    assert endpoint.name == f"webhookEndpoints/{endpoint.endpoint_id}" and endpoint.partner == "partners/acme"
    assert endpoint.enabled and list(endpoint.event_types) == [ORDER_STATUS] and endpoint.version == 1

    got = await stub.GetWebhookEndpoint(pb.GetWebhookEndpointRequest(name=endpoint.name), metadata=STAFF, timeout=T)
    assert got.endpoint == endpoint  # never the secret: it is shown once

    update = pb.UpdateWebhookEndpointRequest(
        name=endpoint.name, url="https://hooks.example.com/v2", description="new", version=1
    )
    changed = (await stub.UpdateWebhookEndpoint(update, metadata=acting("acme"), timeout=T)).endpoint
    assert (changed.url, changed.description, changed.version) == ("https://hooks.example.com/v2", "new", 2)
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await stub.UpdateWebhookEndpoint(update, metadata=acting("acme"), timeout=T)
    assert stale.value.code() == grpc.StatusCode.ABORTED

    rotated = await stub.RotateWebhookEndpointSecret(
        pb.RotateWebhookEndpointSecretRequest(name=endpoint.name), metadata=acting("acme"), timeout=T
    )
    assert rotated.secret.startswith("whsec_") and rotated.secret != created.secret
    assert rotated.endpoint.HasField("previous_secret_expire_time")

    disabled = await stub.DisableWebhookEndpoint(
        pb.DisableWebhookEndpointRequest(name=endpoint.name), metadata=STAFF, timeout=T
    )
    assert not disabled.endpoint.enabled and disabled.endpoint.disabled_by == pb.WEBHOOK_DISABLED_BY_OPERATOR
    enabled = await stub.EnableWebhookEndpoint(
        pb.EnableWebhookEndpointRequest(name=endpoint.name), metadata=acting("acme"), timeout=T
    )
    assert enabled.endpoint.enabled and enabled.resumed_deliveries == 0
    log = await stub.ListWebhookLogEntries(
        pb.ListWebhookLogEntriesRequest(parent=endpoint.name), metadata=acting("acme"), timeout=T
    )
    assert [e.kind for e in log.entries] == [
        pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_ENABLED,
        pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_DISABLED,
    ]

    await stub.DeleteWebhookEndpoint(pb.DeleteWebhookEndpointRequest(name=endpoint.name), metadata=STAFF, timeout=T)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stub.GetWebhookEndpoint(pb.GetWebhookEndpointRequest(name=endpoint.name), metadata=STAFF, timeout=T)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_another_partners_endpoint_answers_not_found_everywhere(stub: Any) -> None:
    theirs = (await _create(stub, "acme")).endpoint
    await _create(stub, "globex")
    calls = [
        ("GetWebhookEndpoint", pb.GetWebhookEndpointRequest(name=theirs.name)),
        ("UpdateWebhookEndpoint", pb.UpdateWebhookEndpointRequest(name=theirs.name, description="x")),
        ("EnableWebhookEndpoint", pb.EnableWebhookEndpointRequest(name=theirs.name)),
        ("DisableWebhookEndpoint", pb.DisableWebhookEndpointRequest(name=theirs.name)),
        ("RotateWebhookEndpointSecret", pb.RotateWebhookEndpointSecretRequest(name=theirs.name)),
        ("DeleteWebhookEndpoint", pb.DeleteWebhookEndpointRequest(name=theirs.name)),
        ("ListWebhookDeliveries", pb.ListWebhookDeliveriesRequest(parent=theirs.name)),
        ("ListWebhookLogEntries", pb.ListWebhookLogEntriesRequest(parent=theirs.name)),
        ("ReplayWebhookDeliveries", pb.ReplayWebhookDeliveriesRequest(parent=theirs.name)),
        ("ListWebhookEndpoints", pb.ListWebhookEndpointsRequest(parent="partners/acme")),
        ("CreateWebhookEndpoint", pb.CreateWebhookEndpointRequest(parent="partners/acme", url="https://a.example")),
    ]
    for method, request in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await getattr(stub, method)(request, metadata=acting("globex"), timeout=T)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, method

    own = await stub.ListWebhookEndpoints(pb.ListWebhookEndpointsRequest(), metadata=acting("globex"), timeout=T)
    assert [e.partner for e in own.endpoints] == ["partners/globex"]
    every = await stub.ListWebhookEndpoints(pb.ListWebhookEndpointsRequest(), metadata=STAFF, timeout=T)
    assert sorted(e.partner for e in every.endpoints) == ["partners/acme", "partners/globex"]


async def test_a_page_token_is_bound_to_its_partner(stub: Any) -> None:
    for _ in range(3):
        await _create(stub, "acme")
    page = await stub.ListWebhookEndpoints(
        pb.ListWebhookEndpointsRequest(page_size=2), metadata=acting("acme"), timeout=T
    )
    assert len(page.endpoints) == 2 and page.next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListWebhookEndpoints(
            pb.ListWebhookEndpointsRequest(page_size=2, page_token=page.next_page_token),
            metadata=acting("globex"),
            timeout=T,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rest = await stub.ListWebhookEndpoints(
        pb.ListWebhookEndpointsRequest(page_size=2, page_token=page.next_page_token), metadata=acting("acme"), timeout=T
    )
    assert len(rest.endpoints) == 1 and not rest.next_page_token


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/", "https://"),
        ("https://user:secret@hooks.example.com/", "credentials"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost:8443/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:192.168.0.1]/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https://" + "a" * 2050 + ".com/", "2048"),
        ("ftp://hooks.example.com/", "https://"),
        ("https:///nohost", "host"),
    ],
)
async def test_endpoint_urls_outside_the_rules_are_refused(stub: Any, url: str, problem: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _create(stub, "acme", url=url)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in _violations(err.value)["url"]


@asynccontextmanager
async def _service(make_settings: Any, **env: str) -> AsyncIterator[Any]:
    """The service with ``env`` on top of the suite's settings; a stub on it."""
    async with (
        start_service_under_test(SPEC, make_settings(**env)) as service,
        grpc.aio.insecure_channel(f"{LOOPBACK}:{service.port}") as channel,
    ):
        yield webhooks_pb2_grpc.WebhooksServiceStub(channel)


async def test_the_development_flag_allows_http_and_loopback(make_settings: Any) -> None:
    async with _service(make_settings, MES_DEV_MODE="1") as stub:
        created = await _create(stub, "acme", url="http://127.0.0.1:9/h")
    assert created.endpoint.url == "http://127.0.0.1:9/h"


async def test_registration_is_idempotent_by_request_id_and_checks_its_fields(stub: Any) -> None:
    first = await _create(stub, "acme", request_id="same")
    again = await _create(stub, "acme", request_id="same")
    assert again.endpoint.name == first.endpoint.name and again.secret == first.secret
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await _create(stub, "acme", url="https://other.example.com/", request_id="same")
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.CreateWebhookEndpoint(
            pb.CreateWebhookEndpointRequest(url="https://a.example", event_types=[99], description="x" * 501),
            metadata=acting("acme"),
            timeout=T,
        )
    assert set(_violations(bad.value)) == {"event_types[0]", "description"}
    with pytest.raises(grpc.aio.AioRpcError) as no_parent:
        await stub.CreateWebhookEndpoint(
            pb.CreateWebhookEndpointRequest(url="https://a.example", event_types=[ORDER_STATUS]),
            metadata=STAFF,
            timeout=T,
        )
    assert "parent" in _violations(no_parent.value)


async def test_a_partner_has_at_most_max_endpoints(make_settings: Any) -> None:
    async with _service(make_settings, MES_WEBHOOKS_MAX_ENDPOINTS="2") as stub:
        await _create(stub, "acme")
        await _create(stub, "acme")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _create(stub, "acme")
        await _create(stub, "globex")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
