"""How a gRPC call failed, as the services' integration tests check it.

``failure = await fails(stub.GetOrder(request, metadata=..., timeout=...))`` awaits a call
(or a helper coroutine making one) that must fail and returns its status code, message, the
``ErrorInfo`` reason and metadata (its domain must be ``mes.jewelry``), the ``BadRequest``
field paths and the serialized ``google.rpc.Status``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from mes_kernel.errors import ERROR_DOMAIN

__all__ = ["RpcFailure", "fails"]

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass
class RpcFailure:
    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    #: The field paths of the BadRequest detail, in the server's order.
    fields: list[str] = field(default_factory=list)
    #: The whole ``google.rpc.Status``, serialized (empty without one).
    details: bytes = b""


async def _status(call: Awaitable[Any], exc: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    if isinstance(call, grpc.aio.Call):
        return await rpc_status.aio.from_call(call)
    details = dict(exc.trailing_metadata() or ()).get(_DETAILS_KEY, b"")
    return status_pb2.Status.FromString(details) if isinstance(details, bytes) and details else None


async def fails(call: Awaitable[Any]) -> RpcFailure:
    """Await ``call``, which must fail with an RPC error; how it failed."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        status = await _status(call, exc)
        failure = RpcFailure(exc.code(), exc.details() or "", details=status.SerializeToString() if status else b"")
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                assert info.domain == ERROR_DOMAIN
                failure.reason, failure.metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                failure.fields = [v.field for v in bad.field_violations]
        return failure
    pytest.fail("the call succeeded but was expected to fail")
