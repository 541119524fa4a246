"""gRPC server assembly: one interceptor for auth, deadlines, errors, trace context and
logs; health checking on every service, and reflection unless switched off
(``MES_GRPC_REFLECTION=0``).

``create_server`` binds (port 0 picks a free port) and returns ``(server, port)``
so tests can run servers on free ports.

Each call is a server span continuing the caller's W3C trace (metadata ``traceparent``) or
starting a new one (attributes ``rpc.system``, ``rpc.service``, ``rpc.method``,
``rpc.grpc.status_code``; an error status for the server's own failures); its log lines carry
``trace_id``/``span_id`` and the outbox events it writes carry the span on (see
:mod:`mes_platform.telemetry.tracing`). Connections are closed after
``max_connection_age_s`` (gRFC A9) so that clients re-resolve and reach new replicas.

Read-your-writes on a read replica (:mod:`mes_platform.replica`): a call's ``x-mes-min-lsn``
metadata is the position its reads must see (INVALID_ARGUMENT ``MALFORMED_POSITION`` when it is
not one), and a call whose writes committed answers with ``x-mes-commit-lsn`` in its trailing
metadata.

A request that does not decode as its method's message answers INVALID_ARGUMENT ("the
request could not be decoded as <message type>", reason ``MALFORMED_REQUEST``) before any
authentication, whoever calls: grpc.aio would answer UNKNOWN with the exception's class and
text and log an error per call. Such calls are logged as one warning per method every
``UNDECODABLE_LOG_INTERVAL_S`` at most, with the number of calls left out since the last one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.reflection import SERVICE_NAME as REFLECTION_SERVICE
from grpc_reflection.v1alpha.reflection import enable_server_reflection

from mes_kernel.errors import InvalidArgument, MesError, Unauthenticated
from mes_platform.auth import API_KEY_HEADER, PARTNER_HEADER, Principal, reset_principal, set_principal
from mes_platform.grpc_wrapping import Handler, WrappingInterceptor
from mes_platform.replica import (
    COMMIT_POSITION_KEY,
    MIN_POSITION_KEY,
    call_positions,
    enter_call,
    format_lsn,
    leave_call,
)
from mes_platform.rpc_status import grpc_code, internal_status, to_rpc_status
from mes_platform.telemetry.grpc_metrics import GrpcMetricsInterceptor
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.metrics import RPC_LATENCY
from mes_platform.telemetry.tracing import TRACEPARENT, SpanKind, annotate, parse_traceparent, span

__all__ = [
    "RETRY_AFTER_KEY",
    "UNDECODABLE_LOG_INTERVAL_S",
    "Authenticator",
    "LogRateLimiter",
    "ServerHandle",
    "create_server",
    "server_options",
]

_log = get_logger("mes.grpc")
#: The standard library's logger of the same name: ``configure_logging`` lowers the root level
#: to the configured one, so below DEBUG this says cheaply that a debug line would not print.
_stdlib_log = logging.getLogger("mes.grpc")
_OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
#: Resolves a partner API key to a partner id (only the orders service has one).
PartnerKeyResolver = Callable[[str], Awaitable[str | None]]
#: At most one warning line per method this often about requests that do not decode.
UNDECODABLE_LOG_INTERVAL_S = 10.0
#: The ``ErrorInfo`` metadata key of an error that says how long to wait; it is also sent as the
#: ``retry-after`` trailing metadata (whole seconds), like HTTP's Retry-After.
RETRY_AFTER_KEY = "retry_after_s"


class LogRateLimiter:
    """At most one log line per key every ``interval_s``; the next one counts those left out."""

    def __init__(self, interval_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        #: Per key: when its last line was logged and how many were left out since.
        self._state: dict[str, tuple[float, int]] = {}

    def admit(self, key: str) -> int | None:
        """None: leave this line out; else log it, with this many suppressed before it."""
        now = self._clock()
        last = self._state.get(key)
        if last is not None and now - last[0] < self._interval_s:
            self._state[key] = (last[0], last[1] + 1)
            return None
        self._state[key] = (now, 0)
        return 0 if last is None else last[1]


class _Undecodable:
    """What the request deserializer gives for bytes that are not the method's message."""

    __slots__ = ()


_UNDECODABLE = _Undecodable()


def _message_type(deserializer: Callable[[bytes], Any]) -> str:
    """The protobuf full name of what ``deserializer`` (``Message.FromString``) decodes."""
    descriptor = getattr(getattr(deserializer, "__self__", None), "DESCRIPTOR", None)
    name = getattr(descriptor, "full_name", None)
    return name if isinstance(name, str) and name else "the method's request message"


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``deserializer`` that answers :data:`_UNDECODABLE` instead of raising."""
    if deserializer is None:
        return None
    decode = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return decode(data)
        except Exception:
            return _UNDECODABLE

    return deserialize


@dataclass
class Authenticator:
    tokens: Mapping[str, Principal]
    partner_keys: PartnerKeyResolver | None = None

    async def authenticate(self, metadata: Mapping[str, str]) -> Principal:
        auth = metadata.get("authorization", "")
        if auth.lower().startswith("bearer "):
            principal = self.tokens.get(auth[7:].strip())
            if principal is None:
                raise _unauthenticated("invalid token")
            partner = metadata.get(PARTNER_HEADER, "").strip()
            if partner:
                if principal.kind != "service":
                    raise _unauthenticated("only services may act for a partner")
                return principal.acting_for(partner)
            return principal
        key = metadata.get(API_KEY_HEADER, "").strip()
        if key and self.partner_keys is not None:
            partner_id = await self.partner_keys(key)
            if partner_id is None:
                raise _unauthenticated("invalid API key")
            return Principal("partner", partner_id, partner_id)
        raise _unauthenticated("missing credentials: send 'authorization: Bearer <token>'")


def _status_details(status: status_pb2.Status) -> tuple[tuple[str, str | bytes], ...]:
    """The rich status, as the trailer clients read it from."""
    return (("grpc-status-details-bin", status.SerializeToString()),)


def _trailers(error: MesError, status: status_pb2.Status) -> tuple[tuple[str, str | bytes], ...]:
    """The rich status, and ``retry-after`` (seconds) when the error says how long to wait
    (``ErrorInfo`` metadata ``retry_after_s``, e.g. a refused sign-in)."""
    details = _status_details(status)
    retry_after = error.metadata.get(RETRY_AFTER_KEY)
    return (*details, ("retry-after", retry_after)) if retry_after else details


def _debug_enabled() -> bool:
    return _stdlib_log.isEnabledFor(logging.DEBUG)


def _unauthenticated(message: str) -> MesError:
    return Unauthenticated(message)


class _Interceptor(WrappingInterceptor):
    def __init__(self, service: str, auth: Authenticator, default_deadline_s: float) -> None:
        super().__init__()
        self._service = service
        self._auth = auth
        self._default_deadline_s = default_deadline_s
        #: The latency histogram's child per (method, code): ``labels()`` looks it up under a lock.
        self._latency: dict[tuple[str, grpc.StatusCode], Any] = {}
        self._undecodable_log = LogRateLimiter(UNDECODABLE_LOG_INTERVAL_S)

    def wrap(self, method: str, handler: Handler) -> Handler:
        if handler.unary_unary is None:
            return handler
        inner: Callable[..., Any] = handler.unary_unary
        message_type = _message_type(handler.request_deserializer) if handler.request_deserializer else ""
        open_method = method.startswith(_OPEN_PREFIXES)

        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if request is _UNDECODABLE:
                return await self._refuse_undecodable(method, message_type, context)
            if open_method:
                return await inner(request, context)
            return await self._call(method, inner, request, context)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )

    async def _refuse_undecodable(
        self, method: str, message_type: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        """INVALID_ARGUMENT for a request that is not its method's message (no credentials checked:
        nothing was read); one warning per method every ``UNDECODABLE_LOG_INTERVAL_S`` at most."""
        code = grpc.StatusCode.INVALID_ARGUMENT
        self._observe(method, code, 0.0)
        suppressed = self._undecodable_log.admit(method)
        if suppressed is not None:
            _log.warning("rpc_request_undecodable", method=method, message_type=message_type, suppressed=suppressed)
        error = InvalidArgument(f"the request could not be decoded as {message_type}", reason="MALFORMED_REQUEST")
        await context.abort(code, error.message, trailing_metadata=_status_details(to_rpc_status(error)))

    async def _call(
        self,
        method: str,
        inner: Callable[..., Any],
        request: Any,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> Any:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        name, attributes = _span_names(method)
        with span(
            name, kind=SpanKind.SERVER, parent=parse_traceparent(metadata.get(TRACEPARENT)), attributes=attributes
        ):
            return await self._traced_call(method, inner, request, context, metadata)

    async def _traced_call(
        self,
        method: str,
        inner: Callable[..., Any],
        request: Any,
        context: grpc.aio.ServicerContext[Any, Any],
        metadata: Mapping[str, str],
    ) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        token = None
        call_token = None
        try:
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                code = grpc.StatusCode.DEADLINE_EXCEEDED
                await context.abort(code, "deadline exceeded before the call started")
            try:
                principal = await self._auth.authenticate(metadata)
                token = set_principal(principal)
                # Read-your-writes on a replica (mes_platform.replica): what the caller must see, what we commit.
                positions = call_positions(metadata.get(MIN_POSITION_KEY))
                call_token = enter_call(positions)
                budget = min(remaining, self._default_deadline_s) if remaining else self._default_deadline_s
                async with asyncio.timeout(budget):
                    response = await inner(request, context)
                if positions.committed:
                    context.set_trailing_metadata(((COMMIT_POSITION_KEY, format_lsn(positions.committed)),))
                return response
            except MesError as err:
                code = grpc_code(err)
                status = to_rpc_status(err)
                if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
                    _log.warning("rpc_failed", method=method, reason=err.reason, error=err.message)
                await context.abort(code, err.message, trailing_metadata=_trailers(err, status))
            except TimeoutError:
                code = grpc.StatusCode.DEADLINE_EXCEEDED
                await context.abort(code, "deadline exceeded")
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError) or type(exc).__name__ == "AbortError":
                    raise
                code = grpc.StatusCode.INTERNAL
                _log.exception("rpc_unexpected_error", method=method)
                status = internal_status()
                await context.abort(code, status.message, trailing_metadata=_status_details(status))
        finally:
            if call_token is not None:
                leave_call(call_token)
            if token is not None:
                reset_principal(token)
            elapsed = time.perf_counter() - started
            self._observe(method, code, elapsed)
            server_fault = code in _SERVER_FAULTS
            annotate(
                {"rpc.grpc.status_code": code.value[0]}, error=code.name if server_fault else None, ok=not server_fault
            )
            if _debug_enabled():  # no log record built for a line nobody prints
                _log.debug("rpc", method=method, code=code.name, ms=round(elapsed * 1000, 2))
        return None  # unreachable: abort raises

    def _observe(self, method: str, code: grpc.StatusCode, elapsed: float) -> None:
        child = self._latency.get((method, code))
        if child is None:
            child = self._latency[(method, code)] = RPC_LATENCY.labels(
                self._service, method.rsplit("/", 1)[-1], code.name
            )
        child.observe(elapsed)


#: Status codes that mark the server span as failed (the others are the caller's business).
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.DATA_LOSS,
    }
)


@functools.lru_cache(maxsize=512)
def _span_names(method: str) -> tuple[str, dict[str, str]]:
    """The server span's name (``pkg.Service/Method``) and its rpc attributes, once per method."""
    service, _, name = method.lstrip("/").rpartition("/")
    return method.lstrip("/"), {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def server_options(
    *, max_connection_age_s: float = 300.0, max_connection_age_grace_s: float = 30.0, keepalive_s: float = 60.0
) -> list[tuple[str, int]]:
    """Channel arguments of the services' gRPC servers."""
    options = [
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", 4 * 1024 * 1024),
        # Accept the clients' keepalive pings (the facade pings every 60 s) down to every 10 s.
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
    ]
    if max_connection_age_s > 0:
        options += [
            ("grpc.max_connection_age_ms", int(max_connection_age_s * 1000)),
            ("grpc.max_connection_age_grace_ms", int(max_connection_age_grace_s * 1000)),
        ]
    if keepalive_s > 0:
        options += [("grpc.keepalive_time_ms", int(keepalive_s * 1000)), ("grpc.keepalive_timeout_ms", 20_000)]
    return options


@dataclass
class ServerHandle:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: Sequence[str]

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def enter_shutdown(self) -> None:
        """Report NOT_SERVING for every name from now on (later ``set_serving`` calls are ignored)."""
        await self.health.enter_graceful_shutdown()

    async def stop(self, grace: float) -> None:
        """NOT_SERVING, then refuse new calls (clients get UNAVAILABLE) while the calls in flight get
        ``grace`` seconds to finish; those still running then are cancelled."""
        await self.enter_shutdown()
        await self.server.stop(grace)


async def create_server(
    *,
    service: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    authenticator: Authenticator,
    host: str = "127.0.0.1",
    port: int = 0,
    default_deadline_s: float = 30.0,
    tls_cert_file: str | None = None,
    tls_key_file: str | None = None,
    max_connection_age_s: float = 300.0,
    max_connection_age_grace_s: float = 30.0,
    keepalive_s: float = 60.0,
    reflection: bool = True,
) -> ServerHandle:
    """Build, bind and start a server; health starts NOT_SERVING until the caller says so.

    ``max_connection_age_s`` (0: unlimited) sends GOAWAY to connections older than that, and
    calls in flight get ``max_connection_age_grace_s`` to finish; ``keepalive_s`` (0: off) is
    the interval of the server's pings on idle connections; ``reflection`` False leaves the
    reflection service out (``MES_GRPC_REFLECTION=0``).
    """
    server = grpc.aio.server(
        # the metrics' interceptor first: it sees the status every call ends with
        interceptors=[GrpcMetricsInterceptor(service), _Interceptor(service, authenticator, default_deadline_s)],
        options=server_options(
            max_connection_age_s=max_connection_age_s,
            max_connection_age_grace_s=max_connection_age_grace_s,
            keepalive_s=keepalive_s,
        ),
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if reflection:
        enable_server_reflection(
            [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, REFLECTION_SERVICE],
            server,
        )
    address = f"{host}:{port}"
    if tls_cert_file and tls_key_file:
        with open(tls_key_file, "rb") as k, open(tls_cert_file, "rb") as c:
            creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        bound = server.add_secure_port(address, creds)
    else:
        bound = server.add_insecure_port(address)
    if bound == 0:
        raise RuntimeError(f"could not bind gRPC server to {address}")
    await server.start()
    handle = ServerHandle(server, bound, health_servicer, list(service_names))
    await handle.set_serving(False)
    return handle
