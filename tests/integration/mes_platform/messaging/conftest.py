"""Fixtures for the messaging integration tests: a database (SQLite and PostgreSQL) with the
test schema, and a private NATS server per test (cheap, and safe to kill).

On PostgreSQL one database is created per session and every test gets a fresh schema in
it (the service's ``search_path``), which is much faster than a database per test.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from mes_platform.db import Database
from mes_platform.messaging import NatsConnection, connect_nats, ensure_streams
from tests._infra.nats import NatsServer
from tests._infra.postgres import PostgresAdmin, plain_dsn
from tests._infra.services import BACKENDS, backend_database_url
from tests.integration.mes_platform.messaging.msg_helpers import DbTarget, metadata


@pytest.fixture(scope="session")
def messaging_pg_url(postgres_admin: PostgresAdmin) -> str:
    return postgres_admin.create_database_url()


@pytest.fixture(params=BACKENDS)
async def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> DbTarget:
    if request.param == "sqlite":
        return DbTarget(backend_database_url(request, tmp_path, "messaging"), "main")
    url: str = request.getfixturevalue("messaging_pg_url")
    schema = f"t_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return DbTarget(url, schema)


@pytest.fixture
async def db(db_target: DbTarget) -> AsyncIterator[Database]:
    database = Database(db_target.url, schema=db_target.schema, pool_size=5)
    async with database.writer.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
def server(make_nats_server: Callable[..., NatsServer]) -> NatsServer:
    return make_nats_server()


@pytest.fixture
async def nats_conn(server: NatsServer) -> AsyncIterator[NatsConnection]:
    conn = await connect_nats(server.url, name="test", reconnect_time_wait_s=0.1, drain_timeout_s=2.0)
    await ensure_streams(conn.js, duplicate_window_s=60)
    yield conn
    await conn.close()


@pytest.fixture
async def connect(server: NatsServer) -> AsyncIterator[Callable[..., Awaitable[NatsConnection]]]:
    """Factory for extra connections to the test server (closed at teardown)."""
    opened: list[NatsConnection] = []

    async def make(name: str = "extra") -> NatsConnection:
        conn = await connect_nats(server.url, name=name, reconnect_time_wait_s=0.1, drain_timeout_s=2.0)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        await conn.close()
