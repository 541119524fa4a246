"""A service under test: started in process on a free port, on SQLite or on PostgreSQL.

One place for what the integration suites of the three services share:

* ``BACKENDS``: the database parametrisation (``sqlite``, and ``postgres`` marked
  ``postgres``), and :func:`backend_database_url` which turns the parameter into the URL of
  a fresh database (a file in ``tmp_path``, or a new database from ``make_pg_database``);
* :func:`start_service_under_test`: ``mes_platform.runtime.start_service(spec, ...)`` on
  port 0, optional seeding, ``aclose()`` at the end;
* :func:`service_fixtures`: the fixtures ``db_url`` (parametrised), ``make_settings``,
  ``app``, ``channel`` and ``stub`` for one :class:`ServiceUnderTest`. A service's
  ``conftest.py`` binds them by name::

      db_url, make_settings, app, channel, stub = service_fixtures(
          ServiceUnderTest(SPEC, OrdersServiceStub, env={"MES_AUTH_TOKENS": ...})
      )

  and a test module can still override one (``db_url`` on PostgreSQL only, for example).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import pytest

from mes_platform.config import ServiceSettings
from mes_platform.runtime import RunningService, ServiceSpec, start_service
from tests._infra.ports import LOOPBACK

__all__ = [
    "BACKENDS",
    "ServiceFixtures",
    "ServiceUnderTest",
    "backend_database_url",
    "service_fixtures",
    "start_service_under_test",
]

#: The databases every service suite runs on; ``postgres`` carries the ``postgres`` marker.
BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))

Seed = Callable[[Any], Awaitable[None]]


def backend_database_url(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """URL of a fresh database for the backend ``request.param`` (one of ``BACKENDS``)."""
    backend = request.param
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}"
    if backend == "postgres":
        make_pg_database: Callable[..., str] = request.getfixturevalue("make_pg_database")
        return make_pg_database()
    raise ValueError(f"unknown database backend: {backend!r}")


@asynccontextmanager
async def start_service_under_test(
    spec: ServiceSpec[Any, Any], settings: ServiceSettings, *, seed: Seed | None = None
) -> AsyncIterator[RunningService[Any, Any]]:
    """The service of ``spec`` in this process on a free port; stopped on exit."""
    service = await start_service(spec, settings, port=0)
    try:
        if seed is not None:
            await seed(service)
        yield service
    finally:
        await service.aclose()


@dataclass(frozen=True)
class ServiceUnderTest:
    """What differs from one service's integration suite to the next."""

    spec: ServiceSpec[Any, Any]
    #: The generated gRPC stub class (called with the channel).
    stub: Callable[[grpc.aio.Channel], Any]
    #: Settings of every test (``MES_AUTH_TOKENS``...); the database URL and data dir are added.
    env: Mapping[str, str] = field(default_factory=dict)
    #: Runs once the service is up, before the test (catalogue items, ...).
    seed: Seed | None = None

    def settings(self, db_url: str, data_dir: Path, **env: str) -> ServiceSettings:
        base = {
            f"MES_{self.spec.name.upper()}_DATABASE_URL": db_url,
            "MES_DATA_DIR": str(data_dir),
            **self.env,
        }
        return ServiceSettings.from_env(self.spec.name, env={**base, **env})


class ServiceFixtures(NamedTuple):
    db_url: Any
    make_settings: Any
    app: Any
    channel: Any
    stub: Any


def service_fixtures(sut: ServiceUnderTest) -> ServiceFixtures:
    """The fixtures of one service's suite; bind them in its ``conftest.py`` under these names."""

    @pytest.fixture(name="db_url", params=BACKENDS)
    def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
        """A fresh database of each backend: a SQLite file, and a new PostgreSQL database."""
        return backend_database_url(request, tmp_path, sut.spec.name)

    @pytest.fixture(name="make_settings")
    def make_settings(db_url: str, tmp_path: Path) -> Callable[..., ServiceSettings]:
        """``make_settings(**env)``: the suite's settings with ``env`` on top."""

        def make(**env: str) -> ServiceSettings:
            return sut.settings(db_url, tmp_path, **env)

        return make

    @pytest.fixture(name="app")
    async def app(make_settings: Callable[..., ServiceSettings]) -> AsyncIterator[RunningService[Any, Any]]:
        """The service running in process on a free port (seeded), stopped after the test."""
        async with start_service_under_test(sut.spec, make_settings(), seed=sut.seed) as service:
            yield service

    @pytest.fixture(name="channel")
    async def channel(app: RunningService[Any, Any]) -> AsyncIterator[grpc.aio.Channel]:
        async with grpc.aio.insecure_channel(f"{LOOPBACK}:{app.port}") as ch:
            yield ch

    @pytest.fixture(name="stub")
    def stub(channel: grpc.aio.Channel) -> Any:
        return sut.stub(channel)

    return ServiceFixtures(db_url, make_settings, app, channel, stub)
