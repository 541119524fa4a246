"""Fixtures of the inventory integration tests: each test runs on SQLite and on PostgreSQL,
against the real composition root on a free port, through a real gRPC channel.

``db_url`` (parametrised), ``make_settings``, ``app``, ``channel`` and ``stub`` come from
``tests._infra.services``.
"""

from __future__ import annotations

from mes.inventory.v1 import inventory_pb2_grpc
from services.inventory.bootstrap import SPEC
from tests._infra.auth import AUTH_TOKENS
from tests._infra.services import ServiceUnderTest, service_fixtures

INVENTORY = ServiceUnderTest(
    SPEC,
    inventory_pb2_grpc.InventoryServiceStub,
    env={"MES_AUTH_TOKENS": AUTH_TOKENS, "MES_SHUTDOWN_GRACE_S": "1", "MES_LOG_FORMAT": "console"},
)
db_url, make_settings, app, channel, stub = service_fixtures(INVENTORY)
