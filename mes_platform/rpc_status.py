"""Domain errors to ``google.rpc.Status`` (ErrorInfo + BadRequest) and gRPC codes."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from mes_kernel.errors import ERROR_DOMAIN, MesError

__all__ = ["grpc_code", "internal_status", "to_rpc_status"]


def grpc_code(error: MesError) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, error.code, grpc.StatusCode.INTERNAL)


def to_rpc_status(error: MesError) -> status_pb2.Status:
    """Encode a domain error as ``google.rpc.Status`` with ErrorInfo (+ BadRequest)."""
    code_value: int = grpc_code(error).value[0]
    status = status_pb2.Status(code=code_value, message=error.message)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    status.details.append(packed)
    if error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        packed_bad = any_pb2.Any()
        packed_bad.Pack(bad)
        status.details.append(packed_bad)
    return status


def internal_status() -> status_pb2.Status:
    """The masked status for unexpected errors: no exception text leaves the process."""
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")
