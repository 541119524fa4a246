"""The operators' web app: one HTML shell, one page per :class:`PageSpec`, each page's data inlined.

A page is a persisted query (``web/queries/<document_file>``), a module under ``static/app/`` that
renders it, and the function that turns the request (path parameters, query string) into the
query's variables. ``GET <path>``:

* a browser without a valid credential is sent (303) to ``/sign-in?next=<path and query>``, a partner
  gets 404 (the app is the operators'), the facade still starting is 503;
* :attr:`PageSpec.variables_from_request` reads the request; a bad value raises :class:`PageInputError`
  and the answer is the shell with the message, HTTP 400 (never a 500);
* the page's query runs through the facade's own pipeline (:class:`graphql_facade.pipeline.Pipeline`:
  the response cache, the limits, the error shapes of ``POST /graphql``) as the signed-in operator,
  admitted by the same fair gate; an ``INVALID_ARGUMENT`` answer is a 400, a query without data a 503
  (or the pipeline's own status), :attr:`PageSpec.missing` naming what is not there a 404;
* a page that is not live (:attr:`PageSpec.live` false: the analytics pages, refetched by their Refresh
  button) opens no WebSocket; its header says "Not live" and has no "Pause live updates" toggle;
* the answer is ``templates/app.html`` with the result inlined as
  ``<script type="application/json" id="snapshot">{"data":…, "asOf":…}</script>`` (``asOf`` is the
  result's root ``asOf``, else the first root field's: ``floor { asOf }``) and the document and variables as
  ``<script type="application/json" id="page-query">`` for ``live.js``'s ``refetch()``.

Scripts are ES modules from ``/static/app/`` with fingerprinted URLs. A module imports another one by
its plain relative path (``import { onData } from "../live.js"``); the shell's import map sends each
such URL to its fingerprinted one, so every module is loaded once, from one URL, cached immutable. The
import map is inline JSON, allowed by its own sha256 in ``script-src`` (it runs nothing); every
other header is :func:`graphql_facade.web.pages.security_headers`'.

:data:`PAGES` holds the pages by name (:func:`register` adds one; the nav shows Floor, Orders, Metal &
loss, Analytics and Partners when they are registered, and GraphiQL when it is on); :func:`app_page_routes`
gives their routes.

The analytics pages (``/metal``, ``/analytics``, ``/partners``) take the window from the query string
(:func:`analytics_window`): ``window=7d``, ``30d`` (the default) or ``90d``, the last days up to the end of
today in the plant's time zone (``MES_FACADE_PLANT_TIME_ZONE``: the analytics service's days start at its
midnight; the variables, and so the response cache's key, change once a day); their series are in buckets
of a day for 7 days, of a week otherwise (the Analytics page's always of a day); ``/partners`` also takes
``partner=<id>`` (one partner; all by default).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import LimitError
from graphql_facade.metrics import record_request
from graphql_facade.pagination import decode_cursor
from graphql_facade.pipeline import FairGate, Operation, Pipeline
from graphql_facade.read_your_writes import ReadYourWrites
from graphql_facade.runtime import Facade
from graphql_facade.schema.common import OrderStatus
from graphql_facade.web.assets import StaticAssets, load_assets
from graphql_facade.web.pages import GRAPHIQL_PATH, SIGN_IN_PATH, FacadeHolder, security_headers

__all__ = [
    "ANALYTICS_WINDOWS",
    "BENCH_PAGE_SIZE",
    "DEFAULT_WINDOW",
    "MAX_TRAIL",
    "ORDERS_PAGE_SIZE",
    "PAGES",
    "AppPages",
    "PageInputError",
    "PageSpec",
    "analytics_variables",
    "analytics_window",
    "app_page_routes",
    "bench_variables",
    "document_text",
    "floor_variables",
    "metal_variables",
    "order_variables",
    "orders_variables",
    "partners_variables",
    "register",
]

_QUERY_ONLY = frozenset({StrawberryOperationType.QUERY})
#: The app pages' icon, inline (a blue diamond): one request fewer before the first paint.
FAVICON = (  # base64 of <svg viewBox='0 0 16 16'><path d='M8 1 15 8 8 15 1 8Z' fill='#0b57d0'/></svg> (with its xmlns)
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHZpZXdC"
    "b3g9JzAgMCAxNiAxNic+PHBhdGggZD0nTTggMSAxNSA4IDggMTUgMSA4WicgZmlsbD0nIzBiNTdkMCcvPjwvc3ZnPg=="
)
#: Rows of the Orders table per page.
ORDERS_PAGE_SIZE = 50
#: How many earlier pages the Orders page's "Previous" link can go back through (the URL keeps their cursors).
MAX_TRAIL = 20
_MAX_CURSOR = 1024
_CURSOR = re.compile(r"[A-Za-z0-9_-]+")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"", "0", "false", "off", "no"})


class PageInputError(ValueError):
    """A request's path or query string does not make valid variables: the page answers 400 with this message."""


@dataclass(frozen=True)
class PageSpec:
    """One page of the app.

    * ``name``: its key in :data:`PAGES` and the nav (``floor``, ``orders``...);
    * ``path``: the route (Starlette syntax: ``/orders/{id}``);
    * ``title``: the document title and heading, formatted with the path parameters (``Order {id}``);
    * ``document_file``: the query under ``web/queries/``;
    * ``script``: the page's module under ``static/`` (``app/pages/orders.js``);
    * ``variables_from_request``: the query's variables (raise :class:`PageInputError` for bad input);
    * ``missing``: given the result's ``data``, a message when the thing asked for does not exist (404);
    * ``nav``: the nav entry it marks as current (its own name by default: the order detail marks Orders);
    * ``live``: whether the page keeps itself live over the WebSocket (false: it is refetched on demand,
      its header has no "Pause live updates" toggle).
    """

    name: str
    path: str
    title: str
    document_file: str
    script: str
    variables_from_request: Callable[[Request], dict[str, Any]]
    missing: Callable[[Mapping[str, Any]], str | None] | None = None
    nav: str | None = None
    live: bool = True


#: The pages by name.
PAGES: dict[str, PageSpec] = {}
#: The nav: page name and label, in order (a page shows there once registered); GraphiQL follows.
NAV: tuple[tuple[str, str], ...] = (
    ("floor", "Floor"),
    ("orders", "Orders"),
    ("metal", "Metal & loss"),
    ("analytics", "Analytics"),
    ("partners", "Partners"),
)


def register(spec: PageSpec) -> PageSpec:
    """Add ``spec`` to :data:`PAGES` (a name or path given twice is a programming error)."""
    if spec.name in PAGES or any(page.path == spec.path for page in PAGES.values()):
        raise ValueError(f"page {spec.name!r} ({spec.path}) is registered twice")
    PAGES[spec.name] = spec
    return spec


def _register_page(
    name: str,
    path: str,
    title: str,
    variables_from_request: Callable[[Request], dict[str, Any]],
    *,
    missing: Callable[[Mapping[str, Any]], str | None] | None = None,
    nav: str | None = None,
    live: bool = True,
) -> PageSpec:
    """:func:`register` the page ``name`` with its query ``web/queries/<name>.graphql`` and its module
    ``static/app/pages/<name>.js``."""
    return register(
        PageSpec(
            name=name,
            path=path,
            title=title,
            document_file=f"{name}.graphql",
            script=f"app/pages/{name}.js",
            variables_from_request=variables_from_request,
            missing=missing,
            nav=nav,
            live=live,
        )
    )


def document_text(document_file: str) -> str:
    """The text of a page's query (package data under ``web/queries/``)."""
    return resources.files("graphql_facade.web").joinpath("queries", document_file).read_text("utf-8")


# -- the Orders and Order pages' variables ---------------------------------------------------------


def _cursor(raw: str, name: str, listing: str = "the orders list") -> str:
    """A cursor of ``listing`` in the query string (checked as the API would, so a bad one is a 400 here)."""
    if len(raw) > _MAX_CURSOR or not _CURSOR.fullmatch(raw):
        raise PageInputError(f"`{name}` is not a cursor of {listing}.")
    try:
        decode_cursor(raw)
    except FacadeError:
        raise PageInputError(f"`{name}` is not a cursor of {listing}.") from None
    return raw


def _single(request: Request, name: str) -> str:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise PageInputError(f"`{name}` is given {len(values)} times; give it once.")
    return values[0].strip() if values else ""


def _partner(request: Request) -> str:
    """``partner`` of the query string: a partner id, or empty when left out."""
    partner = _single(request, "partner")
    if partner and not _ID.fullmatch(partner):
        raise PageInputError("`partner` is not a partner id (1 to 64 letters, digits, '-' or '_').")
    return partner


def orders_variables(request: Request) -> dict[str, Any]:
    """The Orders page's variables from its query string.

    ``status`` (repeatable, an order status name), ``partner`` (a partner id), ``late`` (``1``: late
    orders only), ``after`` (the cursor the page starts after) and ``trail`` (the ``after`` of the
    pages before, dot-separated, for the "Previous" link; at most :data:`MAX_TRAIL`; ``-`` is the
    first page). Other parameters are ignored.
    """
    statuses: list[str] = []
    for raw in request.query_params.getlist("status"):
        for name in filter(None, (part.strip().upper() for part in raw.split(","))):
            if name not in OrderStatus.__members__:
                allowed = ", ".join(OrderStatus.__members__)
                raise PageInputError(f"`status` {name!r} is not an order status; use one of {allowed}.")
            if name not in statuses:
                statuses.append(name)
    partner = _partner(request)
    late = _single(request, "late").lower()
    if late not in _TRUE | _FALSE:
        raise PageInputError("`late` must be 1 (late orders only) or 0.")
    after = _single(request, "after")
    trail = _single(request, "trail")
    steps = trail.split(".") if trail else []
    if len(steps) > MAX_TRAIL:
        raise PageInputError(f"`trail` names more than {MAX_TRAIL} pages.")
    for step in steps:
        if step != "-":
            _cursor(step, "trail")
    return {
        "first": ORDERS_PAGE_SIZE,
        "after": _cursor(after, "after") if after else None,
        "filter": {"statuses": statuses or None, "partnerId": partner or None, "lateOnly": late in _TRUE},
        "partnerId": partner or None,
    }


def order_variables(request: Request) -> dict[str, Any]:
    """The Order page's variables: its id from the path."""
    ident = str(request.path_params.get("id", ""))
    if not _ID.fullmatch(ident):
        raise PageInputError("This is not an order id (1 to 64 letters, digits, '-' or '_').")
    return {"id": ident}


def _order_missing(data: Mapping[str, Any]) -> str | None:
    return "There is no such order." if data.get("order") is None else None


_register_page("orders", "/orders", "Orders", orders_variables)
_register_page("order", "/orders/{id}", "Order {id}", order_variables, missing=_order_missing, nav="orders")


# -- the Floor and Bench pages' variables ----------------------------------------------------------

#: Queued operations per Bench page.
BENCH_PAGE_SIZE = 50


def floor_variables(request: Request) -> dict[str, Any]:
    """The Floor page takes no variables (its query string is ignored)."""
    return {}


def bench_variables(request: Request) -> dict[str, Any]:
    """The Bench page's variables: the work center from the path, ``after`` (a cursor of its queue)."""
    code = str(request.path_params.get("code", ""))
    if not _ID.fullmatch(code):
        raise PageInputError("This is not a work-center code (1 to 64 letters, digits, '-' or '_').")
    after = _single(request, "after")
    return {"id": code, "first": BENCH_PAGE_SIZE, "after": _cursor(after, "after", "the queue") if after else None}


def _bench_missing(data: Mapping[str, Any]) -> str | None:
    return "There is no such work center." if data.get("workCenter") is None else None


_register_page("floor", "/floor", "Floor", floor_variables)
_register_page("bench", "/bench/{code}", "Bench {code}", bench_variables, missing=_bench_missing, nav="floor")


# -- the analytics pages' variables ---------------------------------------------------------------

#: The windows of the analytics pages: ``window`` in the query string -> days up to the end of today.
ANALYTICS_WINDOWS: dict[str, int] = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_WINDOW = "30d"


def _now() -> datetime:
    return datetime.now(UTC)


def _midnight(day: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``day``'s date in ``zone`` (as an instant: a day around a clock change is 23 or 25 hours)."""
    local = datetime(day.year, day.month, day.day, tzinfo=zone)
    return local.astimezone(UTC)


def analytics_window(request: Request) -> tuple[int, dict[str, Any]]:
    """``window`` (``7d``, ``30d``, ``90d``; ``30d`` when left out): its days and the variables ``from`` and
    ``to``: the last days up to the end of today in the plant's time zone (``request.state.plant_time_zone``,
    set by the page's handler; UTC without it). Other parameters are ignored."""
    raw = _single(request, "window").lower() or DEFAULT_WINDOW
    if raw not in ANALYTICS_WINDOWS:
        allowed = ", ".join(ANALYTICS_WINDOWS)
        raise PageInputError(f"`window` {raw!r} is not a window of these pages; use one of {allowed}.")
    days = ANALYTICS_WINDOWS[raw]
    zone = ZoneInfo(getattr(request.state, "plant_time_zone", None) or "UTC")
    today = _now().astimezone(zone)
    end = _midnight(today + timedelta(days=1), zone)
    start = _midnight(today - timedelta(days=days - 1), zone)
    return days, {"from": start.isoformat(), "to": end.isoformat()}


def _grain(days: int) -> str:
    """Buckets of a day over a week, of a week over longer windows."""
    return "DAY" if days <= 7 else "WEEK"


def analytics_variables(request: Request) -> dict[str, Any]:
    """The Analytics page's variables: the window (its series are per day)."""
    return analytics_window(request)[1]


def metal_variables(request: Request) -> dict[str, Any]:
    """The Metal & loss page's variables: the window and the grain of its loss trend."""
    days, window = analytics_window(request)
    return {**window, "grain": _grain(days)}


def partners_variables(request: Request) -> dict[str, Any]:
    """The Partners page's variables: the window, its grain (days for 7 days, weeks otherwise) and
    ``partner`` (a partner id; every partner when left out)."""
    days, window = analytics_window(request)
    partner = _partner(request)
    return {**window, "grain": _grain(days), "partner": partner or None}


_register_page("metal", "/metal", "Metal & loss", metal_variables, live=False)
_register_page("analytics", "/analytics", "Analytics", analytics_variables, live=False)
_register_page("partners", "/partners", "Partners", partners_variables, live=False)


# -- the shell -------------------------------------------------------------------------------------


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, ``<!--`` or line separators."""
    text = orjson.dumps(value).decode()
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(raw, escaped)
    return text.replace("\u2029", "\\u2029")


def _as_of(data: Mapping[str, Any]) -> Any:
    """The result's ``asOf``: at the root (``asOf { seq at }``), else of the first root field that has one
    (``floor { asOf { seq at } }``); None when the document selects none."""
    if "asOf" in data:
        return data["asOf"]
    return next((value["asOf"] for value in data.values() if isinstance(value, dict) and "asOf" in value), None)


@dataclass
class _Shell:
    """What every page shares: the template, and the import map with its hash for the CSP."""

    assets: StaticAssets
    template: Template = field(init=False)
    import_map: str = field(init=False)
    import_map_hash: str = field(init=False)

    def __post_init__(self) -> None:
        text = resources.files("graphql_facade.web").joinpath("templates", "app.html").read_text("utf-8")
        self.template = Template(text)
        modules = sorted(
            asset.path for asset in self.assets if asset.path.startswith("app/") and asset.path.endswith(".js")
        )
        self.import_map = _script_json({"imports": {f"/static/{path}": self.assets.url(path) for path in modules}})
        digest = hashlib.sha256(self.import_map.encode()).digest()
        self.import_map_hash = f"'sha256-{base64.b64encode(digest).decode()}'"

    def headers(self, request: Request) -> dict[str, str]:
        """The security headers, ``script-src`` allowing the import map."""
        headers = security_headers(request)
        policy = headers["Content-Security-Policy"]
        headers["Content-Security-Policy"] = policy.replace(
            "script-src 'self'", f"script-src 'self' {self.import_map_hash}", 1
        )
        return headers


@dataclass
class _View:
    """One rendering of the shell."""

    title: str
    current: str
    viewer: Viewer | None
    graphiql: bool
    body: str = ""
    snapshot: dict[str, Any] | None = None
    page_query: dict[str, Any] | None = None
    script: str | None = None
    #: Whether the page keeps itself live (else no "Pause live updates" toggle).
    live: bool = True


class AppPages:
    """The handlers of the registered pages (``graphiql``: whether the nav links GraphiQL)."""

    def __init__(self, holder: FacadeHolder, assets: StaticAssets, *, graphiql: bool) -> None:
        self._holder = holder
        self._assets = assets
        self._graphiql = graphiql
        self._shell = _Shell(assets)
        self._pipeline: tuple[Facade, Pipeline, ReadYourWrites] | None = None
        self._documents: dict[str, str] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route(spec.path, self._handler(spec), methods=["GET"], name=f"app:{spec.name}") for spec in PAGES.values()
        ]

    def _handler(self, spec: PageSpec) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await self.page(spec, request)

        return handle

    def _document(self, spec: PageSpec) -> str:
        if spec.document_file not in self._documents:
            self._documents[spec.document_file] = document_text(spec.document_file)
        return self._documents[spec.document_file]

    def _pipeline_of(self, facade: Facade) -> tuple[Pipeline, ReadYourWrites]:
        if self._pipeline is None or self._pipeline[0] is not facade:
            self._pipeline = (facade, Pipeline(facade), ReadYourWrites(facade.settings))
        return self._pipeline[1], self._pipeline[2]

    async def page(self, spec: PageSpec, request: Request) -> Response:
        """``GET`` a page: the shell with the page's query result inlined."""
        headers = self._shell.headers(request)
        facade = self._holder.facade
        if facade is None:
            return self._message(None, "Starting", "The facade is starting; try again in a moment.", 503, headers)
        try:
            viewer = await facade.authenticator.from_headers(request.headers)
        except FacadeError as err:
            if err.code != ErrorCode.UNAUTHENTICATED:
                headers["Retry-After"] = "1"
                return self._message(None, "Unavailable", err.message, err.http_status, headers)
            viewer = None
        if viewer is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(target, safe='')}", status_code=303, headers=headers)
        if viewer.is_partner:
            return HTMLResponse("Not found.", status_code=404, headers=headers)
        title = spec.title.format(**{k: str(v) for k, v in request.path_params.items()})
        current = spec.nav or spec.name
        request.state.plant_time_zone = facade.settings.plant_time_zone
        try:
            variables = spec.variables_from_request(request)
        except PageInputError as err:
            return self._message(viewer, "Bad request", str(err), 400, headers, current=current)
        try:
            result, status = await self._run(facade, viewer, spec, variables, request)
        except (FacadeError, LimitError) as err:
            status = 400 if err.code == ErrorCode.INVALID_ARGUMENT else err.http_status
            headers.update(err.headers)
            return self._message(viewer, "Could not load the page", err.message, status, headers, current=current)
        errors = result.get("errors") or []
        data = result.get("data")
        invalid = next(
            (e for e in errors if (e.get("extensions") or {}).get("code") == ErrorCode.INVALID_ARGUMENT), None
        )
        if invalid is not None:
            return self._message(viewer, "Bad request", str(invalid.get("message", "")), 400, headers, current=current)
        if not isinstance(data, dict):
            message = "; ".join(str(e.get("message", "")) for e in errors) or "The data could not be read."
            headers["Retry-After"] = "1"
            return self._message(
                viewer,
                "Could not load the page",
                message,
                status if status >= 400 else 503,
                headers,
                current=current,
            )
        gone = spec.missing(data) if spec.missing is not None else None
        if gone is not None:
            return self._message(viewer, "Not found", gone, 404, headers, current=current)
        snapshot: dict[str, Any] = {"data": data, "asOf": _as_of(data)}
        if errors:
            snapshot["errors"] = errors
        view = _View(
            title=title,
            current=current,
            viewer=viewer,
            graphiql=self._graphiql,
            snapshot=snapshot,
            page_query={"query": self._document(spec), "variables": variables},
            script=spec.script,
            live=spec.live,
        )
        return HTMLResponse(self.render(view), headers=headers)

    async def _run(
        self, facade: Facade, viewer: Viewer, spec: PageSpec, variables: dict[str, Any], request: Request
    ) -> tuple[dict[str, Any], int]:
        """The page's query through the facade's pipeline, as ``viewer``: the result and its HTTP status.
        Read-your-writes as ``POST /graphql`` does: the caller's recent writes (the ``mes_pos`` cookie a
        mutation set) are seen, by the backend reads and by the response cache."""
        started = time.perf_counter()
        limits = facade.limits_for(viewer)
        query = self._document(spec)
        gate = getattr(self._holder, "gate", None)
        admitted = False
        status, kind, cache = 500, "error", "none"
        try:
            await facade.guard.check_request(viewer.rate_key, limits, body_size=len(query.encode()))
            if isinstance(gate, FairGate):
                await gate.enter(viewer.rate_key, limits)
                admitted = True
            operation = Operation(query=query, variables=variables, operation_name=None, extensions=None)
            pipeline, read_your_writes = self._pipeline_of(facade)
            positions = read_your_writes.of(request, viewer, facade.hub.positions())
            with positions.serving():
                outcome = await pipeline.run(viewer, limits, operation, _QUERY_ONLY, db_positions=positions.needed)
            status, kind, cache = outcome.status, outcome.kind, outcome.cache
            body = orjson.loads(outcome.body)
            return (body if isinstance(body, dict) else {}), outcome.status
        except (FacadeError, LimitError) as err:
            status = err.http_status
            raise
        finally:
            if admitted and isinstance(gate, FairGate):
                gate.leave(viewer.rate_key, refused=status == 429)
            record_request(viewer.audience, kind, status, cache, time.perf_counter() - started)

    def _message(
        self,
        viewer: Viewer | None,
        heading: str,
        message: str,
        status: int,
        headers: dict[str, str],
        *,
        current: str = "",
    ) -> Response:
        body = (
            '<section class="notice" aria-labelledby="notice-title">'
            f'<h1 id="notice-title">{html.escape(heading)}</h1><p>{html.escape(message)}</p></section>'
        )
        view = _View(title=heading, current=current, viewer=viewer, graphiql=self._graphiql, body=body)
        return HTMLResponse(self.render(view), status_code=status, headers=headers)

    def _nav(self, current: str) -> str:
        items = [(PAGES[name].path, label, name) for name, label in NAV if name in PAGES]
        if self._graphiql:
            items.append((GRAPHIQL_PATH, "GraphiQL", "graphiql"))
        links = []
        for href, label, name in items:
            marker = ' aria-current="page"' if name == current else ""
            links.append(f'<li><a href="{html.escape(href)}"{marker}>{html.escape(label)}</a></li>')
        return "".join(links)

    def render(self, view: _View) -> str:
        """The shell's HTML for ``view``."""
        shell = self._shell
        viewer = view.viewer
        if viewer is not None:
            role = "Supervisor" if viewer.is_supervisor else "Operator"  # what `me { role }` answers
            who = (
                f'<p class="who"><span class="who-code">{html.escape(viewer.subject)}</span> '
                f'<span class="who-role">{role}</span></p>'
                '<form method="post" action="/sign-out" class="sign-out"><button type="submit">Sign out</button></form>'
            )
        else:
            who = ""
        live = view.script is not None
        scripts = ""
        if live:
            assert view.script is not None and view.snapshot is not None
            scripts = (
                f'<script type="application/json" id="snapshot">{_script_json(view.snapshot)}</script>\n'
                f'<script type="application/json" id="page-query">{_script_json(view.page_query)}</script>\n'
                f'<script type="importmap">{shell.import_map}</script>\n'
                f'<script type="module" src="{html.escape(self._assets.url("app/live.js"))}"></script>\n'
                f'<script type="module" src="{html.escape(self._assets.url(view.script))}"></script>'
            )
        values = {
            "title": html.escape(view.title),
            "css": html.escape(self._assets.url("app/app.css")),
            "favicon": FAVICON,
            "nav": self._nav(view.current),
            "who": who,
            "live_hidden": "" if live else " hidden",
            "pause_hidden": "" if view.live else " hidden",
            "body": view.body,
            "scripts": scripts,
        }
        return shell.template.substitute(values)


def app_page_routes(
    holder: FacadeHolder, assets: StaticAssets | None = None, *, graphiql: bool = True
) -> list[BaseRoute]:
    """The routes of :data:`PAGES` (``holder.facade`` is read per request; ``graphiql``: the nav links it)."""
    return AppPages(holder, assets or load_assets(), graphiql=graphiql).routes()
