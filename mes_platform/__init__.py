"""The infrastructure platform every service process runs on.

Database engines (``db``), the transactional outbox and inbox, idempotency records and the
unit-of-work implementation (``uow``), JetStream messaging (``messaging``), the gRPC server
with its interceptor (``grpc_server``), authentication of callers (``auth``), logging,
tracing and metrics, and the one service runtime (``runtime``) that starts and stops them.
Pure rules live in :mod:`mes_kernel`; the event registry in :mod:`mes_contracts`.
"""
