"""Fixtures of the saga tests: the three services in process on SQLite files or on one
PostgreSQL database (a schema per service), with a private nats-server per test (no stream
or consumer state leaks from one test to the next)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests._infra.services import BACKENDS, backend_database_url
from tests.integration.saga.saga_stack import SERVICES, SagaStack, start_stack


@pytest.fixture(params=BACKENDS)
def db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """A SQLite file per service, or one PostgreSQL database for the three."""
    if request.param == "sqlite":
        return {svc: backend_database_url(request, tmp_path, svc) for svc in SERVICES}
    return dict.fromkeys(SERVICES, backend_database_url(request, tmp_path, "saga"))


@pytest.fixture
def nats_url(make_nats_server: Callable[..., Any]) -> str:
    """A private nats-server for this test (overrides the session-wide ``nats_url``)."""
    return str(make_nats_server().url)


@pytest.fixture
async def stack(db_urls: dict[str, str], nats_url: str, tmp_path: Path) -> AsyncIterator[SagaStack]:
    started = await start_stack(db_urls, nats_url, str(tmp_path))
    try:
        yield started
    finally:
        await started.aclose()
