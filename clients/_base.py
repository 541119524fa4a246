"""What every service client shares: the channel, credentials, deadlines, retries and error decoding."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from clients._channel import open_channel
from clients._config import ClientConfig, ServiceName
from clients._errors import error_from_rpc_error
from clients._retry import call_with_retry, is_idempotent

__all__ = [
    "MetadataPairs",
    "ServiceClient",
    "UnaryMethod",
    "build_request",
    "new_request_id",
    "to_timestamp",
    "with_request_id",
]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp")
M = TypeVar("M", bound=Message)
MetadataPairs = tuple[tuple[str, str], ...]


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


class ServiceClient:
    """Base of the per-service clients.

    Give a ``config`` (the client opens and owns its channel; close it with ``aclose()`` or ``async with``)
    or an open ``channel`` that stays the caller's. Every call carries the credentials and a deadline
    (``timeout`` per call, else ``config.deadline_s``); UNAVAILABLE failures of idempotent calls are
    retried with back-off within that deadline.

    ``extra_metadata``, when given, is called for every call and its pairs are sent after the
    credentials (e.g. the caller's ``traceparent``).
    """

    service: ClassVar[ServiceName]

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        extra_metadata: Callable[[], MetadataPairs] | None = None,
    ) -> None:
        self.config = config if config is not None else ClientConfig.from_env()
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else open_channel(self.config, self.service)
        self._metadata = self.config.metadata()
        self._extra_metadata = extra_metadata

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

    async def _call(
        self,
        name: str,
        method: UnaryMethod[Req, Resp],
        request: Req,
        timeout: float | None,
    ) -> Resp:
        """Invoke one unary RPC with deadline, credentials, retries and typed errors."""

        metadata = self._metadata
        if self._extra_metadata is not None:
            metadata = metadata + tuple(self._extra_metadata())

        async def attempt(remaining: float) -> Resp:
            call = method(request, timeout=remaining, metadata=metadata)
            try:
                return await call
            except grpc.aio.AioRpcError as err:
                raise await error_from_rpc_error(err, call, method=name) from err

        return await call_with_retry(
            attempt,
            deadline_s=timeout if timeout is not None else self.config.deadline_s,
            policy=self.config.retry,
            retryable=is_idempotent(name, request),
        )
