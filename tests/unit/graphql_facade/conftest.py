"""Fixtures of the facade's unit tests: the app over the fake backend, driven through ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette

from graphql_facade.app import create_app
from graphql_facade.caching import Cache
from graphql_facade.config import FacadeSettings
from graphql_facade.events import EventHub
from graphql_facade.runtime import Facade
from mes_kernel import api_keys
from tests._infra.graphql import request_body
from tests.unit.graphql_facade.facade_fakes import FakeBackend

OPERATOR_TOKEN = "op-token"
# Keys with a checksum (the facade refuses any other without asking the orders service), the same in
# every process: some tests run the facade in a process of their own.
PARTNER_A_KEY = api_keys.with_checksum("test-partner-a".ljust(32, "0"))
PARTNER_B_KEY = api_keys.with_checksum("test-partner-b".ljust(32, "0"))
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
PARTNER_A = {"X-API-Key": PARTNER_A_KEY}
PARTNER_B = {"X-API-Key": PARTNER_B_KEY}
FakeT = TypeVar("FakeT", bound=FakeBackend)


def facade_settings(**env: str) -> FacadeSettings:
    base = {
        "MES_FACADE_OPERATOR_TOKENS": f"{OPERATOR_TOKEN}=OP-01",
        # An event makes the next request recompute what it touched (no stale answer is served);
        # the tests of stale-while-revalidate set their own bound.
        "MES_FACADE_CACHE_MAX_STALE_MS": "0",
        "MES_FACADE_CACHE_REFRESH_INTERVAL_MS": "0",
        "MES_FACADE_COUNTERS_INTERVAL_MS": "10",
        # No /metrics listener (its default port is a fixed one); the tests of the listener give a free port.
        "MES_FACADE_METRICS_PORT": "0",
    }
    base.update(env)
    return FacadeSettings.from_env(base)


def throttling_settings(**env: str) -> FacadeSettings:
    """The standard tier cut to 30 cost units, restored at 1 a second, without the response cache:
    a partner with full pages of orders (``add_full_pages``) runs out after a few reads."""
    return facade_settings(
        MES_FACADE_LIMITS_STANDARD_BUCKET_CAPACITY="30",
        MES_FACADE_LIMITS_STANDARD_MAX_COST="30",
        MES_FACADE_LIMITS_STANDARD_RESTORE_RATE="1",
        MES_FACADE_CACHE="0",
        **env,
    )


def add_full_pages(backend: FakeBackend, *partners: str) -> None:
    """Five orders (without production) for each partner: a first page of five is full, so a read of it
    is charged its whole requested cost (nothing is refunded)."""
    for _ in range(5):
        for partner in partners:
            backend.add_order(partner, with_production=False)


def seeded(fake: FakeT) -> FakeT:
    """``fake`` with the catalogue and the two partners, ``partner-a`` and ``partner-b``, of the test keys."""
    fake.add_catalogue()
    fake.add_partner("partner-a", PARTNER_A_KEY)
    fake.add_partner("partner-b", PARTNER_B_KEY)
    return fake


@pytest.fixture
def backend() -> FakeBackend:
    return seeded(FakeBackend())


class FacadeClient:
    """An httpx client on the ASGI app plus the opened facade (its hub, caches, ...)."""

    def __init__(self, http: httpx.AsyncClient, facade: Facade, app: Starlette) -> None:
        self.http = http
        self.facade = facade
        self.app = app

    async def gql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] = OPERATOR,
        operation_name: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        body = request_body(query, variables, operation_name=operation_name, extensions=extensions)
        return await self.http.post("/graphql", json=body, headers=dict(headers), timeout=10)


@asynccontextmanager
async def running_app(
    backend: FakeBackend,
    settings: FacadeSettings | None = None,
    *,
    cache: Cache | None = None,
    hub: EventHub | None = None,
) -> AsyncIterator[FacadeClient]:
    opened: list[Facade] = []
    app = create_app(
        settings or facade_settings(), backend=backend, cache=cache, hub=hub, events=False, on_start=opened.append
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://facade.test") as http:
            yield FacadeClient(http, opened[0], app)


@pytest.fixture
async def client(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as c:
        yield c


@pytest.fixture
def app_factory(backend: FakeBackend) -> Callable[..., Any]:
    def make(settings: FacadeSettings | None = None, **kwargs: Any) -> Any:
        return running_app(backend, settings, **kwargs)

    return make
