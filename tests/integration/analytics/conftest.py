"""Fixtures of the analytics integration tests: the service in process on SQLite and on PostgreSQL
(``db_url``, ``make_settings``, ``app``, ``channel``, ``stub`` from ``tests._infra.services``: the API
without NATS), and ``make_analytics(**env)``: the whole service (its four consumers) on a private
nats-server, started as ``python -m services.analytics`` starts it (the streams it reads ensured
first)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import grpc
import pytest

from mes.analytics.v1 import analytics_pb2_grpc
from services.analytics.bootstrap import SPEC, start
from tests._infra.ports import LOOPBACK
from tests._infra.services import ServiceUnderTest, service_fixtures
from tests.integration.analytics._support import AUTH_TOKENS, FAST, Running

ANALYTICS = ServiceUnderTest(
    SPEC,
    analytics_pb2_grpc.AnalyticsServiceStub,
    env={
        "MES_AUTH_TOKENS": AUTH_TOKENS,
        "MES_PAGE_TOKEN_SECRET": "test-secret",
        "MES_LOG_FORMAT": "console",
        "MES_ANALYTICS_TIME_ZONE": "Europe/Rome",
    },
)
db_url, make_settings, app, channel, stub = service_fixtures(ANALYTICS)


@pytest.fixture
def nats_url(make_nats_server: Callable[..., Any]) -> str:
    """A private nats-server for this test (overrides the session-wide ``nats_url``)."""
    return str(make_nats_server().url)


@pytest.fixture
async def make_analytics(
    make_settings: Callable[..., Any], nats_url: str
) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """``await make_analytics(**env)``: the service with NATS (:data:`FAST` knobs)."""
    async with AsyncExitStack() as stack:

        async def make(**env: str) -> Running:
            service = await start(make_settings(**{"NATS_URL": nats_url, **FAST, **env}), port=0)
            stack.push_async_callback(service.aclose)
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(f"{LOOPBACK}:{service.port}"))
            return Running(service, analytics_pb2_grpc.AnalyticsServiceStub(channel))

        yield make
