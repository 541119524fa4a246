"""PostgreSQL for tests.

``PostgresAdmin`` creates and drops throw-away databases on an existing server
(``MES_TEST_POSTGRES_URL``). ``PostgresCluster`` runs a private cluster (initdb in a
temporary directory, free loopback port) that tests may stop and start again.

Both expose a synchronous API so they can be used from session fixtures; the
asyncpg calls run on a helper thread when an event loop is already running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from tests._infra.ports import LOOPBACK, free_port, log_tail, pid_alive, stop_process, wait_until

ENV_URL = "MES_TEST_POSTGRES_URL"
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


def pg_bindir() -> Path:
    """Directory with ``initdb``/``postgres``: ``pg_config --bindir``, else the newest Debian install."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            candidates.append(Path(out))
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    raise FileNotFoundError("PostgreSQL server binaries (initdb, postgres) not found")


class PostgresCluster:
    """A private PostgreSQL cluster in a temporary directory on a free loopback port.

    When running as root the server runs as the ``postgres`` OS user (PostgreSQL refuses
    root). ``stop()`` is a fast shutdown (SIGINT to the postmaster PID from
    ``postmaster.pid``); ``kill()`` is an immediate shutdown (SIGQUIT, crash-like,
    recovery on next start). ``start()`` brings the same cluster back on the same port.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        base_dir: str | Path | None = None,
        bindir: str | Path | None = None,
        os_user: str = "postgres",
        start_timeout: float = 60.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.bindir = Path(bindir) if bindir is not None else pg_bindir()
        self.port = port or free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if base_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mes-pg-")
            self.base_dir = Path(self._tmp.name)
        else:
            self.base_dir = Path(base_dir)
            self.base_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_path = self.base_dir / "postgres.log"
        self.start_timeout = start_timeout
        self.settings = {
            "listen_addresses": LOOPBACK,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **(settings or {}),
        }
        self._as_root = os.geteuid() == 0
        self._user = pwd.getpwnam(os_user) if self._as_root else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._initialized = False

    # -- addresses -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """Superuser URL of the ``postgres`` database (trust authentication)."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/postgres"

    def admin(self) -> PostgresAdmin:
        return PostgresAdmin(self.url)

    @property
    def pid(self) -> int | None:
        """Postmaster PID from ``postmaster.pid`` (None when not running)."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        except OSError:
            return None
        if not first.isdigit():
            return None
        pid = int(first)
        return pid if pid_alive(pid) else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -----------------------------------------------------------------

    def _user_kwargs(self) -> dict[str, Any]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            self._initialized = True
            return
        self._chown(self.base_dir)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.socket_dir)
        cmd = [
            str(self.bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        if self._user is not None:
            cmd = ["runuser", "-u", self._user.pw_name, "--", *cmd]
        result = subprocess.run(cmd, cwd=self.base_dir, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        self._initialized = True

    def start(self) -> Self:
        """initdb on first use, start the postmaster and wait until it accepts connections."""
        if self.running:
            return self
        if not self._initialized:
            self.initdb()
        cmd = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
        ]
        for key, value in self.settings.items():
            cmd += ["-c", f"{key}={value}"]
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        # Spawned directly (no runuser/shell) so the child PID is the postmaster's.
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            **self._user_kwargs(),
        )
        proc = self._proc

        def exited() -> str | None:
            code = proc.poll()
            if code is None:
                return None
            return f"postgres exited with code {code}\n{log_tail(self.log_path)}"

        try:
            wait_until(
                self.ready,
                timeout=self.start_timeout,
                interval=0.1,
                message=f"PostgreSQL on port {self.port} readiness",
                abort=exited,
            )
        except TimeoutError as exc:
            self.kill()
            raise RuntimeError(f"{exc}\n{log_tail(self.log_path)}") from None
        except RuntimeError:
            self.kill()
            raise
        return self

    def ready(self) -> bool:
        pg_isready = self.bindir / "pg_isready"
        if not pg_isready.is_file():
            pg_isready = Path(shutil.which("pg_isready") or "pg_isready")
        try:
            result = subprocess.run(
                [str(pg_isready), "-q", "-h", LOOPBACK, "-p", str(self.port), "-t", "1"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
                timeout=5,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0

    def _shutdown(self, sig: int, timeout: float) -> None:
        pid = self.pid or (self._proc.pid if self.running and self._proc is not None else None)
        if pid is not None or self._proc is not None:
            stop_process(self._proc, pid, sig=sig, timeout=timeout)
        self._close_log()

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT to the postmaster); data directory and port are kept."""
        self._shutdown(signal.SIGINT, timeout)

    def kill(self) -> None:
        """Immediate shutdown (SIGQUIT): like a crash, the next ``start()`` runs recovery."""
        self._shutdown(signal.SIGQUIT, 10.0)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and delete the temporary directory it created."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"PostgresCluster({self.url}, data={self.data_dir}, {state})"
