"""``promtool check metrics`` (Prometheus' naming lint: units, ``_total`` on counters only, help texts...)
over the real ``/metrics`` of a running service and of the facade, after traffic has given their
labelled metrics samples."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc
from tests._infra.ports import free_port
from tests.integration.observability.conftest import SERVICE_TOKEN, StartInventory
from tests.integration.observability.obs_helpers import promtool, run, sample_value, scrape
from tests.unit.graphql_facade.conftest import OPERATOR, PARTNER_A, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend


def lint(tool: str, text: str) -> None:
    result = run([tool, "check", "metrics"], stdin=text)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.system
async def test_a_services_metrics_pass_the_lint(
    request: pytest.FixtureRequest, start_inventory: StartInventory
) -> None:
    tool = promtool(request)
    async with start_inventory() as app:
        assert app.metrics is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = inventory_pb2_grpc.InventoryServiceStub(channel)
            alloy = pb.Alloy(code="AU750Y", metal=pb.METAL_GOLD, fineness=750, colour="yellow", display_name="18k")
            await stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=alloy), metadata=SERVICE_TOKEN, timeout=10)
        deadline = time.monotonic() + 30
        while True:  # the relay published the event and the gauges were read since
            text = await asyncio.to_thread(scrape, app.metrics.url)
            published = sample_value(text, "mes_events_published_total", service="inventory")
            if published and sample_value(text, "mes_outbox_unpublished_events", service="inventory") == 0:
                break
            assert time.monotonic() < deadline, text
            await asyncio.sleep(0.1)
    assert sample_value(text, "mes_consumer_pending_messages", stream="ORDERS", consumer="inventory-order-events") == 0
    lint(tool, text)


@pytest.mark.system
async def test_the_facades_metrics_pass_the_lint(request: pytest.FixtureRequest) -> None:
    tool = promtool(request)
    backend = FakeBackend()
    backend.add_catalogue()
    backend.add_partner("partner-a", PARTNER_A[next(iter(PARTNER_A))])
    port = free_port()
    async with running_app(backend, facade_settings(MES_FACADE_METRICS_PORT=str(port))) as client:
        named = "query LintStyles { styles(first: 2) { nodes { sku } } }"
        assert (await client.gql(named, headers=PARTNER_A)).status_code == 200
        assert (await client.gql("{ styles(first: 2) { nodes { sku } } }", headers=OPERATOR)).status_code == 200
        assert (await client.gql("{ nope }", headers=OPERATOR)).status_code == 400
        text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")
    labels = {"audience": "partner", "operation": "LintStyles", "outcome": "ok"}
    assert (sample_value(text, "mes_graphql_requests_total", **labels) or 0) >= 1
    lint(tool, text)
