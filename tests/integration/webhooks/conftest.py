"""Fixtures of the webhooks integration tests: the service in process on SQLite and on
PostgreSQL, a private nats-server per test for the delivery flows, order events published on
its ORDERS stream, and a receiver on loopback that verifies signatures.

``db_url``, ``make_settings``, ``app``, ``channel`` and ``stub`` come from
``tests._infra.services`` (the API without NATS); ``make_webhooks(**env)`` starts the whole
service (consumer and dispatcher) on the test's nats-server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import grpc
import pytest

from mes.webhooks.v1 import webhooks_pb2_grpc
from services.webhooks.bootstrap import SPEC
from tests._infra.ports import LOOPBACK
from tests._infra.services import ServiceUnderTest, service_fixtures, start_service_under_test
from tests.integration.webhooks._orders import OrderEvents, order_events_on
from tests.integration.webhooks._receiver import Receiver, running_receiver
from tests.integration.webhooks._support import AUTH_TOKENS, FAST, Running

WEBHOOKS = ServiceUnderTest(
    SPEC,
    webhooks_pb2_grpc.WebhooksServiceStub,
    env={"MES_AUTH_TOKENS": AUTH_TOKENS, "MES_PAGE_TOKEN_SECRET": "test-secret", "MES_LOG_FORMAT": "console"},
)
db_url, make_settings, app, channel, stub = service_fixtures(WEBHOOKS)


@pytest.fixture
def nats_url(make_nats_server: Callable[..., Any]) -> str:
    """A private nats-server for this test (overrides the session-wide ``nats_url``)."""
    return str(make_nats_server().url)


@pytest.fixture
async def make_webhooks(
    make_settings: Callable[..., Any], nats_url: str
) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """``await make_webhooks(**env)``: the service with NATS (dev mode, :data:`FAST` knobs)."""
    async with AsyncExitStack() as stack:

        async def make(**env: str) -> Running:
            settings = make_settings(**{"NATS_URL": nats_url, "MES_DEV_MODE": "1", **FAST, **env})
            service = await stack.enter_async_context(start_service_under_test(SPEC, settings))
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(f"{LOOPBACK}:{service.port}"))
            return Running(service, webhooks_pb2_grpc.WebhooksServiceStub(channel))

        yield make


@pytest.fixture
async def orders(nats_url: str) -> AsyncIterator[OrderEvents]:
    """Publishes order events on the test's ORDERS stream (start the service first: it makes the stream)."""
    async with order_events_on(nats_url) as events:
        yield events


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as started:
        yield started
