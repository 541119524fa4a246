"""A fake gRPC channel: the port the clients call through, answered by plain Python callables."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

Responder = Callable[[Any], Any]


def rich_error(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
    violations: Sequence[tuple[str, str]] = (),
    domain: str = "mes.jewelry",
) -> grpc.aio.AioRpcError:
    """An AioRpcError carrying a google.rpc.Status like the services send."""
    status = status_pb2.Status(code=code.value[0], message=message)
    if reason is not None:
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=metadata or {}))
        status.details.append(packed)
    if violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        status.details.append(packed)
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, message, None)


def plain_error(code: grpc.StatusCode, message: str = "boom") -> grpc.aio.AioRpcError:
    """An AioRpcError without rich details (what the transport itself raises)."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), message, None)


class FakeCall:
    """Awaitable like ``grpc.aio.UnaryUnaryCall``; exposes code/details/trailers for ``from_call``."""

    def __init__(self, outcome: Any) -> None:
        self._outcome = outcome

    def __await__(self) -> Generator[Any, None, Any]:
        if False:  # pragma: no cover - makes this a generator
            yield
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome

    async def code(self) -> grpc.StatusCode:
        return self._outcome.code() if isinstance(self._outcome, grpc.aio.AioRpcError) else grpc.StatusCode.OK

    async def details(self) -> str | None:
        return self._outcome.details() if isinstance(self._outcome, grpc.aio.AioRpcError) else ""

    async def trailing_metadata(self) -> Any:
        if isinstance(self._outcome, grpc.aio.AioRpcError):
            return self._outcome.trailing_metadata()
        return grpc.aio.Metadata()


@dataclass
class Invocation:
    method: str
    request: Any
    timeout: float | None
    metadata: Any


@dataclass
class FakeChannel:
    """Answers ``/pkg.Service/Method`` with ``responders[Method](request)``: a response or an exception.

    A responder may also be a list: each call takes the next outcome (a response message or an exception).
    """

    responders: dict[str, Responder | list[Any]] = field(default_factory=dict)
    calls: list[Invocation] = field(default_factory=list)
    closed: bool = False

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., FakeCall]:
        name = method.rsplit("/", 1)[-1]

        def invoke(request: Message, *, timeout: float | None = None, metadata: Any = None, **_: Any) -> FakeCall:
            self.calls.append(Invocation(name, request, timeout, metadata))
            responder = self.responders.get(name)
            if responder is None:
                return FakeCall(plain_error(grpc.StatusCode.UNIMPLEMENTED, f"{name} not faked"))
            if isinstance(responder, list):
                outcome = responder.pop(0) if responder else plain_error(grpc.StatusCode.INTERNAL, "no more outcomes")
            else:
                try:
                    outcome = responder(request)
                except grpc.aio.AioRpcError as err:
                    outcome = err
            return FakeCall(outcome)

        return invoke

    async def close(self, grace: float | None = None) -> None:
        self.closed = True

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]
