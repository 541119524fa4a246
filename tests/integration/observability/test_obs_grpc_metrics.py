"""RED of a real gRPC server (inventory in process): every call of its own methods counted under the
status the caller received (answered, refused without credentials, not decodable) and timed; health
checks are not counted."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc
from tests.integration.observability.conftest import SERVICE_TOKEN, StartInventory
from tests.integration.observability.obs_helpers import sample_value, scrape

CODES = ("OK", "UNAUTHENTICATED", "INVALID_ARGUMENT")


def counts(text: str, method: str) -> dict[str, float]:
    labels = {"service": "inventory", "method": method}
    return {code: sample_value(text, "mes_grpc_server_requests_total", code=code, **labels) or 0.0 for code in CODES}


def timed(text: str, method: str) -> float:
    labels = {"service": "inventory", "method": method}
    return sample_value(text, "mes_grpc_server_request_duration_seconds_count", **labels) or 0.0


async def test_each_call_is_counted_under_the_status_the_caller_got(start_inventory: StartInventory) -> None:
    async with start_inventory() as app:
        assert app.metrics is not None
        before = await asyncio.to_thread(scrape, app.metrics.url)
        received: list[grpc.StatusCode] = []
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = inventory_pb2_grpc.InventoryServiceStub(channel)
            alloy = pb.Alloy(code="AU750Y", metal=pb.METAL_GOLD, fineness=750, colour="yellow", display_name="18k")
            await stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=alloy), metadata=SERVICE_TOKEN, timeout=10)
            await stub.ListAlloys(pb.ListAlloysRequest(page_size=10), metadata=SERVICE_TOKEN, timeout=10)
            try:
                await stub.ListAlloys(pb.ListAlloysRequest(page_size=10), timeout=10)  # no credentials
            except grpc.aio.AioRpcError as err:
                received.append(err.code())
            raw = channel.unary_unary("/mes.inventory.v1.InventoryService/ListAlloys")
            try:
                await raw(b"\xff\xff\xff", metadata=SERVICE_TOKEN, timeout=10)  # not a ListAlloysRequest
            except grpc.aio.AioRpcError as err:
                received.append(err.code())
            health = health_pb2_grpc.HealthStub(channel)
            await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        after = await asyncio.to_thread(scrape, app.metrics.url)

    assert received == [grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT]
    upserts = {c: counts(after, "UpsertAlloy")[c] - counts(before, "UpsertAlloy")[c] for c in CODES}
    lists = {c: counts(after, "ListAlloys")[c] - counts(before, "ListAlloys")[c] for c in CODES}
    assert upserts == {"OK": 1, "UNAUTHENTICATED": 0, "INVALID_ARGUMENT": 0}
    assert lists == {"OK": 1, "UNAUTHENTICATED": 1, "INVALID_ARGUMENT": 1}
    assert timed(after, "ListAlloys") - timed(before, "ListAlloys") == 3
    server_lines = [line for line in after.splitlines() if line.startswith("mes_grpc_server_")]
    assert server_lines and not [line for line in server_lines if 'method="Check"' in line]  # probes, not traffic
