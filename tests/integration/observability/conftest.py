"""A real service for the observability tests: inventory in this process, on SQLite and PostgreSQL
(``BACKENDS``), with a private nats-server, its ``/metrics`` endpoint on a free port and its
pipeline's gauges polled every 0.1 s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from mes_platform.config import ServiceSettings
from services.inventory.bootstrap import App, start
from tests._infra.nats import NatsServer
from tests._infra.ports import free_port
from tests._infra.services import BACKENDS, backend_database_url

SERVICE_TOKEN = (("authorization", "Bearer svc-token"),)
StartInventory = Callable[..., AbstractAsyncContextManager[App]]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_database_url(request, tmp_path, "inventory")


@pytest.fixture
def nats(make_nats_server: Callable[..., NatsServer]) -> NatsServer:
    return make_nats_server()


@pytest.fixture
def start_inventory(db_url: str, tmp_path: Path, nats: NatsServer) -> StartInventory:
    """``async with start_inventory(**env) as app``: the service with metrics (``app.metrics.url``)."""

    @asynccontextmanager
    async def started(**env: str) -> AsyncIterator[App]:
        settings = ServiceSettings.from_env(
            "inventory",
            env={
                "MES_AUTH_TOKENS": "svc-token=service:test",
                "MES_INVENTORY_DATABASE_URL": db_url,
                "MES_DATA_DIR": str(tmp_path),
                "NATS_URL": nats.url,
                "MES_INVENTORY_METRICS_PORT": str(free_port()),
                "MES_METRICS_POLL_S": "0.1",
                "MES_SHUTDOWN_GRACE_S": "1",
                "MES_LOG_FORMAT": "console",
                **env,
            },
        )
        app = await start(settings, port=0)
        try:
            yield app
        finally:
            await app.aclose()

    return started
