"""The services' gRPC edge: undecodable requests, the reflection switch, the refusal of the
development secrets on a non-loopback address (a real ``grpc.aio`` server on a free port, a
real service process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes_platform import grpc_server
from mes_platform.auth import Principal
from mes_platform.config import ServiceSettings
from mes_platform.grpc_server import Authenticator, ServerHandle, create_server
from mes_platform.telemetry.logs import configure_logging
from services.orders.bootstrap import SPEC as ORDERS
from tests._infra.logs import logging_restored
from tests._infra.ports import LOOPBACK, free_port
from tests._infra.services import start_service_under_test

T = 10.0
TOKEN = "edge-token"
CREDENTIALS = (("authorization", f"Bearer {TOKEN}"),)
SUBMIT = "/mes.orders.v1.OrdersService/SubmitOrder"
GARBAGE = b"\xff\xff\xff\xff\x0f"
ROOT = Path(__file__).resolve().parents[3]


class _Orders(orders_pb2_grpc.OrdersServiceServicer):
    async def GetOrder(self, request: orders_pb2.GetOrderRequest, context: object) -> orders_pb2.GetOrderResponse:
        return orders_pb2.GetOrderResponse()


def _register(server: grpc.aio.Server) -> None:
    orders_pb2_grpc.add_OrdersServiceServicer_to_server(_Orders(), server)  # type: ignore[no-untyped-call]


async def _server(*, reflection: bool = True) -> ServerHandle:
    return await create_server(
        service="orders",
        register=_register,
        service_names=["mes.orders.v1.OrdersService"],
        authenticator=Authenticator({TOKEN: Principal("service", "edge")}),
        **({} if reflection else {"reflection": False}),
    )


def _raw(channel: grpc.aio.Channel, path: str) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)


@pytest.fixture
def json_logs() -> Iterator[None]:
    with logging_restored("grpc", "grpc._cython.cygrpc"):
        configure_logging("orders", "INFO")
        yield


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("metadata", [None, CREDENTIALS], ids=["anonymous", "authenticated"])
async def test_an_undecodable_request_is_invalid_argument_without_python_names(
    metadata: tuple[tuple[str, str], ...] | None,
) -> None:
    handle = await _server()
    try:
        async with grpc.aio.insecure_channel(f"{LOOPBACK}:{handle.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _raw(channel, SUBMIT)(GARBAGE, metadata=metadata, timeout=T)
    finally:
        await handle.stop(0)
    err = caught.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "the request could not be decoded as mes.orders.v1.SubmitOrderRequest"
    trailers = dict(err.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.reason == "MALFORMED_REQUEST"
    everything = f"{err.details()} {trailers!r}"
    for leak in ("class", "DecodeError", "google.protobuf", "Wire format", "Traceback"):
        assert leak not in everything


async def test_well_formed_calls_still_authenticate_and_answer() -> None:
    handle = await _server()
    try:
        async with grpc.aio.insecure_channel(f"{LOOPBACK}:{handle.port}") as channel:
            stub = orders_pb2_grpc.OrdersServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetOrder(orders_pb2.GetOrderRequest(), timeout=T)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert await stub.GetOrder(orders_pb2.GetOrderRequest(), metadata=CREDENTIALS, timeout=T) is not None
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=T)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as garbled:
                await _raw(channel, "/grpc.health.v1.Health/Check")(GARBAGE, timeout=T)
            assert garbled.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await handle.stop(0)


async def test_many_undecodable_requests_log_one_warning(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    handle = await _server()
    try:
        async with grpc.aio.insecure_channel(f"{LOOPBACK}:{handle.port}") as channel:
            for i in range(20):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await _raw(channel, SUBMIT)(GARBAGE, metadata=CREDENTIALS if i % 2 else None, timeout=T)
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await handle.stop(0)
    lines = _lines(capsys.readouterr().err)
    assert not [line for line in lines if line["level"] in ("error", "critical")]
    [warning] = [line for line in lines if line["event"] == "rpc_request_undecodable"]
    assert warning["level"] == "warning" and warning["method"] == SUBMIT
    assert warning["message_type"] == "mes.orders.v1.SubmitOrderRequest"


def test_the_undecodable_warning_counts_what_it_suppressed() -> None:
    now = [100.0]
    limiter = grpc_server.LogRateLimiter(10.0, clock=lambda: now[0])
    assert limiter.admit("/a") == 0  # the first line: logged, nothing suppressed before it
    assert limiter.admit("/a") is None and limiter.admit("/a") is None
    assert limiter.admit("/b") == 0  # per method
    now[0] += 9.9
    assert limiter.admit("/a") is None
    now[0] += 0.2
    assert limiter.admit("/a") == 3  # the next line says how many were left out
    assert limiter.admit("/a") is None


async def _reflected(port: int) -> set[str]:
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        listed: set[str] = set()
        async for reply in stub.ServerReflectionInfo(iter([request]), timeout=T):
            listed |= {s.name for s in reply.list_services_response.service}
        return listed


async def _reflection_refused(port: int) -> None:
    """Call the reflection method on a server that should not have it; raises its AioRpcError.

    A unary call sends its one message with the half-close and waits for the status in one batch, so
    the server's own UNIMPLEMENTED comes back; over the streaming stub, a refusal that arrives while
    the request is still being sent surfaces as the client's INTERNAL "Failed execute_batch" instead.
    """
    method = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{port}") as channel:
        call = channel.unary_unary(
            f"/{method}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        await call(reflection_pb2.ServerReflectionRequest(list_services=""), timeout=T)


async def test_reflection_can_be_left_out() -> None:
    on, off = await _server(), await _server(reflection=False)
    try:
        assert "mes.orders.v1.OrdersService" in await _reflected(on.port)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _reflection_refused(off.port)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await on.stop(0)
        await off.stop(0)


async def test_a_service_started_with_reflection_off_does_not_serve_it(tmp_path: Path) -> None:
    env = {
        "MES_DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}",
        "MES_AUTH_TOKENS": f"{TOKEN}=service:test",
        "MES_LOG_LEVEL": "WARNING",
        "MES_GRPC_REFLECTION": "0",
    }
    settings = ServiceSettings.from_env("orders", env=env)
    assert not settings.grpc_reflection
    async with start_service_under_test(ORDERS, settings) as app:
        async with grpc.aio.insecure_channel(f"{LOOPBACK}:{app.port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=T)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _reflection_refused(app.port)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _service_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MES_", "DATABASE_", "NATS_", "GRPC_"))}
    return {
        **keep,
        "MES_DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}",
        "MES_GRPC_HOST": "0.0.0.0",
        "MES_ORDERS_GRPC_PORT": str(port),
        "MES_LOG_LEVEL": "INFO",
        "MES_SHUTDOWN_DELAY_S": "0",
        **extra,
    }


def test_a_service_on_all_interfaces_refuses_the_development_secrets(tmp_path: Path) -> None:
    env = _service_env(tmp_path, free_port())
    done = subprocess.run(
        [sys.executable, "-m", "services.orders"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "MES_AUTH_TOKENS" in done.stderr and "MES_DEV_MODE=1" in done.stderr


def test_a_service_on_all_interfaces_starts_in_development_mode(tmp_path: Path) -> None:
    port = free_port()
    env = _service_env(tmp_path, port, MES_DEV_MODE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.orders"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        serving = False
        while not serving and time.monotonic() < deadline and proc.poll() is None:
            with grpc.insecure_channel(f"{LOOPBACK}:{port}") as channel:
                try:
                    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
                except grpc.RpcError:
                    time.sleep(0.2)
        assert serving, proc.stderr.read() if proc.poll() is not None and proc.stderr else "not serving"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
