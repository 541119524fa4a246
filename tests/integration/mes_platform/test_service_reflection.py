"""Every service, started by its composition root, reports SERVING and lists itself by reflection."""

from __future__ import annotations

import importlib
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mes_platform.config import ServiceSettings

T = 10.0
SERVICES = {
    "orders": "mes.orders.v1.OrdersService",
    "inventory": "mes.inventory.v1.InventoryService",
    "production": "mes.production.v1.ProductionService",
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_service_serves_health_and_reflection(service: str, tmp_path: Path) -> None:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    settings = ServiceSettings.from_env(
        service,
        env={
            "MES_DATABASE_URL": f"sqlite:///{tmp_path / (service + '.db')}",
            "MES_AUTH_TOKENS": "svc-token=service:test",
            "MES_LOG_LEVEL": "WARNING",
        },
    )
    app = await bootstrap.start(settings, port=0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", SERVICES[service]):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=T)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            listed: set[str] = set()
            async for reply in stub.ServerReflectionInfo(iter([request]), timeout=T):
                listed |= {s.name for s in reply.list_services_response.service}
            assert {SERVICES[service], "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= listed
    finally:
        await app.aclose()
