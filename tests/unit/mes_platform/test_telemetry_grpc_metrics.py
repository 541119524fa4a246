"""The RED interceptor of the gRPC servers on fake handlers and contexts: each call counted once under
the status it ended with (returned, aborted, set, raised, cancelled), timed per method, streams
included; health and reflection left out; one wrapped handler per method."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY

from mes_platform.telemetry.grpc_metrics import GrpcMetricsInterceptor, status_of

SERVICE = "unit-red"


class _Aborted(Exception):
    """What ``context.abort`` raises (grpc.aio's AbortError stands in for it)."""


class _Context:
    def __init__(self) -> None:
        self._code: grpc.StatusCode | None = None

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        raise _Aborted(details)


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method


def _count(method: str, code: str) -> float:
    labels = {"service": SERVICE, "method": method, "code": code}
    return REGISTRY.get_sample_value("mes_grpc_server_requests_total", labels) or 0.0


def _timed(method: str) -> float:
    labels = {"service": SERVICE, "method": method}
    return REGISTRY.get_sample_value("mes_grpc_server_request_duration_seconds_count", labels) or 0.0


async def _wrapped(handler: grpc.RpcMethodHandler[Any, Any], method: str) -> grpc.RpcMethodHandler[Any, Any]:
    async def continuation(details: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return handler

    wrapped = await GrpcMetricsInterceptor(SERVICE).intercept_service(continuation, _Details(method))
    assert wrapped is not None
    return wrapped


async def _call(behaviour: Callable[[_Context], Awaitable[Any]], method: str) -> None:
    async def servicer(request: Any, context: _Context) -> Any:
        return await behaviour(context)

    handler = await _wrapped(grpc.unary_unary_rpc_method_handler(servicer), f"/mes.unit.v1.Red/{method}")
    with contextlib.suppress(_Aborted, ValueError, asyncio.CancelledError):  # the caller sees the status
        await handler.unary_unary("request", _Context())


async def _ok(context: _Context) -> str:
    return "ok"


async def _not_found(context: _Context) -> None:
    await context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


async def _set_code(context: _Context) -> str:
    context.set_code(grpc.StatusCode.ALREADY_EXISTS)
    return ""


async def _raises(context: _Context) -> None:
    raise ValueError("a bug")


async def _cancelled(context: _Context) -> None:
    raise asyncio.CancelledError


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [
        (_ok, "OK"),
        (_not_found, "NOT_FOUND"),
        (_set_code, "ALREADY_EXISTS"),
        (_raises, "UNKNOWN"),
        (_cancelled, "CANCELLED"),
    ],
)
async def test_a_call_is_counted_once_under_the_status_it_ended_with(
    behaviour: Callable[[_Context], Awaitable[Any]], code: str
) -> None:
    method = f"Ends{code.title().replace('_', '')}"
    before = {c: _count(method, c) for c in ("OK", "NOT_FOUND", "ALREADY_EXISTS", "UNKNOWN", "CANCELLED")}
    timed = _timed(method)
    await _call(behaviour, method)
    after = {c: _count(method, c) for c in before}
    assert {c: after[c] - before[c] for c in before} == {c: 1.0 if c == code else 0.0 for c in before}
    assert _timed(method) == timed + 1


def test_the_status_of_a_call_that_set_none_and_raised_nothing_is_ok() -> None:
    assert status_of(_Context(), None) is grpc.StatusCode.OK  # type: ignore[arg-type]
    assert status_of(_Context(), GeneratorExit()) is grpc.StatusCode.CANCELLED  # type: ignore[arg-type]


async def test_a_server_stream_is_counted_when_it_ends() -> None:
    async def responses(request: Any, context: _Context) -> AsyncIterator[str]:
        for n in range(3):
            yield f"{request}-{n}"

    handler = await _wrapped(grpc.unary_stream_rpc_method_handler(responses), "/mes.unit.v1.Red/Watch")
    before = _count("Watch", "OK")
    received = [item async for item in handler.unary_stream("r", _Context())]
    assert received == ["r-0", "r-1", "r-2"]
    assert _count("Watch", "OK") == before + 1


async def test_health_and_reflection_are_not_counted_and_handlers_are_wrapped_once() -> None:
    interceptor = GrpcMetricsInterceptor(SERVICE)
    handler = grpc.unary_unary_rpc_method_handler(_ok)

    async def continuation(details: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return handler

    health = await interceptor.intercept_service(continuation, _Details("/grpc.health.v1.Health/Check"))
    reflection = await interceptor.intercept_service(
        continuation, _Details("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    )
    assert health is handler and reflection is handler
    first = await interceptor.intercept_service(continuation, _Details("/mes.unit.v1.Red/Once"))
    again = await interceptor.intercept_service(continuation, _Details("/mes.unit.v1.Red/Once"))
    assert first is again and first is not handler
