"""``python -m graphql_facade``: serve the facade with uvicorn (httptools, uvloop when available).

Host and port come from ``MES_FACADE_HOST``/``MES_FACADE_PORT`` (default 127.0.0.1:8180); Prometheus
``/metrics`` is served apart, on ``MES_FACADE_METRICS_HOST``/``MES_FACADE_METRICS_PORT`` (default:
the same host, port 18180; 0: off).
Once started, the heap of the start-up is frozen out of the garbage collector's generations and
young collections run less often (``_settle_heap``). SIGTERM/SIGINT stop it gracefully: new
connections are refused, open requests finish within ``MES_FACADE_SHUTDOWN_GRACE_S``, the lifespan
closes channels, caches and NATS; exit code 0. Settings it refuses (a development secret off
loopback, a ``REPLACE_ME`` placeholder, a malformed value) are one line on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import signal
import sys
import threading
from collections.abc import Iterator

import uvicorn

from graphql_facade.app import create_app
from graphql_facade.config import FacadeSettings
from mes_platform.telemetry.logs import configure_logging, get_logger
from mes_platform.telemetry.trace_export import configure_tracing

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Young-generation collections every 10,000 allocations instead of 700: a dashboard request allocates
#: tens of thousands of short-lived objects, and most of what a collection would walk is long-lived.
_GC_THRESHOLD = (10_000, 50, 100)


def _settle_heap(facade: object) -> None:
    """Once started: what exists now (schemas, plans' registry, channels) lives as long as the process,
    so it leaves the collector's generations (``gc.freeze``) and full collections stop walking it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLD)


class _Server(uvicorn.Server):
    """uvicorn re-raises the captured signal after a graceful stop (exit code -15); we exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def main() -> None:
    try:
        settings = FacadeSettings.from_env()
    except ValueError as exc:  # a development secret off loopback, a placeholder, a bad value: one clear line
        print(f"graphql_facade: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging("graphql_facade", settings.log_level, json=settings.log_json)
    try:
        configure_tracing("graphql_facade")  # OTEL_* (mes_platform.telemetry.trace_export)
    except ValueError as exc:
        print(f"graphql_facade: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    config = uvicorn.Config(
        create_app(settings, on_start=_settle_heap),
        host=settings.host,
        port=settings.port,
        http="httptools",
        loop=loop,
        ws="websockets-sansio",
        # uvicorn's own cap on a WebSocket message (16 MiB by default): a frame twice the facade's
        # limit is refused before it is held whole; under that, the facade's check answers 4400.
        ws_max_size=2 * settings.ws_max_message_bytes,
        lifespan="on",
        # The client address is the facade's own business (MES_FACADE_TRUSTED_PROXIES): uvicorn would
        # otherwise believe X-Forwarded-For from any local peer.
        proxy_headers=False,
        timeout_keep_alive=max(1, int(settings.idle_timeout_s)),
        access_log=False,
        log_config=None,  # uvicorn's records go to the root logger: JSON lines (configure_logging)
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_s)),
        server_header=False,
    )
    get_logger("mes.facade").info(
        "listening",
        host=settings.host,
        port=settings.port,
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port or ("public" if settings.metrics_on_public_port else 0),
        loop=loop,
    )
    _Server(config).run()


if __name__ == "__main__":
    main()
