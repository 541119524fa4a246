"""Redis for tests: the server named by ``MES_TEST_REDIS_URL`` or a private ``redis-server``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests._infra.ports import LOOPBACK, free_port, log_tail, stop_process, wait_until

ENV_URL = "MES_TEST_REDIS_URL"


def env_redis_url() -> str | None:
    """``MES_TEST_REDIS_URL`` if set (for example ``redis://127.0.0.1:6379/15``)."""
    return os.environ.get(ENV_URL, "").strip() or None


def find_redis_server() -> str | None:
    return shutil.which("redis-server")


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """Send an inline ``PING`` and expect ``+PONG``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A throw-away ``redis-server`` (no persistence) on a free loopback port."""

    def __init__(
        self,
        *,
        port: int | None = None,
        binary: str | None = None,
        extra_args: list[str] | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise FileNotFoundError("redis-server binary not found")
        self.binary = found
        self.port = port or free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="mes-redis-")
        self.base_dir = Path(self._tmp.name)
        self.log_path = self.base_dir / "redis.log"
        self.extra_args = list(extra_args or [])
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def url_for(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    @property
    def url(self) -> str:
        return self.url_for(0)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        return [
            self.binary,
            "--bind",
            LOOPBACK,
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.base_dir),
            *self.extra_args,
        ]

    def start(self) -> Self:
        if self.running:
            return self
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        proc = self._proc

        def exited() -> str | None:
            code = proc.poll()
            if code is None:
                return None
            return f"redis-server exited with code {code}\n{log_tail(self.log_path)}"

        try:
            wait_until(
                lambda: ping(LOOPBACK, self.port),
                timeout=self.start_timeout,
                message=f"redis-server on port {self.port} readiness",
                abort=exited,
            )
        except (TimeoutError, RuntimeError):
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; the port is kept for ``start()``."""
        if self._proc is not None:
            stop_process(self._proc, sig=signal.SIGTERM, timeout=timeout)
        self._close_log()

    def kill(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, sig=signal.SIGKILL, timeout=10.0)
        self._close_log()

    def close(self) -> None:
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
        return f"RedisServer({self.url}, {state})"
