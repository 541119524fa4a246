"""RED metrics of a ``grpc.aio`` server: one interceptor, outermost, for every method the server serves.

:class:`GrpcMetricsInterceptor` counts each answered call in ``mes_grpc_server_requests_total``
``{service,method,code}`` and times it in ``mes_grpc_server_request_duration_seconds{service,method}``
(:mod:`mes_platform.telemetry.metrics`). It goes first in the server's interceptor list, so it sees the
status the call really ended with, whatever the inner interceptors did (authentication refused,
deadline, a request that does not decode, a servicer error turned into its status). The status is

* the one the call aborted with (``context.abort``) or set (``context.set_code``);
* ``OK`` when the handler returned without setting one;
* ``CANCELLED`` when the call was cancelled (the client went away, the server stopped, a stream was
  closed early);
* ``UNKNOWN`` for an exception that is not an abort (what grpc answers for it).

Labels: ``service`` is the MES service (``orders``), ``method`` the method's short name
(``SubmitOrder``): a fixed set per service. Health checks and reflection (``/grpc.health.``,
``/grpc.reflection.``) are left out: probes call them every few seconds and they say nothing about
the service's own traffic. Unary and streaming handlers are both wrapped (a stream is timed from its
start to its end).

The wrapped handler is built once per method and the metrics' children once per (method, code), so a
call costs two dictionary lookups besides the counter and the histogram.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any

import grpc

from mes_platform.grpc_wrapping import Handler, WrappingInterceptor
from mes_platform.telemetry.metrics import GRPC_REQUEST_DURATION, GRPC_REQUESTS

__all__ = ["UNOBSERVED_PREFIXES", "GrpcMetricsInterceptor", "status_of"]

#: Methods that are not counted (health probes and reflection).
UNOBSERVED_PREFIXES: tuple[str, ...] = ("/grpc.health.", "/grpc.reflection.")


def status_of(context: grpc.aio.ServicerContext[Any, Any], error: BaseException | None) -> grpc.StatusCode:
    """The status a call ends with: the one set on ``context`` (abort, ``set_code``), else what ``error``
    becomes (``CANCELLED`` for a cancellation, ``UNKNOWN`` for anything else), else ``OK``."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, asyncio.CancelledError | GeneratorExit):  # the call or its stream was abandoned
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


class _Method:
    """The metrics' children of one method: the duration's, and the count's per status code."""

    __slots__ = ("_counts", "_method", "_service", "duration")

    def __init__(self, service: str, method: str) -> None:
        self._service = service
        self._method = method
        self.duration = GRPC_REQUEST_DURATION.labels(service, method)
        self._counts: dict[grpc.StatusCode, Any] = {}

    def observe(self, code: grpc.StatusCode, seconds: float) -> None:
        count = self._counts.get(code)
        if count is None:
            count = self._counts[code] = GRPC_REQUESTS.labels(self._service, self._method, code.name)
        count.inc()
        self.duration.observe(seconds)


class _Observed:
    """Times the block it guards and counts it under the status the call ends with (see :func:`status_of`)."""

    __slots__ = ("_context", "_metrics", "_started")

    def __init__(self, metrics: _Method, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self._metrics = metrics
        self._context = context
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._metrics.observe(status_of(self._context, exc), time.perf_counter() - self._started)


class GrpcMetricsInterceptor(WrappingInterceptor):
    """Counts and times every call of the server's own methods (see the module)."""

    def __init__(self, service: str, *, unobserved: Sequence[str] = UNOBSERVED_PREFIXES) -> None:
        super().__init__()
        self._service = service
        self._unobserved = tuple(unobserved)

    def wrap(self, method: str, handler: Handler) -> Handler:
        if method.startswith(self._unobserved):
            return handler
        return _wrap(handler, _Method(self._service, method.rsplit("/", 1)[-1]))


def _wrap(handler: grpc.RpcMethodHandler[Any, Any], metrics: _Method) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with each call observed in ``metrics``, whatever its kind (unary or streaming)."""
    deserialize, serialize = handler.request_deserializer, handler.response_serializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(_timed(handler.unary_unary, metrics), deserialize, serialize)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_timed(handler.stream_unary, metrics), deserialize, serialize)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(_streamed(handler.unary_stream, metrics), deserialize, serialize)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(_streamed(handler.stream_stream, metrics), deserialize, serialize)
    return handler


def _timed(inner: Callable[..., Any], metrics: _Method) -> Callable[..., Awaitable[Any]]:
    """A handler answering one response (unary or client-streaming request)."""

    async def observed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        with _Observed(metrics, context):
            return await inner(request, context)

    return observed


def _streamed(inner: Callable[..., Any], metrics: _Method) -> Callable[..., AsyncIterator[Any]]:
    """A handler answering a stream of responses (an async generator, or a coroutine writing them)."""

    async def observed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        with _Observed(metrics, context):
            result = inner(request, context)
            if hasattr(result, "__aiter__"):
                async for response in result:
                    yield response
            else:  # a coroutine that writes with context.write()
                await result

    return observed
