"""Composition root: ``create_app(settings) -> Starlette``.

Routes: ``GET``/``POST /graphql`` (our pipeline, see ``endpoint``), WebSocket ``/graphql``
(subscriptions, see ``ws``), ``/healthz`` (200 when the services answer SERVING, else 503) and
``/livez`` (200 once started: the event loop answers, nothing is called), the operators' pages and
static files (``/``, ``/graphiql``, ``/favicon.ico``, ``/static/``: :mod:`graphql_facade.web`).
Prometheus ``/metrics`` is served on a port of its own (``MES_FACADE_METRICS_PORT``,
:class:`MetricsListener`), not on this one (404) unless ``MES_FACADE_METRICS_PORT=public``. The
lifespan starts the metrics listener, opens the backend channels, caches, limiters and the NATS
consumers, and closes them on shutdown.

``GET``/``POST /sign-in`` and ``POST /sign-out`` sign operators in and out (the session cookie:
:mod:`graphql_facade.sign_in`, :mod:`graphql_facade.sessions`).

Every HTTP request runs in a server span (:mod:`mes_platform.telemetry.tracing`; ``<METHOD>
<path>``, with ``http.request.method``, ``url.path`` and ``http.response.status_code``): the
caller's ``traceparent`` header is continued, else a new trace starts; the backend calls are
client spans under it that send their context on as gRPC metadata, and the request's log lines
carry ``trace_id``/``span_id``. A response cache hit answered by the hit lane, ahead of this
middleware, makes no span (it calls nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_facade.backend import Backend
from graphql_facade.caching import Cache
from graphql_facade.config import FacadeSettings
from graphql_facade.endpoint import GraphQLEndpoint
from graphql_facade.events import EventHub
from graphql_facade.hit_lane import HitLane
from graphql_facade.metrics import MetricsListener
from graphql_facade.pipeline import FairGate
from graphql_facade.pipeline.request import dumps
from graphql_facade.runtime import Facade
from graphql_facade.sessions import Sessions
from graphql_facade.sign_in import sign_in_routes
from graphql_facade.web import web_routes
from graphql_facade.ws import SubscriptionEndpoint
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.tracing import SpanKind, annotate, parse_traceparent, span, tracing_enabled

__all__ = ["TraceContextMiddleware", "create_app"]

_log = get_logger("mes.facade")
_HEALTH_TTL_S = 1.0
#: Paths named in the request span's name; any other path gives the method alone (``GET``).
_SPAN_PATHS = frozenset({"/graphql", "/sign-in", "/sign-out", "/healthz", "/livez"})


class _JSONResponse(StarletteJSONResponse):
    """Starlette's JSON response, encoded by orjson."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


class _Lazy:
    """An ASGI/endpoint placeholder bound to the facade once the lifespan has opened it."""

    def __init__(self) -> None:
        self.facade: Facade | None = None
        self.http: GraphQLEndpoint | None = None
        self.ws: SubscriptionEndpoint | None = None
        self._health: tuple[float, int, dict[str, Any]] | None = None

    def bind(self, facade: Facade) -> None:
        self.facade = facade
        self.http = GraphQLEndpoint(facade)
        self.ws = SubscriptionEndpoint(facade)

    def unbind(self) -> None:
        self.facade = self.http = self.ws = None

    @property
    def sessions(self) -> Sessions | None:
        """Operators' sessions (the sign-in routes and the authenticator share them)."""
        return self.facade.sessions if self.facade is not None else None

    @property
    def gate(self) -> FairGate | None:
        return self.http.gate if self.http is not None else None

    async def graphql(self, request: Request) -> Response:
        if self.http is None:
            return _JSONResponse({"errors": [{"message": "Starting.", "extensions": {"code": "UNAVAILABLE"}}]}, 503)
        return await self.http(request)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.ws is None:
            await send({"type": "websocket.close", "code": 1013})
            return
        await self.ws(scope, receive, send)

    async def healthz(self, request: Request) -> Response:
        facade = self.facade
        if facade is None:
            return _JSONResponse({"status": "starting"}, status_code=503)
        now = time.monotonic()
        if self._health is not None and self._health[0] > now:
            return _JSONResponse(self._health[2], status_code=self._health[1])
        try:
            async with asyncio.timeout(2.0):
                services = dict(await facade.backend.health())
        except Exception:
            services = {}
        checks: dict[str, Any] = {"services": services}
        healthy = bool(services) and all(services.values())
        if facade.settings.nats_url:
            checks["events"] = {"connected": bool(facade.events and facade.events.connected), "live": facade.hub.live}
        body = {"status": "ok" if healthy else "unavailable", "instance": facade.settings.instance, **checks}
        status = 200 if healthy else 503
        self._health = (now + _HEALTH_TTL_S, status, body)
        return _JSONResponse(body, status_code=status)


class _WebSocketApp:
    """A plain ASGI app (Starlette treats functions and methods as session handlers instead)."""

    def __init__(self, lazy: _Lazy) -> None:
        self._lazy = lazy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._lazy.websocket(scope, receive, send)


class TraceContextMiddleware:
    """Runs each HTTP request in a server span continuing its ``traceparent`` header (or a new trace)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        incoming = None
        for key, value in scope.get("headers", ()):
            if key == b"traceparent":
                incoming = value.decode("latin-1")
                break
        method, path = scope.get("method", "GET"), scope.get("path", "")
        attributes = {"http.request.method": method, "url.path": path}
        name = f"{method} {path}" if path in _SPAN_PATHS else method  # bounded span names
        with span(name, kind=SpanKind.SERVER, parent=parse_traceparent(incoming), attributes=attributes):
            if not tracing_enabled():
                await self._app(scope, receive, send)
                return

            async def send_noting_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    annotate(
                        {"http.response.status_code": status},
                        error=str(status) if status >= 500 else None,
                        ok=status < 500,
                    )
                await send(message)

            await self._app(scope, receive, send_noting_status)


async def _metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _livez(request: Request) -> Response:
    return _JSONResponse({"status": "alive"})


def _start_metrics(settings: FacadeSettings) -> MetricsListener | None:
    """The ``/metrics`` listener of ``MES_FACADE_METRICS_PORT`` (None: 0, or served on the public port)."""
    if not settings.metrics_port:
        return None
    try:
        return MetricsListener.start(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        where = f"{settings.metrics_host}:{settings.metrics_port}"
        _log.error("metrics_listener_failed", address=where, error=str(exc))
        raise RuntimeError(
            f"MES_FACADE_METRICS_PORT: cannot serve metrics on {where} ({exc.strerror or exc});"
            " choose another port, or 0 (off)"
        ) from exc


def create_app(
    settings: FacadeSettings,
    *,
    backend: Backend | None = None,
    cache: Cache | None = None,
    hub: EventHub | None = None,
    events: bool = True,
    on_start: Callable[[Facade], None] | None = None,
) -> Starlette:
    """The ASGI app. ``backend``, ``cache`` and ``hub`` replace the real ones (tests);
    ``events=False`` skips the NATS consumers; ``on_start`` sees the opened :class:`Facade`."""
    lazy = _Lazy()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        metrics = _start_metrics(settings)
        try:
            facade = await Facade.start(settings, backend=backend, cache=cache, hub=hub, events=events)
        except BaseException:
            if metrics is not None:
                await metrics.close()
            raise
        lazy.bind(facade)
        app.state.facade = facade
        if on_start is not None:
            on_start(facade)
        where = metrics.url if metrics is not None else "public port" if settings.metrics_on_public_port else "off"
        _log.info(
            "facade_started",
            instance=settings.instance,
            cache="redis" if settings.redis_url else "memory",
            metrics=where,
        )
        if settings.metrics_on_public_port:
            _log.warning("metrics_on_public_port", detail="GET /metrics answers on the port partners call")
        try:
            yield
        finally:
            lazy.unbind()
            try:
                await facade.aclose()
            finally:
                if metrics is not None:
                    await metrics.close()
            _log.info("facade_stopped", instance=settings.instance)

    return Starlette(
        routes=[
            Route("/graphql", lazy.graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", _WebSocketApp(lazy)),
            Route("/healthz", lazy.healthz, methods=["GET"]),
            Route("/livez", _livez, methods=["GET"]),
            # Operators sign in and out (the session cookie): graphql_facade.sign_in.
            *sign_in_routes(lazy),
            *([Route("/metrics", _metrics, methods=["GET"])] if settings.metrics_on_public_port else []),
            # Operators' browsers: /, /graphiql, /favicon.ico and /static/ (graphql_facade.web).
            *web_routes(lazy, settings),
        ],
        middleware=[Middleware(HitLane, parts=lazy), Middleware(TraceContextMiddleware)],
        lifespan=lifespan,
    )
