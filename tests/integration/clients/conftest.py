"""Fixtures of the client integration tests: fake servicers on real in-process gRPC servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from mes_platform.telemetry.logs import configure_logging
from tests._infra.logs import logging_restored
from tests.integration.clients.clients_fake_services import FakeStack, fake_stack


@pytest.fixture(autouse=True)
def quiet_server_logs() -> Iterator[None]:
    """In-process servers log every RPC; keep stdout for mesctl's output only."""
    with logging_restored():
        configure_logging("clients-tests", "ERROR", json=False)
        yield


@pytest.fixture
async def stack() -> AsyncIterator[FakeStack]:
    async with fake_stack() as servers:
        yield servers
