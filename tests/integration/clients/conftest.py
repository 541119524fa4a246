"""Fixtures of the client integration tests: fake servicers on real in-process gRPC servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import structlog

from mes_platform.telemetry.logs import configure_logging
from tests.integration.clients.clients_fake_services import FakeStack, fake_stack


@pytest.fixture(autouse=True)
def quiet_server_logs() -> Iterator[None]:
    """In-process servers log every RPC; keep stdout for mesctl's output only."""
    saved = structlog.get_config()
    configure_logging("clients-tests", "ERROR", json=False)
    yield
    structlog.configure(**saved)


@pytest.fixture
async def stack() -> AsyncIterator[FakeStack]:
    async with fake_stack() as servers:
        yield servers
