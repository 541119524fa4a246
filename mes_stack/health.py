"""Readiness probes: gRPC health (grpc.health.v1) for services, HTTP for nats-server and the facade,
a query for PostgreSQL (``--postgres-replica``)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import asyncpg
import grpc
from grpc_health.v1 import health_pb2

from mes_stack.plan import GrpcProbe, HttpProbe, PgProbe, ProcessSpec

__all__ = ["Prober", "grpc_serving", "http_ok", "postgres_answers"]

# Loopback checks must never go through a configured HTTP proxy.
_CHECK = "/grpc.health.v1.Health/Check"  # the typing stubs of HealthStub have no methods
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


async def grpc_serving(channel: grpc.aio.Channel, service_names: tuple[str, ...], timeout_s: float = 1.0) -> bool:
    """True when every name (``""`` is the whole server) reports SERVING."""
    check = channel.unary_unary(
        _CHECK,
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    for name in service_names:
        try:
            response: health_pb2.HealthCheckResponse = await check(
                health_pb2.HealthCheckRequest(service=name), timeout=timeout_s
            )
        except grpc.aio.AioRpcError:
            return False
        if response.status != health_pb2.HealthCheckResponse.SERVING:
            return False
    return True


def _http_ok_sync(url: str, timeout_s: float) -> bool:
    try:
        with _NO_PROXY.open(url, timeout=timeout_s) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


async def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    return await asyncio.to_thread(_http_ok_sync, url, timeout_s)


async def postgres_answers(url: str, timeout_s: float = 2.0) -> bool:
    """True when the server at ``url`` accepts a connection and answers ``SELECT 1`` (a starting
    server, or a standby not yet consistent, refuses connections)."""
    try:
        conn = await asyncpg.connect(url, timeout=timeout_s)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    try:
        return bool(await conn.fetchval("SELECT 1", timeout=timeout_s) == 1)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    finally:
        await conn.close(timeout=timeout_s)


class Prober:
    """Probes one process; keeps its gRPC channel open between checks."""

    def __init__(self, spec: ProcessSpec) -> None:
        self._spec = spec
        self._channel: grpc.aio.Channel | None = None

    async def check(self) -> bool:
        probe = self._spec.probe
        if isinstance(probe, HttpProbe):
            return await http_ok(self._spec.probe_target)
        if isinstance(probe, PgProbe):
            return await postgres_answers(probe.url)
        assert isinstance(probe, GrpcProbe)
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self._spec.probe_target)
        return await grpc_serving(self._channel, probe.service_names)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
