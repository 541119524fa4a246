"""Throw-away databases on a PostgreSQL server, and the URL helpers of the tests.

``PostgresAdmin`` creates and drops uniquely named databases. Its API is synchronous so
session fixtures can use it; the asyncpg calls run on a helper thread when an event loop
is already running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import secrets
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

__all__ = [
    "ENV_URL",
    "SUPPORTED_MAJORS",
    "PostgresAdmin",
    "plain_dsn",
    "quote_ident",
    "redact",
    "run_sync",
    "with_database",
]

ENV_URL = "MES_TEST_POSTGRES_URL"
#: The PostgreSQL majors the suites support: 15 (CI's machine server) to 18 (the embedded wheel).
SUPPORTED_MAJORS = range(15, 19)
DEFAULT_PREFIX = "mes_test"
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_TERMINATE_SQL = """
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = $1 AND pid <> pg_backend_pid()
"""

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-admin") as pool:
        return pool.submit(asyncio.run, coro).result()


def plain_dsn(url: str) -> str:
    """``postgresql+asyncpg://...`` -> ``postgresql://...`` (what asyncpg and libpq accept)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return urlunsplit(("postgresql", *parts[1:]))


def with_database(url: str, database: str, driver: str | None = "asyncpg") -> str:
    """Same server and credentials as ``url`` but another database (and SQLAlchemy driver)."""
    parts = urlsplit(plain_dsn(url))
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    return urlunsplit((scheme, parts.netloc, "/" + quote(database), parts.query, parts.fragment))


def redact(url: str) -> str:
    """URL with the password replaced by ``***`` (for logs and report headers)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, *parts[2:]))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresAdmin:
    """Creates and drops uniquely named databases on the server behind ``admin_url``."""

    def __init__(self, admin_url: str, *, prefix: str = DEFAULT_PREFIX, timeout: float = 10.0) -> None:
        self.admin_url = admin_url
        self.dsn = plain_dsn(admin_url)
        self.prefix = prefix
        self.timeout = timeout
        self.created: list[str] = []

    @classmethod
    def from_env(cls) -> PostgresAdmin | None:
        url = os.environ.get(ENV_URL, "").strip()
        return cls(url) if url else None

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, timeout=self.timeout)

    async def _fetchval(self, query: str, *args: object) -> Any:
        conn = await self._connect()
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    def ping(self) -> str:
        """Server version string; raises when the server is unreachable."""
        return str(run_sync(self._fetchval("SHOW server_version")))

    def server_major(self) -> int:
        """The server's major version (15, 18...); raises when the server is unreachable."""
        return int(run_sync(self._fetchval("SHOW server_version_num"))) // 10000

    def new_name(self) -> str:
        return f"{self.prefix}_{secrets.token_hex(6)}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty UTF-8 database (from template0) and return its name."""
        name = name or self.new_name()
        if not _NAME_RE.match(name):
            raise ValueError(f"unsafe database name: {name!r}")
        run_sync(self._create(name))
        self.created.append(name)
        return name

    async def _create(self, name: str) -> None:
        conn = await self._connect()
        try:
            # template0 avoids "source database is being accessed by other users" on template1;
            # the C locale is compatible with every server encoding and locale setup.
            options = "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            await conn.execute(f"CREATE DATABASE {quote_ident(name)} {options}")
        finally:
            await conn.close()

    def drop_database(self, name: str) -> None:
        """Terminate the database's sessions and drop it (no error if it does not exist)."""
        run_sync(self._drop(name))
        with contextlib.suppress(ValueError):
            self.created.remove(name)

    async def _drop(self, name: str) -> None:
        conn = await self._connect()
        try:
            await conn.execute(_TERMINATE_SQL, name)
            force = " WITH (FORCE)" if conn.get_server_version().major >= 13 else ""
            await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)}{force}")
        finally:
            await conn.close()

    def drop_all(self) -> None:
        """Drop every database this admin created."""
        errors: list[str] = []
        for name in list(self.created):
            try:
                self.drop_database(name)
            except Exception as exc:
                errors.append(f"{name}: {exc}")
        if errors:
            raise RuntimeError("could not drop test databases: " + "; ".join(errors))

    def database_exists(self, name: str) -> bool:
        return bool(run_sync(self._fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)))

    def url(self, name: str, driver: str | None = "asyncpg") -> str:
        """URL of database ``name``; ``driver=None`` gives a plain ``postgresql://`` URL."""
        return with_database(self.admin_url, name, driver)

    def create_database_url(self, driver: str | None = "asyncpg") -> str:
        """Create a fresh database and return its URL (``postgresql+asyncpg://`` by default)."""
        return self.url(self.create_database(), driver)
