"""Prometheus metrics shared by the services, and the ``/metrics`` endpoint of a process.

:func:`start_metrics_server` serves the default registry as Prometheus text over HTTP
(``prometheus_client.start_http_server``: a small threaded server in a daemon thread, so
the event loop never serves scrapes); :meth:`MetricsServer.close` stops it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Histogram, start_http_server

__all__ = ["EVENTS_CONSUMED", "EVENTS_PUBLISHED", "RPC_LATENCY", "MetricsServer", "start_metrics_server"]

RPC_LATENCY = Histogram(
    "mes_rpc_seconds",
    "gRPC server call latency",
    ["service", "method", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("mes_events_published_total", "Outbox events published", ["service", "subject"])
EVENTS_CONSUMED = Counter(
    "mes_events_consumed_total", "Events handled by consumers", ["service", "consumer", "outcome"]
)


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint (``port`` is the bound one, also when asked for 0)."""

    host: str
    port: int
    _httpd: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def _stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    async def close(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        if self._thread.is_alive():
            await asyncio.to_thread(self._stop)
        else:
            self._httpd.server_close()


def start_metrics_server(host: str, port: int) -> MetricsServer:
    """Serve the default registry on ``host:port`` (0: a free port); raises OSError when the
    port is taken."""
    httpd, thread = start_http_server(port, addr=host)
    return MetricsServer(host, int(httpd.server_port), httpd, thread)
