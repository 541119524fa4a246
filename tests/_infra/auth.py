"""The credentials of a service under test: ``MES_AUTH_TOKENS`` names a service caller and the
operator OP-1, and the tests call with their bearer tokens, each call with a deadline."""

from __future__ import annotations

__all__ = ["AS_OPERATOR", "AS_SERVICE", "AUTH_TOKENS", "DEADLINE_S", "OPERATOR_TOKEN", "SERVICE_TOKEN"]

SERVICE_TOKEN = "svc-token"
OPERATOR_TOKEN = "op-token"
AUTH_TOKENS = f"{SERVICE_TOKEN}=service:test,{OPERATOR_TOKEN}=operator:OP-1"
#: gRPC metadata of a call by the service caller, and by the operator OP-1.
AS_SERVICE = (("authorization", f"Bearer {SERVICE_TOKEN}"),)
AS_OPERATOR = (("authorization", f"Bearer {OPERATOR_TOKEN}"),)
#: Seconds: the deadline of every call.
DEADLINE_S = 10.0
