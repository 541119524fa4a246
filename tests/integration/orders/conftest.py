"""Fixtures of the orders integration tests: the service on SQLite and on PostgreSQL,
started in process on a free port and driven through a real gRPC channel.

``db_url`` (parametrised), ``make_settings``, ``app``, ``channel`` and ``stub`` come from
``tests._infra.services``; ``partner_keys`` is the orders suite's own.
"""

from __future__ import annotations

from typing import Any

import pytest

from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from services.orders.bootstrap import SPEC, App
from services.orders.domain.catalogue import CatalogueKind
from tests._infra.auth import AUTH_TOKENS
from tests._infra.services import ServiceUnderTest, service_fixtures
from tests.integration.orders._support import ALLOYS, STAFF, STYLES, T


async def seed_catalogue(service: App) -> None:
    """The styles and alloys the orders of the tests name."""
    for kind, codes in ((CatalogueKind.STYLE, STYLES), (CatalogueKind.ALLOY, ALLOYS)):
        for code in codes:
            await service.handles.event_handlers.apply_catalogue_item(kind, code, code.title(), True, 1)


ORDERS = ServiceUnderTest(
    SPEC,
    orders_pb2_grpc.OrdersServiceStub,
    env={"MES_AUTH_TOKENS": AUTH_TOKENS, "MES_PAGE_TOKEN_SECRET": "test-secret"},
    seed=seed_catalogue,
)
db_url, make_settings, app, channel, stub = service_fixtures(ORDERS)


@pytest.fixture
async def partner_keys(stub: Any) -> dict[str, str]:
    """Two partners, "acme" and "globex"; their plain API keys by partner id."""
    keys = {}
    for partner_id in ("acme", "globex"):
        reply = await stub.CreatePartner(
            orders_pb2.CreatePartnerRequest(partner_id=partner_id, display_name=partner_id.title()),
            metadata=STAFF,
            timeout=T,
        )
        keys[partner_id] = reply.api_key
    return keys
