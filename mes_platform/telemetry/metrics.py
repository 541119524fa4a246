"""Prometheus metrics shared by the services, and the ``/metrics`` endpoint of a process.

gRPC, RED per method (:class:`~mes_platform.telemetry.grpc_metrics.GrpcMetricsInterceptor` records
them for every method a service serves, health checks and reflection aside):

* ``mes_grpc_server_requests_total{service,method,code}``: calls answered, by status code name
  (``OK``, ``INVALID_ARGUMENT``, ``UNAVAILABLE``...);
* ``mes_grpc_server_request_duration_seconds{service,method}``: their duration (histogram).

``mes_rpc_seconds{service,method,code}`` is the older histogram of the same calls (what the rolling
restart test and the deployment notes read); both are kept.

``mes_db_replica_lag_seconds{service}``: how far the reader (a streaming replica) is behind the
writer, set by the process that probes the replica.

:func:`start_metrics_server` serves the default registry as Prometheus text over HTTP
(``prometheus_client.start_http_server``: a small threaded server in a daemon thread, so
the event loop never serves scrapes); :meth:`MetricsServer.close` stops it. The metric list with
what each one means for whoever is on call is ``docs/observability.md``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

__all__ = [
    "EVENTS_CONSUMED",
    "EVENTS_PUBLISHED",
    "GRPC_REQUESTS",
    "GRPC_REQUEST_DURATION",
    "REPLICA_LAG",
    "RPC_LATENCY",
    "MetricsServer",
    "start_metrics_server",
]

RPC_LATENCY = Histogram(
    "mes_rpc_seconds",
    "gRPC server call latency",
    ["service", "method", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GRPC_REQUESTS = Counter(
    "mes_grpc_server_requests_total",
    "gRPC calls answered by the service, by status code",
    ["service", "method", "code"],
)
GRPC_REQUEST_DURATION = Histogram(
    "mes_grpc_server_request_duration_seconds",
    "Duration of the gRPC calls answered by the service",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REPLICA_LAG = Gauge(
    "mes_db_replica_lag_seconds", "How far the service's read replica is behind its writer", ["service"]
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
