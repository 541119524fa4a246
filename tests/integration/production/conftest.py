"""Fixtures of the production integration tests: the service on SQLite and on PostgreSQL,
started in process on a free port and driven through a real gRPC channel.

``db_url`` (parametrised), ``make_settings``, ``app``, ``channel`` and ``stub`` come from
``tests._infra.services``.
"""

from __future__ import annotations

from mes.production.v1 import production_pb2_grpc
from services.production.bootstrap import SPEC
from tests._infra.auth import AUTH_TOKENS
from tests._infra.services import ServiceUnderTest, service_fixtures

PRODUCTION = ServiceUnderTest(
    SPEC,
    production_pb2_grpc.ProductionServiceStub,
    env={
        "MES_AUTH_TOKENS": AUTH_TOKENS,
        "MES_PAGE_TOKEN_SECRET": "test-secret",
        "MES_LOG_FORMAT": "console",
    },
)
db_url, make_settings, app, channel, stub = service_fixtures(PRODUCTION)
