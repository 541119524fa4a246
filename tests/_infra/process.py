"""One lifecycle for every server the tests run: start, wait until ready, stop or kill by PID.

``ServerProcess`` is the base of ``NatsServer``, ``RedisServer`` and ``PostgresCluster``.
A subclass says what is its own: the command line (:meth:`command`), the readiness check
(:meth:`ready`), the signals of a graceful stop and of a crash, and optionally work before
the first start (:meth:`prepare`), how to run the child (:meth:`popen_kwargs`), where its
PID comes from (:attr:`pid`) and how to choose new ports (:meth:`choose_ports`).

The process is a direct child (no shell), its output goes to a log file in the server's
base directory, and a server whose ports were chosen here is started again on other free
ports when another process grabbed one between choosing and binding it.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from tests._infra.child import ChildProcess
from tests._infra.ports import stop_process, wait_until

__all__ = ["ServerProcess", "require_binary"]

_PORT_TAKEN = "address already in use"


def require_binary(given: str | None, find: Callable[[], str | None], missing: str) -> str:
    """``given``, else the binary ``find`` finds; :class:`FileNotFoundError` saying ``missing`` without one."""
    found = given or find()
    if found is None:
        raise FileNotFoundError(missing)
    return found


class ServerProcess(ChildProcess):
    """A server child process with a base directory (a temporary one unless given)."""

    #: Name used in messages (``nats-server``, ``redis-server``, ``postgres``).
    label: ClassVar[str] = "server"
    #: Signal of :meth:`stop` (graceful) and of :meth:`kill` (crash-like).
    stop_signal: ClassVar[int] = signal.SIGTERM
    kill_signal: ClassVar[int] = signal.SIGKILL
    #: Seconds between two readiness checks.
    poll_interval: ClassVar[float] = 0.05

    def __init__(self, *, base_dir: str | Path | None, start_timeout: float, own_ports: bool) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if base_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"mes-{self.label}-")
            self.base_dir = Path(self._tmp.name)
        else:
            self.base_dir = Path(base_dir)
            self.base_dir.mkdir(parents=True, exist_ok=True)
        self.start_timeout = start_timeout
        self._own_ports = own_ports
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    # -- what a subclass provides --------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.base_dir / f"{self.label}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        """Work before a start (create directories, initdb...); runs before every start."""

    def popen_kwargs(self) -> dict[str, Any]:
        """Extra ``subprocess.Popen`` arguments (for example another OS user)."""
        return {}

    def choose_ports(self) -> None:
        """Pick new free ports (only called when this object chose the first ones)."""

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Start (or start again) and wait until :meth:`ready`; a no-op while running."""
        if self.running:
            return self
        attempts = 3 if self._own_ports and self.proc is None else 1
        for attempt in range(attempts):
            try:
                self._spawn()
                return self
            except RuntimeError:
                if attempt + 1 == attempts or _PORT_TAKEN not in self.log_tail().lower():
                    raise
                self.choose_ports()
        return self

    def _spawn(self) -> None:
        self.prepare()
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._open_log(),
            stderr=subprocess.STDOUT,
            **self.popen_kwargs(),
        )
        proc = self.proc

        def exited() -> str | None:
            code = proc.poll()
            return None if code is None else f"{self.label} exited with code {code}\n{self.log_tail()}"

        try:
            wait_until(
                self.ready,
                timeout=self.start_timeout,
                interval=self.poll_interval,
                message=f"{self.label} readiness ({self})",
                abort=exited,
            )
        except TimeoutError as exc:
            self.kill()
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from None
        except RuntimeError:
            self.kill()
            raise

    def _signal(self, sig: int, timeout: float) -> None:
        pid = self.pid
        if pid is not None or self.proc is not None:
            stop_process(self.proc, pid, sig=sig, timeout=timeout)
        self._close_log()

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (``stop_signal``, SIGKILL after ``timeout``); ports and data are kept."""
        self._signal(self.stop_signal, timeout)

    def kill(self) -> None:
        """Crash-like stop (``kill_signal``); the next :meth:`start` uses the same ports and data."""
        self._signal(self.kill_signal, 10.0)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and delete the temporary directory this object created."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def describe(self) -> str:
        return str(self.base_dir)

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"{type(self).__name__}({self.describe()}, {state})"
