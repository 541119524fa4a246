"""The HTML pages of the facade for operators' browsers: ``/graphiql``, ``/`` and ``/favicon.ico``.

``GET /graphiql`` is GraphiQL on ``/graphql`` for an authenticated operator (the viewer of the request,
as :meth:`Authenticator.from_headers` finds it: the session cookie, or a bearer token); a browser
without one is sent (303) to ``/sign-in?next=/graphiql``, a partner gets 404 (GraphiQL is off for
partners), and the whole page is off with ``MES_FACADE_GRAPHIQL=0`` (404). Every script, style sheet
and font comes from ``/static/`` (:mod:`graphql_facade.web.assets`); the page runs no inline script.

``GET /`` sends a signed-in operator to :data:`HOME` and anyone else to ``/sign-in``.

Every page and redirect carries :func:`security_headers`: the Content-Security-Policy (scripts from
the facade only, no ``eval``: GraphiQL's bundle does not need it; connections to the facade only,
WebSocket included; no framing), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
same-origin`` and ``Cache-Control: no-store`` (what a page shows depends on who asks).
``style-src`` allows inline styles: GraphiQL's dialogs insert a ``<style>`` element at run time (a
style cannot run script).
"""

from __future__ import annotations

import html
import re
from importlib import resources
from string import Template
from typing import Protocol
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from graphql_facade.auth import Viewer
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.runtime import Facade
from graphql_facade.web.assets import StaticAssets
from graphql_facade.web.vendor import PINS

__all__ = ["DEFAULT_QUERY", "GRAPHIQL_PATH", "HOME", "SIGN_IN_PATH", "FacadeHolder", "Pages", "security_headers"]

GRAPHIQL_PATH = "/graphiql"
SIGN_IN_PATH = "/sign-in"
#: Where ``GET /`` takes a signed-in operator: the operators' web app (:mod:`graphql_facade.web.app_pages`).
HOME = "/floor"
GRAPHQL_PATH = "/graphql"

#: What GraphiQL shows the first time (afterwards the browser keeps the operator's own tabs).
DEFAULT_QUERY = """\
# GraphiQL on the operators' schema, as the signed-in operator.
# Ctrl-Enter runs the operation, Ctrl-Space completes a field; the Docs panel lists them all.

query Board {
  orderCounts {
    total
    late
    byStatus { status count }
  }
  orders(first: 20) {
    nodes { id partnerId partnerReference status priority dueTime late }
    pageInfo { hasNextPage endCursor }
  }
}
"""

#: A ``Host`` header that may stand in the policy (a name or an address, and a port).
_HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src {connect}",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


class FacadeHolder(Protocol):
    """What the pages need of the app: the facade, once the lifespan has opened it."""

    @property
    def facade(self) -> Facade | None: ...


def security_headers(request: Request) -> dict[str, str]:
    """The headers of every page and redirect; ``connect-src`` names the request's host for WebSockets
    (``'self'`` alone covers them in current browsers only)."""
    connect = "'self'"
    host = request.headers.get("host", "")
    if _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return {
        "Content-Security-Policy": "; ".join(_POLICY).format(connect=connect),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _vendored(package: str, name: str) -> str:
    """The path under ``static/`` of a vendored file (the pinned version's)."""
    pin = next(pin for pin in PINS if pin.name == package)
    return f"vendor/{pin.folder}/{name}"


def _render(assets: StaticAssets) -> str:
    template = resources.files("graphql_facade.web").joinpath("templates", "graphiql.html").read_text("utf-8")
    values = {
        "favicon": "/favicon.ico",
        "graphiql_css": assets.url(_vendored("graphiql", "graphiql.min.css")),
        "page_css": assets.url("graphiql/page.css"),
        "react_js": assets.url(_vendored("react", "react.production.min.js")),
        "react_dom_js": assets.url(_vendored("react-dom", "react-dom.production.min.js")),
        "graphiql_js": assets.url(_vendored("graphiql", "graphiql.min.js")),
        "boot_js": assets.url("graphiql/boot.js"),
        "endpoint": GRAPHQL_PATH,
        "default_query": DEFAULT_QUERY,
    }
    return Template(template).substitute({name: html.escape(value, quote=True) for name, value in values.items()})


class Pages:
    """The handlers of the pages (``graphiql``: whether ``/graphiql`` is served)."""

    def __init__(self, holder: FacadeHolder, assets: StaticAssets, *, graphiql: bool) -> None:
        self._holder = holder
        self._assets = assets
        self._graphiql = graphiql
        self._graphiql_page = _render(assets)

    async def _viewer(self, request: Request) -> Viewer | None:
        """The viewer of the request; None when it has no valid credential."""
        facade = self._holder.facade
        if facade is None:
            raise FacadeError(ErrorCode.UNAVAILABLE, "Starting.", http_status=503, headers={"Retry-After": "1"})
        try:
            return await facade.authenticator.from_headers(request.headers)
        except FacadeError as err:
            if err.code == ErrorCode.UNAUTHENTICATED:
                return None
            raise

    async def graphiql(self, request: Request) -> Response:
        """``GET /graphiql``."""
        headers = security_headers(request)
        if not self._graphiql:
            return PlainTextResponse("Not found.", status_code=404, headers=headers)
        try:
            viewer = await self._viewer(request)
        except FacadeError as err:
            return _unavailable(err, headers)
        if viewer is None:
            return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(GRAPHIQL_PATH)}", status_code=303, headers=headers)
        if viewer.is_partner:
            return PlainTextResponse("Not found.", status_code=404, headers=headers)
        return HTMLResponse(self._graphiql_page, headers=headers)

    async def home(self, request: Request) -> Response:
        """``GET /``: a signed-in operator goes to :data:`HOME`, anyone else to the sign-in page."""
        headers = security_headers(request)
        try:
            viewer = await self._viewer(request)
        except FacadeError as err:
            return _unavailable(err, headers)
        if viewer is None or viewer.is_partner:
            return RedirectResponse(SIGN_IN_PATH, status_code=303, headers=headers)
        if HOME == GRAPHIQL_PATH and not self._graphiql:
            return PlainTextResponse("GraphiQL is off (MES_FACADE_GRAPHIQL=0).", status_code=404, headers=headers)
        return RedirectResponse(HOME, status_code=303, headers=headers)

    async def favicon(self, request: Request) -> Response:
        """``GET /favicon.ico``: the shipped icon."""
        return await self._assets.respond(request, "favicon.ico")


def _unavailable(err: FacadeError, headers: dict[str, str]) -> Response:
    """The facade is starting, or the credential could not be checked (an outage): try again."""
    return PlainTextResponse(
        err.message, status_code=err.http_status, headers={**headers, "Retry-After": "1", **err.headers}
    )
