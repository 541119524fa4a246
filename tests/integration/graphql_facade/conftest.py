"""Fixtures of the facade's integration tests: the real services in process, the facade app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from graphql_facade.app import create_app
from graphql_facade.backend import Backend
from graphql_facade.caching import Cache
from graphql_facade.config import FacadeSettings
from graphql_facade.events import EventHub
from graphql_facade.runtime import Facade
from tests._infra.graphql import data, request_body
from tests.integration.graphql_facade.facade_stack import OPERATOR, Stack, start_stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    services = await start_stack(tmp_path)
    try:
        yield services
    finally:
        await services.aclose()


class Facades:
    """A running facade app (lifespan entered) with an httpx client on it."""

    def __init__(self, app: Starlette, facade: Facade, http: httpx.AsyncClient) -> None:
        self.app = app
        self.facade = facade
        self.http = http

    async def gql(
        self, query: str, variables: Mapping[str, Any] | None = None, *, headers: Mapping[str, str] = OPERATOR
    ) -> httpx.Response:
        return await self.http.post("/graphql", json=request_body(query, variables), headers=dict(headers), timeout=30)


@asynccontextmanager
async def facade_app(
    settings: FacadeSettings,
    *,
    backend: Backend | None = None,
    events: bool = False,
    cache: Cache | None = None,
    hub: EventHub | None = None,
) -> AsyncIterator[Facades]:
    opened: list[Facade] = []
    app = create_app(settings, backend=backend, events=events, cache=cache, hub=hub, on_start=opened.append)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://facade.test") as http:
            yield Facades(app, opened[0], http)


async def first_operation(facade: Facades, order_id: str, fields: str = "id status workCenterId") -> dict[str, Any]:
    """The first operation of the order's first work order, with ``fields``."""
    query = f"query($id: ID!) {{ order(id: $id) {{ workOrders {{ operations {{ {fields} }} }} }} }}"
    detail = data(await facade.gql(query, {"id": order_id}))
    operation: dict[str, Any] = detail["order"]["workOrders"][0]["operations"][0]
    return operation


async def start_operation(facade: Facades, operation_id: str, key: str = "s-1") -> str:
    """Starts the operation (5.2 g weighed in, idempotency key ``key``); its status in the answer."""
    started = await facade.gql(
        "mutation($id: ID!, $key: String) {"
        " startOperation(id: $id, weighInMg: 5200, idempotencyKey: $key) { status } }",
        {"id": operation_id, "key": key},
    )
    status: str = data(started)["startOperation"]["status"]
    return status
