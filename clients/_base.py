"""What every service client shares: the channel, credentials, deadlines, retries, errors and the RPC table.

A client lists its RPCs as :class:`Rpc` rows (name, request and response types, whether a request_id
is generated, which request field a plain first argument fills). Its public methods are typed
signatures over those rows: the shapes many RPCs share come from :mod:`clients._methods`, the others
pass their own arguments on (``return await self._call_with(_ROW, locals())``): the keyword
parameters of such a method are named like the request's fields (a unit test checks every one). A
method accepts the request message as given, or keyword fields that build one (never both), and a
per-call ``partner``.

Read-your-writes on the services' read replicas: a call whose writes committed answers with its
commit position (trailing metadata ``x-mes-commit-lsn``, a PostgreSQL WAL position); the client keeps
the highest one per service (:class:`CommitPositions`) and sends it as ``x-mes-min-lsn`` on every later
call, so a read sees what this client wrote (the service reads on its writer, or waits a little for its
replica, when the replica has not applied it yet). A client keeps its own positions; inside
:func:`use_positions` its calls use and update the positions given there instead (the facade keeps
one caller's positions per request that way, whatever client serves it).

Tracing: when the calling process records OpenTelemetry spans (a current span is set, as the
services and the facade do with ``OTEL_TRACES_EXPORTER`` other than ``none``), every call is a
client span (``<package.Service>/<Method>``, attributes ``rpc.system``, ``rpc.service``,
``rpc.method``, ``rpc.grpc.status_code``) under it, and the call's ``traceparent`` metadata names
that span (replacing one given by ``extra_metadata``). Otherwise nothing of OpenTelemetry runs:
the client only reads the current span, and ``extra_metadata`` carries the caller's context.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from clients._channel import open_channel
from clients._config import ClientConfig, ServiceName
from clients._errors import MesClientError, error_from_rpc_error
from clients._pagination import Page, paginate
from clients._retry import call_with_retry, is_idempotent

__all__ = [
    "COMMIT_POSITION_KEY",
    "MIN_POSITION_KEY",
    "CallObserver",
    "CommitPositions",
    "MetadataPairs",
    "Rpc",
    "ServiceClient",
    "UnaryMethod",
    "build_request",
    "new_request_id",
    "to_timestamp",
    "use_positions",
    "with_request_id",
]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp")
P = TypeVar("P", bound=Page)
T = TypeVar("T")
M = TypeVar("M", bound=Message)
MetadataPairs = tuple[tuple[str, str], ...]
#: Called once per call, after its retries: ``(method, status code name, seconds)``.
CallObserver = Callable[[str, str, float], None]
#: Arguments of a client method that are not request fields.
_NOT_FIELDS = frozenset({"self", "request", "partner", "timeout", "limit"})
#: Trailing metadata of a call whose writes committed: the commit position (``16/B374D848``).
COMMIT_POSITION_KEY = "x-mes-commit-lsn"
#: Metadata of a call that must see the writes up to a position (the highest one seen).
MIN_POSITION_KEY = "x-mes-min-lsn"
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


class CommitPositions:
    """The highest commit position seen per service (a byte position in the service's WAL)."""

    __slots__ = ("_by_service", "changed")

    def __init__(self, positions: Mapping[str, int] | None = None) -> None:
        self._by_service: dict[str, int] = {k: v for k, v in (positions or {}).items() if v > 0}
        #: Set when :meth:`note` raised a position.
        self.changed = False

    def get(self, service: str) -> int:
        """The highest position seen of ``service`` (0: none)."""
        return self._by_service.get(service, 0)

    def note(self, service: str, position: int) -> None:
        if position > self._by_service.get(service, 0):
            self._by_service[service] = position
            self.changed = True

    def as_dict(self) -> dict[str, int]:
        return dict(self._by_service)

    def __bool__(self) -> bool:
        return bool(self._by_service)

    def __repr__(self) -> str:
        return f"CommitPositions({ {k: format_position(v) for k, v in self._by_service.items()} })"


def parse_position(raw: str) -> int:
    """``"16/B374D848"`` -> its byte position (``ValueError`` when it is not one)."""
    match = _LSN.match(raw.strip())
    if match is None:
        raise ValueError(f"not a commit position: {raw!r}")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_position(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


_POSITIONS: ContextVar[CommitPositions | None] = ContextVar("mes_client_positions", default=None)


@contextmanager
def use_positions(positions: CommitPositions) -> Iterator[CommitPositions]:
    """Inside: every client's calls send and update ``positions`` instead of the client's own."""
    token = _POSITIONS.set(positions)
    try:
        yield positions
    finally:
        _POSITIONS.reset(token)


async def _note_commit(call: object, positions: CommitPositions, service: str) -> None:
    """The commit position in the trailing metadata of a call that succeeded, if any."""
    trailing = getattr(call, "trailing_metadata", None)
    if trailing is None:
        return
    for key, value in await trailing() or ():
        if key == COMMIT_POSITION_KEY and isinstance(value, str):
            try:
                positions.note(service, parse_position(value))
            except ValueError:
                return  # not ours to refuse: the call itself succeeded


class UnaryMethod(Protocol[Req, Resp]):
    """The port the clients call through: a ``grpc.aio.UnaryUnaryMultiCallable`` (or a test fake)."""

    def __call__(
        self, request: Req, *, timeout: float | None = ..., metadata: MetadataPairs | None = ...
    ) -> grpc.aio.UnaryUnaryCall[Req, Resp]: ...


def new_request_id() -> str:
    return str(uuid.uuid4())


def with_request_id(request: M) -> M:
    """``request`` itself when its ``request_id`` is set, else a copy carrying a new one (uuid4)."""
    if getattr(request, "request_id", ""):
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    setattr(copy, "request_id", new_request_id())  # noqa: B010 - the field exists on every caller's type
    return copy


def to_timestamp(value: datetime | Timestamp | None) -> Timestamp | None:
    """A protobuf Timestamp from an aware datetime (naive datetimes are taken as UTC)."""
    if value is None or isinstance(value, Timestamp):
        return value
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    return stamp


def build_request(cls: type[M], request: M | None, /, **fields: Any) -> M:
    """``request`` as given, or a new ``cls`` from the keyword fields that are not None (never both)."""
    given = {key: value for key, value in fields.items() if value is not None}
    if request is not None:
        if given:
            raise TypeError(f"pass either a {cls.__name__} or keyword fields, not both ({', '.join(given)})")
        if not isinstance(request, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(request).__name__}")
        return request
    return cls(**given)


@dataclass(frozen=True, slots=True)
class Rpc(Generic[Req, Resp]):
    """One unary RPC in a client's table.

    ``name`` is the RPC (``"ListOrders"``): the stub's attribute, the retry rule's key and the metric label.
    ``request_id``: a request without one gets a new uuid4, so a retried mutation cannot apply twice.
    ``positional``: the request field a first argument that is not the request message fills
    (``"name"``, so ``get_order("orders/1")`` and ``get_order(GetOrderRequest(...))`` both work).
    """

    name: str
    request: type[Req]
    response: type[Resp]
    request_id: bool = False
    positional: str = ""

    def build(self, given: object, fields: dict[str, Any]) -> Req:
        """The request message: ``given`` as is, or built from ``given`` (the positional field) and ``fields``."""
        if given is not None and not isinstance(given, self.request):
            if not self.positional:
                raise TypeError(f"expected {self.request.__name__}, got {type(given).__name__}")
            fields[self.positional] = given
            given = None
        request = build_request(self.request, given, **fields)
        return with_request_id(request) if self.request_id else request


class ServiceClient:
    """Base of the per-service clients.

    Give a ``config`` (the client opens and owns its channel through :func:`clients.open_channel`, with
    ``interceptors``; close it with ``aclose()`` or ``async with``) or an open ``channel`` that stays the
    caller's. Every call carries the credentials and a deadline (``timeout`` per call, else
    ``config.deadline_s``); UNAVAILABLE failures of idempotent calls are retried with back-off within that
    deadline. ``partner=`` on a call sends ``x-mes-partner`` (act for that partner; only service principals
    may) instead of ``config.partner``.

    ``extra_metadata``, when given, is called for every call and its pairs are sent after the
    credentials (e.g. the caller's ``traceparent``). ``observe``, when given, sees every call once it
    ended (after its retries): method, status code name (``"OK"``, ``"NOT_FOUND"``...) and seconds.
    """

    service: ClassVar[ServiceName]
    #: The full gRPC service name (health checks).
    grpc_service: ClassVar[str]
    #: The generated stub class (``*_pb2_grpc.*ServiceStub``).
    stub_type: ClassVar[type[Any]]

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
        extra_metadata: Callable[[], MetadataPairs] | None = None,
        observe: CallObserver | None = None,
    ) -> None:
        self.config = config if config is not None else ClientConfig.from_env()
        self._owns_channel = channel is None
        self._channel = (
            channel if channel is not None else open_channel(self.config, self.service, interceptors=interceptors)
        )
        self._credentials = self.config.credentials()
        self._metadata = self.config.metadata()
        self._extra_metadata = extra_metadata
        self._observe = observe
        self._stub = self.stub_type(self._channel)
        self._health: Any = None
        #: This client's highest commit position per service (read-your-writes; see the module).
        self.positions = CommitPositions()

    @property
    def channel(self) -> grpc.aio.Channel:
        return self._channel

    async def aclose(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def health(self, *, timeout: float = 1.0) -> bool:
        """True when the service reports SERVING (``grpc.health.v1``); False when it does not or cannot answer."""
        if self._health is None:
            self._health = health_pb2_grpc.HealthStub(self._channel)
        request = health_pb2.HealthCheckRequest(service=self.grpc_service)
        try:
            response = await self._health.Check(request, timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

    async def _unary(
        self, rpc: Rpc[Req, Resp], given: object, partner: str | None, timeout: float | None, /, **fields: Any
    ) -> Resp:
        """Call ``rpc`` with the request ``given`` (or built from the positional value and ``fields``)."""
        request = rpc.build(given, fields)
        method: UnaryMethod[Req, Resp] = getattr(self._stub, rpc.name)
        return await self._call(rpc.name, method, request, timeout, partner)

    async def _call_with(self, rpc: Rpc[Req, Resp], arguments: Mapping[str, Any]) -> Resp:
        """Call ``rpc`` with a method's arguments (its ``locals()``): ``request`` or the positional field,
        ``partner``, ``timeout``, and the other arguments as request fields (datetimes as Timestamps)."""
        given = arguments[rpc.positional] if rpc.positional else arguments.get("request")
        fields = _fields(arguments, rpc.positional)
        return await self._unary(rpc, given, arguments.get("partner"), arguments.get("timeout"), **fields)

    def _iterate(
        self, rpc: Rpc[Any, P], items: Callable[[P], Iterable[T]], arguments: Mapping[str, Any]
    ) -> AsyncIterator[T]:
        """Every item of a List RPC, for an ``iter_*`` method's arguments (``limit`` and the filters)."""
        fields = _fields(arguments, "")
        return self._pages(
            rpc, items, arguments.get("limit"), arguments.get("partner"), arguments.get("timeout"), **fields
        )

    def _pages(
        self,
        rpc: Rpc[Any, P],
        items: Callable[[P], Iterable[T]],
        limit: int | None,
        partner: str | None,
        timeout: float | None,
        /,
        **fields: Any,
    ) -> AsyncIterator[T]:
        """Every item of a List RPC (at most ``limit``), following page tokens; ``timeout`` applies per page."""

        async def fetch(token: str) -> P:
            return await self._unary(rpc, None, partner, timeout, page_token=token, **fields)

        return paginate(fetch, items, limit=limit)

    async def _call(
        self,
        name: str,
        method: UnaryMethod[Req, Resp],
        request: Req,
        timeout: float | None,
        partner: str | None = None,
    ) -> Resp:
        """Invoke one unary RPC with deadline, credentials, retries and typed errors."""
        metadata = self._metadata if partner is None else (*self._credentials, ("x-mes-partner", partner))
        if self._extra_metadata is not None:
            metadata = metadata + tuple(self._extra_metadata())
        client_span = _client_span(self.grpc_service, name)
        if client_span is not None:
            metadata = (
                *(pair for pair in metadata if pair[0] != _TRACEPARENT),
                (_TRACEPARENT, _traceparent(client_span)),
            )
            try:
                return await self._traced(client_span, name, method, request, timeout, metadata)
            finally:
                client_span.end()
        return await self._send(name, method, request, timeout, metadata)

    async def _traced(
        self,
        client_span: otel_trace.Span,
        name: str,
        method: UnaryMethod[Req, Resp],
        request: Req,
        timeout: float | None,
        metadata: MetadataPairs,
    ) -> Resp:
        """:meth:`_send` inside ``client_span`` (the current span while it runs), noting its outcome."""
        with otel_trace.use_span(client_span, record_exception=False, set_status_on_exception=False):
            try:
                response = await self._send(name, method, request, timeout, metadata)
            except MesClientError as err:
                client_span.set_attribute("rpc.grpc.status_code", err.code.value[0])
                client_span.set_status(Status(StatusCode.ERROR, err.code.name))
                raise
            except BaseException as exc:
                client_span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            client_span.set_attribute("rpc.grpc.status_code", 0)
            return response

    async def _send(
        self,
        name: str,
        method: UnaryMethod[Req, Resp],
        request: Req,
        timeout: float | None,
        metadata: MetadataPairs,
    ) -> Resp:
        """The call with its read position, deadline, retries and typed errors (and ``observe``)."""
        scoped = _POSITIONS.get()
        positions = self.positions if scoped is None else scoped
        seen = positions.get(self.service)
        if seen:
            metadata = (*metadata, (MIN_POSITION_KEY, format_position(seen)))

        async def attempt(remaining: float) -> Resp:
            call = method(request, timeout=remaining, metadata=metadata)
            try:
                response = await call
            except grpc.aio.AioRpcError as err:
                raise await error_from_rpc_error(err, call, method=name) from err
            await _note_commit(call, positions, self.service)
            return response

        calls = call_with_retry(
            attempt,
            deadline_s=timeout if timeout is not None else self.config.deadline_s,
            policy=self.config.retry,
            retryable=is_idempotent(name, request),
        )
        if self._observe is None:
            return await calls
        started = time.perf_counter()
        code = "OK"
        try:
            return await calls
        except MesClientError as err:
            code = err.code.name
            raise
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except Exception:
            code = "UNKNOWN"
            raise
        finally:
            self._observe(name, code, time.perf_counter() - started)


_TRACEPARENT = "traceparent"
_TRACER = otel_trace.get_tracer("clients")


def _client_span(service: str, method: str) -> otel_trace.Span | None:
    """A client span under the current OpenTelemetry span, or None when there is none (the process
    records no spans: nothing else of OpenTelemetry runs)."""
    if not otel_trace.get_current_span().get_span_context().is_valid:
        return None
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
    return _TRACER.start_span(f"{service}/{method}", kind=SpanKind.CLIENT, attributes=attributes)


def _traceparent(client_span: otel_trace.Span) -> str:
    ctx = client_span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def _fields(arguments: Mapping[str, Any], positional: str) -> dict[str, Any]:
    return {
        key: to_timestamp(value) if isinstance(value, datetime) else value
        for key, value in arguments.items()
        if key not in _NOT_FIELDS and key != positional
    }
