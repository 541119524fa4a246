"""The server interceptor's per-call path: the wrapped handler is built once per method, the
latency histogram's child once per (method, code), and no debug record is built for a line
that would not print (but it is, with the trace, when the level is DEBUG)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from mes_platform import grpc_server
from mes_platform.auth import current_principal, parse_tokens
from mes_platform.telemetry.metrics import RPC_LATENCY

_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class _Context:
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", "Bearer tok"), ("traceparent", _TRACEPARENT))

    def time_remaining(self) -> float:
        return 5.0


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method


async def _servicer(request: Any, context: Any) -> str:
    return f"{request} for {current_principal().subject}"


def _interceptor() -> Any:
    return grpc_server._Interceptor("unit", grpc_server.Authenticator(parse_tokens("tok=service:facade")), 30.0)


async def _continuation_of(handler: Any) -> Any:
    async def continuation(details: Any) -> Any:
        return handler

    return continuation


async def test_one_wrapped_handler_per_method_until_the_servicer_changes() -> None:
    interceptor = _interceptor()
    handler = grpc.unary_unary_rpc_method_handler(_servicer)
    continuation = await _continuation_of(handler)
    first = await interceptor.intercept_service(continuation, _Details("/mes.x.v1.S/A"))
    again = await interceptor.intercept_service(continuation, _Details("/mes.x.v1.S/A"))
    other = await interceptor.intercept_service(continuation, _Details("/mes.x.v1.S/B"))
    assert first is again and other is not first
    assert await first.unary_unary("ping", _Context()) == "ping for facade"
    replaced = grpc.unary_unary_rpc_method_handler(_servicer)
    rebuilt = await interceptor.intercept_service(await _continuation_of(replaced), _Details("/mes.x.v1.S/A"))
    assert rebuilt is not first


async def test_every_call_is_observed_once_in_the_latency_histogram() -> None:
    interceptor = _interceptor()
    handler = await interceptor.intercept_service(
        await _continuation_of(grpc.unary_unary_rpc_method_handler(_servicer)), _Details("/mes.x.v1.S/Timed")
    )
    before = _histogram_count("Timed")
    for _ in range(3):
        await handler.unary_unary("ping", _Context())
    assert _histogram_count("Timed") == before + 3


def _histogram_count(method: str) -> float:
    for metric in RPC_LATENCY.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels == {"service": "unit", "method": method, "code": "OK"}:
                return sample.value
    return 0.0


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def debug(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Recorder]:
    recorded = _Recorder()
    monkeypatch.setattr(grpc_server, "_log", recorded)
    level = logging.getLogger().level
    yield recorded
    logging.getLogger().setLevel(level)


async def test_no_debug_record_below_debug_and_one_at_debug(recorder: _Recorder) -> None:
    interceptor = _interceptor()
    handler = await interceptor.intercept_service(
        await _continuation_of(grpc.unary_unary_rpc_method_handler(_servicer)), _Details("/mes.x.v1.S/Logged")
    )
    logging.getLogger().setLevel(logging.INFO)
    await handler.unary_unary("ping", _Context())
    assert recorder.lines == []
    logging.getLogger().setLevel(logging.DEBUG)
    await handler.unary_unary("ping", _Context())
    [(event, fields)] = recorder.lines
    assert (event, fields["method"], fields["code"]) == ("rpc", "/mes.x.v1.S/Logged", "OK")
