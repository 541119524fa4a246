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
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Self

from tests._infra.ports import log_tail, stop_process, wait_until

__all__ = ["ServerProcess"]

_PORT_TAKEN = "address already in use"


class ServerProcess:
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
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

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

    # -- state --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Start (or start again) and wait until :meth:`ready`; a no-op while running."""
        if self.running:
            return self
        attempts = 3 if self._own_ports and self._proc is None else 1
        for attempt in range(attempts):
            try:
                self._spawn()
                return self
            except RuntimeError:
                if attempt + 1 == attempts or _PORT_TAKEN not in log_tail(self.log_path).lower():
                    raise
                self.choose_ports()
        return self

    def _spawn(self) -> None:
        self.prepare()
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            **self.popen_kwargs(),
        )
        proc = self._proc

        def exited() -> str | None:
            code = proc.poll()
            return None if code is None else f"{self.label} exited with code {code}\n{log_tail(self.log_path)}"

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
            raise RuntimeError(f"{exc}\n{log_tail(self.log_path)}") from None
        except RuntimeError:
            self.kill()
            raise

    def _signal(self, sig: int, timeout: float) -> None:
        pid = self.pid
        if pid is not None or self._proc is not None:
            stop_process(self._proc, pid, sig=sig, timeout=timeout)
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

    def describe(self) -> str:
        return str(self.base_dir)

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"{type(self).__name__}({self.describe()}, {state})"
