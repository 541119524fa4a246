"""Status + ErrorInfo + BadRequest -> typed client exceptions."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

import clients
from clients._errors import error_from_rpc_error, error_from_status
from tests.unit.clients.clients_fakes import FakeCall, plain_error, rich_error

C = grpc.StatusCode


def _status(code: C, message: str, reason: str | None = None, **metadata: str) -> status_pb2.Status:
    status = status_pb2.Status(code=code.value[0], message=message)
    if reason is not None:
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="mes.jewelry", metadata=metadata))
        status.details.append(packed)
    return status


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (C.INVALID_ARGUMENT, clients.InvalidArgumentError),
        (C.NOT_FOUND, clients.NotFoundError),
        (C.ALREADY_EXISTS, clients.AlreadyExistsError),
        (C.FAILED_PRECONDITION, clients.FailedPreconditionError),
        (C.ABORTED, clients.ConflictError),
        (C.RESOURCE_EXHAUSTED, clients.ResourceExhaustedError),
        (C.UNAUTHENTICATED, clients.UnauthenticatedError),
        (C.PERMISSION_DENIED, clients.PermissionDeniedError),
        (C.UNAVAILABLE, clients.UnavailableError),
        (C.DEADLINE_EXCEEDED, clients.DeadlineExceededError),
        (C.INTERNAL, clients.InternalError),
        (C.UNKNOWN, clients.InternalError),
        (C.UNIMPLEMENTED, clients.InternalError),
        (C.CANCELLED, clients.MesClientError),
    ],
)
def test_each_status_code_maps_to_its_exception_class(code: C, cls: type[clients.MesClientError]) -> None:
    error = error_from_status(code, "msg", _status(code, "msg", "SOME_REASON"))
    assert type(error) is cls
    assert error.code is code
    assert error.reason == "SOME_REASON"
    assert isinstance(error, clients.MesClientError)


def test_reason_subclasses_apply_only_under_their_status_code() -> None:
    reused = error_from_status(C.ALREADY_EXISTS, "m", _status(C.ALREADY_EXISTS, "m", "IDEMPOTENCY_KEY_REUSED"))
    assert type(reused) is clients.IdempotencyKeyReusedError and isinstance(reused, clients.AlreadyExistsError)
    short = error_from_status(
        C.FAILED_PRECONDITION, "m", _status(C.FAILED_PRECONDITION, "m", "INSUFFICIENT_STOCK", lot="L1")
    )
    assert type(short) is clients.InsufficientStockError and isinstance(short, clients.FailedPreconditionError)
    assert short.metadata == {"lot": "L1"}
    # A reason under an unexpected code does not produce an inconsistent class.
    odd = error_from_status(C.NOT_FOUND, "m", _status(C.NOT_FOUND, "m", "INSUFFICIENT_STOCK"))
    assert type(odd) is clients.NotFoundError and odd.reason == "INSUFFICIENT_STOCK"


def test_bad_request_violations_and_error_info_are_decoded() -> None:
    status = _status(C.INVALID_ARGUMENT, "the request has invalid fields", "INVALID_ARGUMENT")
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="lines[0].quantity", description="must be > 0"),
            error_details_pb2.BadRequest.FieldViolation(field="partner_reference", description="is required"),
        ]
    )
    packed = any_pb2.Any()
    packed.Pack(bad)
    status.details.append(packed)
    error = error_from_status(C.INVALID_ARGUMENT, "transport text", status, method="SubmitOrder")
    assert isinstance(error, clients.InvalidArgumentError)
    assert error.message == "the request has invalid fields"
    assert error.domain == clients.ERROR_DOMAIN
    assert error.method == "SubmitOrder"
    assert error.violations == [
        clients.FieldViolation("lines[0].quantity", "must be > 0"),
        clients.FieldViolation("partner_reference", "is required"),
    ]
    assert str(error) == "INVALID_ARGUMENT INVALID_ARGUMENT: the request has invalid fields"


def test_without_details_the_reason_is_the_code_name() -> None:
    error = error_from_status(C.UNAVAILABLE, "failed to connect to all addresses")
    assert isinstance(error, clients.UnavailableError)
    assert error.reason == "UNAVAILABLE"
    assert error.violations == [] and error.metadata == {}
    assert "UnavailableError(code=UNAVAILABLE" in repr(error)


async def test_rpc_error_is_decoded_through_rpc_status_from_call() -> None:
    err = rich_error(C.NOT_FOUND, "order not found", reason="NOT_FOUND", metadata={"name": "orders/9"})
    decoded = await error_from_rpc_error(err, FakeCall(err), method="GetOrder")
    assert isinstance(decoded, clients.NotFoundError)
    assert decoded.message == "order not found"
    assert decoded.metadata == {"name": "orders/9"}


async def test_rpc_error_without_call_falls_back_to_trailers() -> None:
    err = rich_error(C.ALREADY_EXISTS, "key reused", reason="IDEMPOTENCY_KEY_REUSED")
    decoded = await error_from_rpc_error(err)
    assert isinstance(decoded, clients.IdempotencyKeyReusedError)


async def test_plain_transport_error_and_garbage_details() -> None:
    decoded = await error_from_rpc_error(plain_error(C.DEADLINE_EXCEEDED, "Deadline Exceeded"))
    assert isinstance(decoded, clients.DeadlineExceededError) and decoded.reason == "DEADLINE_EXCEEDED"
    garbage = grpc.aio.AioRpcError(
        C.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(("grpc-status-details-bin", b"\xff\xfe")), "x", None
    )
    decoded = await error_from_rpc_error(garbage, FakeCall(garbage))
    assert isinstance(decoded, clients.InternalError) and decoded.reason == "INTERNAL"


async def test_details_of_another_status_code_are_ignored() -> None:
    status = _status(C.NOT_FOUND, "m", "NOT_FOUND")
    err = grpc.aio.AioRpcError(
        C.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString())),
        "proxy down",
        None,
    )
    decoded = await error_from_rpc_error(err, FakeCall(err))
    assert isinstance(decoded, clients.UnavailableError)
    assert decoded.reason == "UNAVAILABLE" and decoded.message == "proxy down"
