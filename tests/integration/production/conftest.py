"""Fixtures of the production integration tests: the service on SQLite and on PostgreSQL,
started in process on a free port and driven through a real gRPC channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from mes.production.v1 import production_pb2_grpc
from mes_platform.config import ServiceSettings
from services.production.bootstrap import App, start
from tests.integration.production._support import AUTH_TOKENS


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'production.db'}"
    make_pg_database: Callable[..., str] = request.getfixturevalue("make_pg_database")
    return make_pg_database()


@pytest.fixture
def make_settings(db_url: str, tmp_path: Path) -> Callable[..., ServiceSettings]:
    def make(**env: str) -> ServiceSettings:
        base = {
            "MES_PRODUCTION_DATABASE_URL": db_url,
            "MES_AUTH_TOKENS": AUTH_TOKENS,
            "MES_DATA_DIR": str(tmp_path),
            "MES_PAGE_TOKEN_SECRET": "test-secret",
            "MES_LOG_FORMAT": "console",
        }
        return ServiceSettings.from_env("production", env={**base, **env})

    return make


@pytest.fixture
async def app(make_settings: Callable[..., ServiceSettings]) -> AsyncIterator[App]:
    service = await start(make_settings(), port=0)
    try:
        yield service
    finally:
        await service.aclose()


@pytest.fixture
async def channel(app: App) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> Any:
    return production_pb2_grpc.ProductionServiceStub(channel)
