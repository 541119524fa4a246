"""Fixtures of the orders integration tests: the service on SQLite and on PostgreSQL,
started in process on a free port and driven through a real gRPC channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes_platform.config import ServiceSettings
from services.orders.bootstrap import App, start
from services.orders.domain.catalogue import CatalogueKind
from tests.integration.orders._support import ALLOYS, AUTH_TOKENS, STAFF, STYLES, T


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    make_pg_database: Callable[..., str] = request.getfixturevalue("make_pg_database")
    return make_pg_database()


@pytest.fixture
def make_settings(db_url: str, tmp_path: Path) -> Callable[..., ServiceSettings]:
    def make(**env: str) -> ServiceSettings:
        base = {
            "MES_ORDERS_DATABASE_URL": db_url,
            "MES_AUTH_TOKENS": AUTH_TOKENS,
            "MES_DATA_DIR": str(tmp_path),
            "MES_PAGE_TOKEN_SECRET": "test-secret",
        }
        return ServiceSettings.from_env("orders", env={**base, **env})

    return make


@pytest.fixture
async def app(make_settings: Callable[..., ServiceSettings]) -> AsyncIterator[App]:
    service = await start(make_settings(), port=0)
    try:
        for kind, codes in ((CatalogueKind.STYLE, STYLES), (CatalogueKind.ALLOY, ALLOYS)):
            for code in codes:
                await service.handles.event_handlers.apply_catalogue_item(kind, code, code.title(), True, 1)
        yield service
    finally:
        await service.aclose()


@pytest.fixture
async def channel(app: App) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> Any:
    return orders_pb2_grpc.OrdersServiceStub(channel)


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
