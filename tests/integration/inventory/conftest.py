"""Fixtures of the inventory integration tests: each test runs on SQLite and on PostgreSQL,
against the real composition root on a free port, through a real gRPC channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest

from mes.inventory.v1 import inventory_pb2_grpc
from mes_platform.config import ServiceSettings
from services.inventory.bootstrap import App, start

TOKENS = "svc-token=service:test,op-token=operator:OP-1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}"
    make_pg_database: Callable[..., str] = request.getfixturevalue("make_pg_database")
    return make_pg_database()


@pytest.fixture
def make_settings(db_url: str, tmp_path: Path) -> Callable[..., ServiceSettings]:
    def make(**env: str) -> ServiceSettings:
        base = {
            "MES_AUTH_TOKENS": TOKENS,
            "MES_INVENTORY_DATABASE_URL": db_url,
            "MES_DATA_DIR": str(tmp_path),
            "MES_SHUTDOWN_GRACE_S": "1",
            "MES_LOG_FORMAT": "console",
        }
        return ServiceSettings.from_env("inventory", env={**base, **env})

    return make


@pytest.fixture
async def app(make_settings: Callable[..., ServiceSettings]) -> AsyncIterator[App]:
    started = await start(make_settings(), port=0)
    try:
        yield started
    finally:
        await started.aclose()


@pytest.fixture
async def stub(app: App) -> AsyncIterator[inventory_pb2_grpc.InventoryServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield inventory_pb2_grpc.InventoryServiceStub(channel)
