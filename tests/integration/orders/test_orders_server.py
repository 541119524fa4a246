"""The process: health, reflection, and `python -m services.orders` serving and stopping."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.orders.bootstrap import App
from tests._infra.auth import AUTH_TOKENS
from tests._infra.ports import free_port
from tests.integration.orders._support import T

ROOT = Path(__file__).resolve().parents[3]
SERVICE_NAME = "mes.orders.v1.OrdersService"


async def _health(channel: grpc.aio.Channel, service: str = "") -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=T)
    return int(reply.status)


async def test_health_and_reflection(app: App, channel: grpc.aio.Channel) -> None:
    assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
    assert await _health(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names = []
    async for reply in stub.ServerReflectionInfo(iter([request]), timeout=T):
        names += [service.name for service in reply.list_services_response.service]
    assert SERVICE_NAME in names


async def test_module_entry_point_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen'}",
        "MES_DATA_DIR": str(tmp_path),
        "MES_ORDERS_GRPC_PORT": str(port),
        "MES_AUTH_TOKENS": AUTH_TOKENS,
    }
    for key in ("DATABASE_URL", "MES_DATABASE_URL", "MES_ORDERS_DATABASE_URL"):
        env.pop(key, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.orders",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio.wait_for(channel.channel_ready(), timeout=30)
            assert await _health(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
        assert (tmp_path / "orders.db").is_file()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        assert b'"listening"' in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
