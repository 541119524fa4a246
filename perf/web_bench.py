"""First paint and weight of the operators' web app (G-D1, G-D2), in Debian's chromium driven by Playwright.

```bash
python -m perf.web_bench [--loads 20] [--pages floor,orders,...] [--json FILE]
export MES_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres
python -m perf.web_bench --database NAME [--skip-analytics | --import-analytics [--import-budget 20]]
    [--loads 20] [--pages ...]
```

What it does (without ``--database``; with it, see "On a generated history" below):

1. **The stack.** ``mes up`` (``python -m mes_stack up``, SQLite, every port a free one) with the demo
   data and the analytics' demo history (``MES_STACK_DEMO_HISTORY_DAYS``, 42 days by default), plus the
   web tests' demo orders (``tests/e2e/web/_seed.py``: three orders in production, an operation started at
   a bench, the analytics caught up). The data generator's 100,000 orders are not loaded: it writes
   PostgreSQL, and ``mes up`` here runs on SQLite (``--database`` measures on them).
2. **Two facades on that stack.** The stack's own (shipped cache settings: "warm") and a second one started
   with the same command and environment (read from ``/proc/<pid>``) but answers that expire 1 ms after
   they are computed and are never served stale (``MES_FACADE_RESPONSE_CACHE_TTL_S=0.001``,
   ``MES_FACADE_CACHE_ANALYTICS_TTL_S=0.001``, ``MES_FACADE_CACHE_MAX_STALE_MS=0``,
   ``MES_FACADE_CACHE_REFRESH_INTERVAL_MS=0``): "flushed", every page's query computed afresh on every
   load, as after a flush of the response cache before each load. The facade keeps that cache in its own
   memory (Redis is not used by ``mes up``) and has no flush endpoint; the reference caches (names of
   styles, work centers...) stay warm on both. The facade's ``/metrics`` (response-cache lookups) are
   read around each series to show which path answered.
3. **Loads.** For every page of ``graphql_facade.web.app_pages.PAGES`` (the path parameters and query
   strings of ``tests/e2e/web/_pages.py``, the role that sees the page), one load first, then ``--loads``
   loads, each in a NEW browser context (cold browser cache) at 1366x768 with the session cookie of a
   sign-in through the form set in the context. Per load: FCP, LCP and CLS (PerformanceObserver in an init
   script, ``buffered: true``), the bytes transferred (CDP ``Network.loadingFinished`` ``encodedDataLength``:
   headers and compressed bodies), the requests started before LCP (document included), whether any
   ``/graphql`` request or WebSocket started before the first contentful paint, and the inline snapshot's
   size. p75 (and p50) per page, with the machine's load average after each series.

On a generated history (``--database NAME``):

* **The stack.** ``perf._stack.BenchStack`` on PostgreSQL (``MES_BENCH_POSTGRES_URL``, an admin URL) over
  ``NAME``, a history generated before by ``python -m perf.datagen --orders 100000 --database NAME``, used as
  it is and kept (as ``perf.live_bench --database`` does). The supervisor ``SUP-01`` and the operator
  ``OP-01`` get a password of this run (``perf.live_bench.set_passwords``: a generated history has none;
  their open sessions end); besides that and their sign-ins' sessions, only the analytics read model
  (below) may be written.
* **Two facades on it**, both started by ``BenchStack.start_facade`` with the stack's facade environment:
  "warm" with nothing added to it but the operator rate limit of the SQLite run
  (``MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE``, :data:`LIMITS_ENV`: one user loads every page
  ``--loads`` times), "flushed" with :data:`FLUSHED_ENV` as well.
* **The pages' parameters** come from the history, through the services' gRPC APIs (the ``clients``
  library), and fill ``tests/e2e/web/_pages.py``'s paths in place of the web tests' demo values (same
  pages, roles and query strings): the Order page opens the newest order ``IN_PRODUCTION`` (of the 100
  newest, ``ListOrders``) with a work order ``IN_PROGRESS`` (else ``RELEASED``; ``ListWorkOrders``); the
  Bench page the active work center with the longest queue (``ListWorkCenterStats``: most ``queued``, then
  most ``in_progress``, then by code). The report names both.
* **The analytics read model.** The data generator does not fill it, and the metal, analytics and partners
  pages (:data:`ANALYTICS_PAGES`) read it. When one of them is to be loaded the analytics service's
  ``GetProjectionStatus`` is read first. Not empty (filled before): the pages are loaded (a read model
  holding fewer orders than the orders service is used as it is; the report says so). Empty (no order):
  the pages are left out, with a line in the report, unless ``--import-analytics`` is given, which fills
  it from the services' stores with ``mesctl analytics rebuild --from-services`` (called in process:
  ``clients.cli.__main__.run``; every order but the rejected ones, and the operations of their work
  orders) and reports how long that took; the imported facts stay in the database, so later runs find
  them. The import's progress is read every 30 s; once it has run 2 minutes, an import whose rate says it
  would not finish within ``--import-budget`` minutes (20) is stopped after its current batch and emptied
  again (``Rebuild``, imported facts not kept: only the two rebuilds' idempotency keys remain), its rate is
  reported, and the pages are left out. ``--skip-analytics`` leaves them out without looking.
  Measured on ``mes_gen_live`` (100,000 orders, 1.87 M operations; 2026-12-07 23:06, 2 cores, the load
  average not recorded): the import ran at about 23 orders/s (430 operations/s) after a faster first
  30 s (2,000 orders: the newest come first, and most of them are not shipped yet, whose status history
  is not read), 32.6 orders/s on average over the 129 s it ran: over an hour for the whole history, so
  it was stopped and undone. This is why an empty read model is not filled by default.
* The report states the stack and the data: the database's orders (``CountOrders``), and for the
  analytics pages what the read model held.

Targets: LCP p75 ≤ 1,000 ms warm, ≤ 1,500 ms flushed; FCP p75 ≤ 400 ms; CLS ≤ 0.02; Floor ≤ 150 KB
transferred; ≤ 4 requests before LCP; no GraphQL request before first paint; inline data ≤ 30 KB.
Progress goes to stderr, the markdown report to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import grpc
import httpx
from playwright.sync_api import Browser, CDPSession, Page, sync_playwright

from clients import MesClients
from clients.cli.__main__ import run as mesctl
from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes.production.v1 import production_pb2 as prod_pb
from mes_stack.demo_data import DEMO_OPERATOR_PASSWORD, DEMO_SUPERVISOR_PASSWORD
from perf._common import response_cache_lookups, say
from perf._setup import staff_clients
from perf._stack import BenchStack, free_ports
from perf._stats import load_average, quantile
from perf.live_bench import prerequisites, set_passwords
from tests.e2e._graphql import SERVICE_TOKEN, GraphQLStack
from tests.e2e._stack import RunningStack, stack_env, start_stack, stop_stack
from tests.e2e.web._browser import CHROMIUM, LAUNCH_ARGS, sign_in
from tests.e2e.web._pages import Visit, page_names, visits
from tests.e2e.web._seed import OPERATOR, ORDERS, SUPERVISOR, Seeded, seed

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1366, "height": 768}
CONTEXT: dict[str, Any] = {"viewport": VIEWPORT, "device_scale_factor": 1, "locale": "en-GB", "timezone_id": "UTC"}
PEOPLE = {"operator": (OPERATOR, DEMO_OPERATOR_PASSWORD), "supervisor": (SUPERVISOR, DEMO_SUPERVISOR_PASSWORD)}
#: One user loads every page many times a minute: the operators' rate limit is lifted on every facade.
LIMITS_ENV = {"MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE": "100000000"}
#: The second facade's answers expire at once and are never served stale: each load computes its query.
FLUSHED_ENV = {
    "MES_FACADE_RESPONSE_CACHE_TTL_S": "0.001",
    "MES_FACADE_CACHE_ANALYTICS_TTL_S": "0.001",
    "MES_FACADE_CACHE_MAX_STALE_MS": "0",
    "MES_FACADE_CACHE_REFRESH_INTERVAL_MS": "0",
}
#: Records paint, largest contentful paint and layout shifts from the start of the document.
OBSERVE = """
window.__perf = { fcp: null, fp: null, lcp: null, cls: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.name === "first-contentful-paint") window.__perf.fcp = e.startTime;
    if (e.name === "first-paint") window.__perf.fp = e.startTime;
  }
}).observe({ type: "paint", buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__perf.lcp = e.startTime;
}).observe({ type: "largest-contentful-paint", buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__perf.cls += e.value;
}).observe({ type: "layout-shift", buffered: true });
"""
#: How long after ``load`` the page may still paint its largest element (a page rendering from its snapshot).
SETTLE_S = 0.5
LCP_WAIT_S = 10.0
#: The pages that read the analytics read model (``metalAnalytics``, ``flowAnalytics``, ``partnerAnalytics``).
ANALYTICS_PAGES = frozenset({"metal", "analytics", "partners"})
#: The import of the analytics facts: how often its progress is read, how long it runs before its rate
#: decides whether it goes on, and the ``--deadline`` of its calls.
IMPORT_POLL_S = 30.0
IMPORT_SAMPLE_S = 120.0
IMPORT_DEADLINE_S = 120.0
DEFAULT_IMPORT_BUDGET_MIN = 20.0
#: The newest orders in production among which the Order page's order is chosen.
RECENT_ORDERS = 100


# -- the facades -------------------------------------------------------------------------------------------------


@dataclass
class Facade:
    name: str
    origin: str
    metrics: str
    process: subprocess.Popen[bytes] | None = None


def _proc_env(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _proc_argv(pid: int) -> list[str]:
    return [part.decode() for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if part]


def stack_facade(stack: RunningStack) -> Facade:
    env = stack.env
    return Facade(
        "warm", f"http://127.0.0.1:{env['MES_FACADE_PORT']}", f"http://127.0.0.1:{env['MES_FACADE_METRICS_PORT']}"
    )


def start_flushed_facade(stack: RunningStack, log_path: Path) -> Facade:
    """The stack's facade command and environment again, on free ports, with :data:`FLUSHED_ENV`."""
    info = next(p for p in stack.state().processes if p.name == "facade")
    env = _proc_env(info.pid)
    port, metrics_port = free_ports(2)
    env.update(FLUSHED_ENV)
    env.update(
        {
            "MES_FACADE_PORT": str(port),
            "MES_FACADE_HTTP_PORT": str(port),
            "MES_FACADE_METRICS_PORT": str(metrics_port),
            "MES_INSTANCE": "facade-flushed",
        }
    )
    log = log_path.open("wb")
    process = subprocess.Popen(_proc_argv(info.pid), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90.0
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{origin}/healthz", timeout=2.0, trust_env=False).status_code == 200:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the second facade did not start; see {log_path}")
        time.sleep(0.3)
    return Facade("flushed", origin, f"http://127.0.0.1:{metrics_port}", process)


def stop_facade(facade: Facade) -> None:
    if facade.process is None or facade.process.poll() is not None:
        return
    facade.process.send_signal(signal.SIGTERM)
    try:
        facade.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        facade.process.kill()
        facade.process.wait()


def cache_lookups(facade: Facade) -> dict[str, float]:
    return response_cache_lookups(httpx.get(f"{facade.metrics}/metrics", timeout=10.0, trust_env=False).text)


# -- one load ----------------------------------------------------------------------------------------------------


@dataclass
class Load:
    fcp_ms: float
    lcp_ms: float
    cls: float
    bytes: int
    requests: int
    requests_before_lcp: int
    graphql_before_fcp: bool
    snapshot_bytes: int
    status: int
    #: The paths of the requests started before LCP, in order.
    before_lcp: list[str] = field(default_factory=list)
    #: The GraphQL requests (POST or WebSocket) started before the first contentful paint, and when.
    graphql_before_paint: list[str] = field(default_factory=list)


class _Network:
    """What CDP reports of one page's network: when each request started, and the bytes of each."""

    def __init__(self, cdp: CDPSession) -> None:
        self.started: dict[str, tuple[float, str]] = {}
        self.sockets: list[tuple[float, str]] = []
        self.encoded: dict[str, int] = {}
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.webSocketWillSendHandshakeRequest", self._socket)
        self._socket_urls: dict[str, str] = {}
        cdp.on("Network.webSocketCreated", lambda e: self._socket_urls.__setitem__(e["requestId"], e["url"]))
        cdp.send("Network.enable")

    def _sent(self, event: dict[str, Any]) -> None:
        self.started.setdefault(event["requestId"], (float(event["timestamp"]), str(event["request"]["url"])))

    def _finished(self, event: dict[str, Any]) -> None:
        self.encoded[event["requestId"]] = int(event["encodedDataLength"])

    def _socket(self, event: dict[str, Any]) -> None:
        self.sockets.append((float(event["timestamp"]), self._socket_urls.get(event["requestId"], "")))

    def document_start(self, url: str) -> float:
        """When the document's request started (the earliest request when it is not found)."""
        own = [ts for ts, u in self.started.values() if u.split("#")[0] == url.split("#")[0]]
        return min(own or [ts for ts, _ in self.started.values()])


def load_once(browser: Browser, url: str, state: Any) -> Load:
    context = browser.new_context(**CONTEXT, storage_state=state)
    try:
        context.add_init_script(OBSERVE)
        page: Page = context.new_page()
        cdp = context.new_cdp_session(page)
        net = _Network(cdp)
        response = page.goto(url, wait_until="load", timeout=60_000)
        status = response.status if response is not None else 0
        deadline = time.monotonic() + LCP_WAIT_S
        while page.evaluate("window.__perf.lcp") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(SETTLE_S)
        perf = page.evaluate("window.__perf")
        snapshot = page.evaluate("(document.getElementById('snapshot') || {textContent: ''}).textContent.length")
        page.close()  # requests still running end here; their bytes are those received so far
        time.sleep(0.05)
        start = net.document_start(url)
        fcp = float(perf["fcp"] or 0.0)
        lcp = float(perf["lcp"] or 0.0)
        early = sorted((ts, u) for ts, u in net.started.values() if (ts - start) * 1000.0 <= lcp)
        early_graphql = [
            f"{kind} at {(ts - start) * 1000.0:.0f} ms"
            for kind, found in (("HTTP", net.started.values()), ("WebSocket", net.sockets))
            for ts, u in found
            if "/graphql" in u and (ts - start) * 1000.0 < fcp
        ]
        return Load(
            fcp_ms=fcp,
            lcp_ms=lcp,
            cls=float(perf["cls"] or 0.0),
            bytes=sum(net.encoded.values()),
            requests=len(net.started),
            requests_before_lcp=len(early),
            graphql_before_fcp=bool(early_graphql),
            snapshot_bytes=int(snapshot),
            status=status,
            before_lcp=[urlsplit(u).path for _, u in early],
            graphql_before_paint=early_graphql,
        )
    finally:
        context.close()


# -- a series ----------------------------------------------------------------------------------------------------


@dataclass
class Series:
    facade: str
    page: str
    path: str
    loads: list[Load] = field(default_factory=list)
    cache: dict[str, float] = field(default_factory=dict)
    load_average: str = ""

    def p(self, attribute: str, q: float = 0.75) -> float:
        return quantile([float(getattr(load, attribute)) for load in self.loads], q)


def run_series(browser: Browser, facade: Facade, visit: Visit, state: Any, loads: int) -> Series:
    url = facade.origin + visit.path
    first = load_once(browser, url, state)  # one load first: warm caches (and a check that the page answers)
    if first.status != 200:
        raise RuntimeError(f"{url} answered HTTP {first.status}")
    before = cache_lookups(facade)
    series = Series(facade.name, visit.name, visit.path)
    for _ in range(loads):
        series.loads.append(load_once(browser, url, state))
    after = cache_lookups(facade)
    series.cache = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after if after.get(k) != before.get(k)}
    series.load_average = load_average()
    return series


def signed_in(browser: Browser, origin: str, who: tuple[str, str]) -> Any:
    """The cookies of ``who`` (operator code, password) signed in through the form on ``origin``."""
    context = browser.new_context(**CONTEXT)
    try:
        page = context.new_page()
        code, password = who
        sign_in(page, origin, code, password)
        return context.storage_state()
    finally:
        context.close()


# -- a generated history (--database) ----------------------------------------------------------------------------

T = TypeVar("T")


class _Exit(Exception):
    def __init__(self, code: object) -> None:
        super().__init__(code)
        self.code = code


async def _exits_as_errors(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return await coro
    except SystemExit as exc:
        raise _Exit(exc.code) from None


class _LoopThread:
    """An event loop in a thread of its own for the PostgreSQL stack (asyncio) while Playwright's sync API
    runs in the main thread. The thread lives until :meth:`close`: the stack's children get a death signal
    when the thread that started them ends."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="web-bench-stack", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for it; a ``SystemExit`` in it is raised here (raised there, it
        would stop the loop and leave this wait hanging)."""
        try:
            return asyncio.run_coroutine_threadsafe(_exits_as_errors(coro), self.loop).result()
        except _Exit as exc:
            raise SystemExit(exc.code) from None

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def order_total(counts: orders_pb2.CountOrdersResponse) -> int:
    return sum(c.count for c in counts.counts)


def order_counts_text(counts: orders_pb2.CountOrdersResponse) -> str:
    """``100,000 orders (SHIPPED 95,675, ...)``: the total and the count per status, largest first."""
    parts = [
        f"{orders_pb2.OrderStatus.Name(c.status).removeprefix('ORDER_STATUS_')} {c.count:,}"
        for c in sorted(counts.counts, key=lambda c: -c.count)
        if c.count
    ]
    return f"{order_total(counts):,} orders ({', '.join(parts)})"


def accepted_total(counts: orders_pb2.CountOrdersResponse) -> int:
    """The orders the analytics count (every one but the rejected: ``mesctl analytics rebuild --from-services``)."""
    return sum(c.count for c in counts.counts if c.status != orders_pb2.ORDER_STATUS_REJECTED)


def choose_order(
    orders: Sequence[orders_pb2.Order], work_orders: Sequence[prod_pb.WorkOrder]
) -> tuple[orders_pb2.Order, prod_pb.WorkOrderStatus.ValueType] | None:
    """The Order page's order: the newest of ``orders`` with a work order ``IN_PROGRESS``, else the newest
    with one ``RELEASED``; with that work-order status. None when no order has either."""
    statuses: dict[str, set[prod_pb.WorkOrderStatus.ValueType]] = {}
    for wo in work_orders:
        statuses.setdefault(wo.order_id, set()).add(wo.status)
    newest = sorted(orders, key=lambda o: (o.create_time.seconds, o.create_time.nanos, o.order_id), reverse=True)
    for wanted in (prod_pb.WORK_ORDER_STATUS_IN_PROGRESS, prod_pb.WORK_ORDER_STATUS_RELEASED):
        for order in newest:
            if wanted in statuses.get(order.order_id, set()):
                return order, wanted
    return None


def choose_work_center(
    centers: Sequence[prod_pb.WorkCenter], stats: Sequence[prod_pb.WorkCenterStats]
) -> tuple[str, prod_pb.WorkCenterStats] | None:
    """The Bench page's work center: the active one with the longest queue (then the most operations in
    progress, then the first code); its code and figures. None without an active work center."""
    by_name = {s.work_center: s for s in stats}
    active = [(wc.code, by_name.get(wc.name or f"workCenters/{wc.code}")) for wc in centers if wc.active]
    ranked = sorted(
        ((code, figures or prod_pb.WorkCenterStats()) for code, figures in active),
        key=lambda item: (-item[1].queued, -item[1].in_progress, item[0]),
    )
    return ranked[0] if ranked else None


def history_seeded(order_id: str, work_center: str) -> Seeded:
    """The history's values where ``tests/e2e/web/_pages.py`` puts the demo's: its first demo order and the
    work center of its started operation."""
    return Seeded({ORDERS[0][0]: order_id}, prod_pb.Operation(work_center=f"workCenters/{work_center}"))


def import_projection_s(elapsed_s: float, imported: int, total: int) -> float:
    """How long the whole import would take at the rate so far (infinite before the first batch)."""
    if imported <= 0:
        return math.inf
    return elapsed_s * max(total, imported) / imported


class ImportStopped(Exception):
    """The import was stopped between two batches (it would not finish within the budget)."""


class _ImportProgress(io.StringIO):
    """Where ``mesctl`` writes its notes during the import (one per batch of orders): they go to stderr
    (the per-batch ones at most every ``every_s``), and, once ``stop`` is set, the next note raises
    :class:`ImportStopped`: the import ends between two batches, none half sent."""

    def __init__(self, every_s: float = IMPORT_POLL_S) -> None:
        super().__init__()
        self.stop = False
        self.last = ""
        self._every_s = every_s
        self._said = 0.0

    def write(self, text: str) -> int:
        if self.stop:
            raise ImportStopped
        line = text.strip()
        if line:
            self.last = line
            now = time.monotonic()
            if not line.startswith("imported ") or now - self._said >= self._every_s:
                say(f"  [mesctl] {line}")
                self._said = now
        return len(text)


@dataclass
class AnalyticsFill:
    """What the run found of the analytics read model, and did to it."""

    #: "held" (not empty: filled before), "empty" (left empty: no ``--import-analytics``), "imported" (by
    #: this run), "too slow" (stopped, emptied again), "skipped" (``--skip-analytics``).
    outcome: str
    #: Orders and operations the read model held afterwards (GetProjectionStatus).
    orders: int = 0
    operations: int = 0
    #: The import: its time, what it had imported when it ended, the time the whole would have taken.
    seconds: float = 0.0
    imported_orders: int = 0
    imported_operations: int = 0
    projected_s: float = 0.0
    budget_s: float = 0.0

    @property
    def measures(self) -> bool:
        """Whether the analytics pages are loaded."""
        return self.outcome in ("held", "imported")

    def rate(self) -> str:
        if self.seconds <= 0:
            return "-"
        return (
            f"{self.imported_orders / self.seconds:,.1f} orders/s and {self.imported_operations / self.seconds:,.0f}"
            f" operations/s ({self.imported_orders:,} orders, {self.imported_operations:,} operations in"
            f" {self.seconds:,.0f} s)"
        )


def analytics_line(fill: AnalyticsFill, database: str, accepted: int, left_out: Sequence[str]) -> str:
    """The report's line on the analytics read model."""
    pages = ", ".join(left_out) or "none chosen"
    if fill.outcome == "held":
        partial = (
            f" **Fewer than the orders service's {accepted:,}** (rejected orders not counted): a partial import?"
            " `mesctl analytics rebuild --from-services` fills it again."
            if fill.orders < accepted
            else ""
        )
        return (
            f"Analytics read model: not empty, so not imported again: it holds {fill.orders:,} orders and"
            f" {fill.operations:,} operations.{partial}"
        )
    if fill.outcome == "imported":
        return (
            f"Analytics read model: empty, so this run filled it with the {accepted:,} orders"
            f" (`mesctl analytics rebuild --from-services`) in {fill.seconds:,.0f} s ({fill.seconds / 60:.1f} min):"
            f" {fill.rate()}; it now holds {fill.orders:,} orders and {fill.operations:,} operations, kept in"
            f" `{database}` for later runs."
        )
    if fill.outcome == "too slow":
        return (
            f"**Left out: {pages}** (they read the analytics read model, which `{database}` does not hold). The"
            f" import from the services was stopped: {fill.rate()}, so all {accepted:,} orders would have"
            f" taken about {fill.projected_s / 60:,.0f} min, over the budget of {fill.budget_s / 60:,.0f} min"
            " (`--import-budget`); the facts it had imported were removed again (Rebuild, imported facts not"
            f" kept): the read model holds {fill.orders:,} orders and {fill.operations:,} operations."
        )
    if fill.outcome == "empty":
        return (
            f"**Left out: {pages}**: they read the analytics read model, which is empty in `{database}` (the data"
            " generator does not fill it). `--import-analytics` fills it once from the services (`mesctl"
            " analytics rebuild --from-services`: over an hour at 100,000 orders, see the module's docstring)."
        )
    return (
        f"**Left out: {pages}** (`--skip-analytics`: they read the analytics read model; `{database}`'s holds"
        f" {fill.orders:,} orders and {fill.operations:,} operations)."
    )


async def fill_analytics(
    stack: BenchStack, mes: MesClients, accepted: int, budget_s: float, *, fill: bool = True
) -> AnalyticsFill:
    """Check the analytics read model; when it is empty (no order) and ``fill``, fill it as ``mesctl
    analytics rebuild --from-services`` does (that command, in process), stopping it (and emptying the read
    model again) when its rate says that the ``accepted`` orders would take more than ``budget_s``."""
    before = await mes.analytics.get_projection_status()
    if before.orders > 0:
        return AnalyticsFill("held", before.orders, before.operations)
    if not fill:
        return AnalyticsFill("empty")
    say(
        f"the analytics read model is empty: filling it with the {accepted:,} orders from the services"
        f" (mesctl analytics rebuild --from-services; budget {budget_s / 60:.0f} min)"
    )
    argv = [
        "analytics",
        "rebuild",
        "--from-services",
        *("--orders-addr", stack.address("orders")),
        *("--production-addr", stack.address("production")),
        *("--analytics-addr", stack.address("analytics")),
        *("--token", stack.token),
        *("--deadline", f"{IMPORT_DEADLINE_S:g}"),
    ]
    progress = _ImportProgress()
    began = time.monotonic()
    task = asyncio.create_task(mesctl(argv, stdout=io.StringIO(), stderr=progress))
    projected = math.inf
    while True:
        done, _ = await asyncio.wait({task}, timeout=IMPORT_POLL_S)
        elapsed = time.monotonic() - began
        status = await mes.analytics.get_projection_status()
        if done:
            break
        projected = import_projection_s(elapsed, status.imported_orders, accepted)
        say(
            f"  analytics import: {status.imported_orders:,} of {accepted:,} orders, {status.imported_operations:,}"
            f" operations in {elapsed:.0f} s (all of them in about {projected / 60:,.0f} min at this rate)"
        )
        if not progress.stop and elapsed >= IMPORT_SAMPLE_S and projected > budget_s:
            say(f"  over the budget of {budget_s / 60:.0f} min: stopping after the current batch")
            progress.stop = True
    result = AnalyticsFill(
        "imported",
        seconds=elapsed,
        imported_orders=status.imported_orders,
        imported_operations=status.imported_operations,
        projected_s=import_projection_s(elapsed, status.imported_orders, accepted),
        budget_s=budget_s,
    )
    try:
        code = task.result()
    except ImportStopped:
        say(f"  stopped after {elapsed:.0f} s; emptying the read model again (Rebuild, imported facts not kept)")
        await mes.analytics.rebuild(keep_imported=False)
        after = await mes.analytics.get_projection_status()
        result.outcome, result.orders, result.operations = "too slow", after.orders, after.operations
        return result
    if code != 0:
        raise RuntimeError(f"mesctl analytics rebuild --from-services failed (exit {code}): {progress.last}")
    result.orders, result.operations = status.orders, status.operations
    say(f"  analytics read model filled in {elapsed:.0f} s: {result.rate()}")
    return result


@dataclass
class History:
    """What a run on a generated history uses of it: the pages' parameters, the people, the report's lines."""

    seeded: Seeded
    people: dict[str, tuple[str, str]]
    lines: list[str]
    left_out: list[str] = field(default_factory=list)


def history_clients(stack: BenchStack) -> MesClients:
    """The staff's clients of the stack, the analytics service's included."""
    config = staff_clients(stack).config
    return MesClients(config.with_changes(analytics_addr=stack.address("analytics")))


async def prepare_history(
    stack: BenchStack, database: str, pages: Sequence[str], analytics: str, budget_s: float
) -> History:
    """The data's size, the pages' parameters, the two people's passwords, the analytics read model
    (``analytics``: "check" it, "skip" its pages, or "import" it when empty)."""
    async with history_clients(stack) as mes:
        counts = await mes.orders.count_orders()
        recent = (
            await mes.orders.list_orders(statuses=[orders_pb2.ORDER_STATUS_IN_PRODUCTION], page_size=RECENT_ORDERS)
        ).orders
        work_orders = [
            wo async for wo in mes.production.iter_work_orders(order_ids=[o.order_id for o in recent], page_size=1000)
        ]
        order = choose_order(recent, work_orders)
        if order is None:
            raise SystemExit(f"none of the {len(recent)} newest orders in production has a work order in production")
        centers = [wc async for wc in mes.production.iter_work_centers(page_size=200)]
        center = choose_work_center(centers, (await mes.production.list_work_center_stats()).stats)
        if center is None:
            raise SystemExit(f"`{database}` has no active work center")
        code, figures = center
        people = await set_passwords(mes.production)
        chosen_order, work_order_status = order
        state = prod_pb.WorkOrderStatus.Name(work_order_status).removeprefix("WORK_ORDER_STATUS_")
        lines = [
            f"Stack: PostgreSQL, the data generator's history `{database}` (used as it is, kept):"
            f" {order_counts_text(counts)} in the database (CountOrders).",
            f"Parameters: order page `{chosen_order.order_id}`, the newest of the {len(recent)} newest orders"
            f" IN_PRODUCTION with a work order {state} (submitted"
            f" {chosen_order.create_time.ToDatetime():%Y-%m-%d %H:%M} UTC, {len(chosen_order.lines)} lines);"
            f" bench page `{code}`, the active work center with the longest queue ({figures.queued} queued,"
            f" {figures.in_progress} in progress). Signed in as {people['supervisor'][0]} and"
            f" {people['operator'][0]} with passwords of this run.",
        ]
        history = History(history_seeded(chosen_order.order_id, code), people, lines)
        wanted = sorted(ANALYTICS_PAGES & set(pages))
        if not wanted:
            lines.append("Analytics read model: not checked (no page of this run reads it).")
            return history
        accepted = accepted_total(counts)
        if analytics == "skip":
            status = await mes.analytics.get_projection_status()
            fill = AnalyticsFill("skipped", status.orders, status.operations)
        else:
            fill = await fill_analytics(stack, mes, accepted, budget_s, fill=analytics == "import")
        if not fill.measures:
            history.left_out = wanted
        lines.append(analytics_line(fill, database, accepted, history.left_out))
        return history


def run_history(
    database: str, loads: int, pages: Sequence[str], analytics: str, budget_s: float
) -> tuple[list[Series], float, list[str]]:
    url, chromium = prerequisites()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mes-web-bench-") as tmp:
        stack = BenchStack(Path(tmp), postgres_admin_url=url, existing_database=database, say=say)
        loop = _LoopThread()
        try:
            say(f"starting the stack on `{database}` (load average {load_average()})")
            loop.call(stack.start())
            history = loop.call(prepare_history(stack, database, pages or page_names(), analytics, budget_s))
            for line in history.lines:
                say(line)
            chosen = [
                v for v in visits(history.seeded) if (not pages or v.name in pages) and v.name not in history.left_out
            ]
            warm_server = loop.call(stack.start_facade("facade-warm", LIMITS_ENV))
            flushed_server = loop.call(stack.start_facade("facade-flushed", {**LIMITS_ENV, **FLUSHED_ENV}))
            facades = [
                Facade(name, f"http://127.0.0.1:{server.port}", f"http://127.0.0.1:{server.metrics_port}")
                for name, server in (("warm", warm_server), ("flushed", flushed_server))
            ]
            results = measure(chromium, facades, chosen, loads, history.people)
        finally:
            try:
                loop.call(stack.aclose())
            finally:
                loop.close()
    return results, time.perf_counter() - began, history.lines


# -- the report --------------------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(
    results: Sequence[Series], loads: int, wall_s: float, *, command: str = "", setup: Sequence[str] = ()
) -> str:
    """The markdown report; ``setup``: what the run measured on (stack, data, parameters), a line each."""
    out = [
        f"## Web app first paint and weight (G-D1, G-D2), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`{command or f'python -m perf.web_bench --loads {loads}'}`: {wall_s:.0f} s. p75 over {loads} loads per"
        " page (p50 in brackets), each in a new browser context, 1366x768, signed in by cookie.",
        "",
    ]
    for line in setup:
        out += [line, ""]
    out += [
        "| facade | page | FCP p75 | LCP p75 | CLS max | transferred p75 | requests (before LCP) p75 |"
        " GraphQL before first paint | inline data | response cache in the series | LCP target | load average |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results:
        target = 1000.0 if s.facade == "warm" else 1500.0
        graphql = sum(1 for load in s.loads if load.graphql_before_fcp)
        cache = ", ".join(f"{k} {v:.0f}" for k, v in sorted(s.cache.items())) or "none"
        out.append(
            f"| {s.facade} | {s.page} | {s.p('fcp_ms'):.0f} ms ({s.p('fcp_ms', 0.5):.0f}) |"
            f" {s.p('lcp_ms'):.0f} ms ({s.p('lcp_ms', 0.5):.0f}) | {max(load.cls for load in s.loads):.3f} |"
            f" {s.p('bytes') / 1024:.1f} KB ({s.p('bytes', 0.5) / 1024:.1f}) |"
            f" {s.p('requests'):.0f} ({s.p('requests_before_lcp'):.0f}) | {graphql} of {len(s.loads)} |"
            f" {s.loads[0].snapshot_bytes / 1024:.1f} KB | {cache} |"
            f" {_mark(s.p('lcp_ms') <= target)} (≤ {target:,.0f} ms) | {s.load_average} |"
        )
    floor = [s for s in results if s.page == "floor"]
    out += ["", "Requests started before LCP (first measured load of each page on the warm facade):", ""]
    for s in results:
        if s.facade == "warm":
            out.append(f"* {s.page}: " + ", ".join(f"`{p}`" for p in s.loads[0].before_lcp))
    early = [(s, load) for s in results for load in s.loads if load.graphql_before_paint]
    if early:
        out += ["", "GraphQL started before the first contentful paint:", ""]
        out += [f"* {s.facade} {s.page}: " + "; ".join(load.graphql_before_paint) for s, load in early]
    out += ["", "Targets:", ""]
    for s in floor:
        weight = s.p("bytes")
        out.append(
            f"* Floor ({s.facade}) ≤ 150 KB transferred: p75 {weight / 1024:.1f} KB, {_mark(weight <= 150 * 1024)}"
        )
    fcp_fail = [f"{s.facade} {s.page}" for s in results if s.p("fcp_ms") > 400]
    cls_fail = [f"{s.facade} {s.page}" for s in results if max(load.cls for load in s.loads) > 0.02]
    req_fail = [f"{s.facade} {s.page}" for s in results if s.p("requests_before_lcp") > 4]
    gql = [f"{s.facade} {s.page}" for s in results if any(load.graphql_before_fcp for load in s.loads)]
    big = [f"{s.facade} {s.page}" for s in results if s.loads[0].snapshot_bytes > 30 * 1024]
    out.append(f"* FCP p75 ≤ 400 ms: {'PASS' if not fcp_fail else 'FAIL on ' + ', '.join(fcp_fail)}")
    out.append(f"* CLS ≤ 0.02: {'PASS' if not cls_fail else 'FAIL on ' + ', '.join(cls_fail)}")
    out.append(f"* ≤ 4 requests before LCP (p75): {'PASS' if not req_fail else 'FAIL on ' + ', '.join(req_fail)}")
    out.append(f"* no GraphQL request before first paint: {'PASS' if not gql else 'FAIL on ' + ', '.join(gql)}")
    out.append(f"* inline data ≤ 30 KB: {'PASS' if not big else 'FAIL on ' + ', '.join(big)}")
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def running_stack(workdir: Path) -> Iterator[RunningStack]:
    env = {**stack_env(), **LIMITS_ENV}
    stack = start_stack(workdir / "var", env)
    try:
        yield stack
    finally:
        stop_stack(stack)


def measure(
    chromium: str,
    facades: Sequence[Facade],
    chosen: Sequence[Visit],
    loads: int,
    people: Mapping[str, tuple[str, str]] = PEOPLE,
) -> list[Series]:
    """Every chosen page on every facade, each role signed in once per facade."""
    results: list[Series] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=list(LAUNCH_ARGS))
        try:
            for facade in facades:
                states = {role: signed_in(browser, facade.origin, who) for role, who in people.items()}
                for visit in chosen:
                    series = run_series(browser, facade, visit, states[visit.role], loads)
                    say(
                        f"  {facade.name:8} {visit.name:10} LCP p75 {series.p('lcp_ms'):.0f} ms,"
                        f" {series.p('bytes') / 1024:.1f} KB, cache {series.cache}, load {series.load_average}"
                    )
                    results.append(series)
        finally:
            browser.close()
    return results


def demo_orders(stack: RunningStack) -> orders_pb2.CountOrdersResponse:
    """The orders of the demo stack, per status (CountOrders)."""
    with grpc.insecure_channel(stack.address("orders")) as channel:
        stub = orders_pb2_grpc.OrdersServiceStub(channel)
        return stub.CountOrders(orders_pb2.CountOrdersRequest(), metadata=SERVICE_TOKEN, timeout=10)


def run(loads: int, pages: Sequence[str] | None) -> tuple[list[Series], float, list[str]]:
    chromium = shutil.which(CHROMIUM)
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mes-web-bench-") as tmp, running_stack(Path(tmp)) as stack:
        say(f"stack up; seeding the demo orders (load average {load_average()})")
        seeded = seed(GraphQLStack.of(stack))
        setup = [
            "Stack: `mes up` (SQLite) with the demo data, the analytics' demo history and the web tests' demo"
            f" orders: {order_counts_text(demo_orders(stack))} in the database (CountOrders)."
        ]
        chosen = [v for v in visits(seeded) if not pages or v.name in pages]
        warm = stack_facade(stack)
        flushed = start_flushed_facade(stack, Path(tmp) / "facade-flushed.log")
        try:
            results = measure(chromium, (warm, flushed), chosen, loads)
        finally:
            stop_facade(flushed)
    return results, time.perf_counter() - began, setup


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="First paint and weight of the web app's pages.")
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--pages", default="", help="comma-separated page names (all by default)")
    parser.add_argument("--json", default=None, help="write every load as JSON to this file")
    parser.add_argument(
        "--database",
        metavar="NAME",
        default=None,
        help="a history generated before (python -m perf.datagen --database NAME) on MES_BENCH_POSTGRES_URL's"
        " server, instead of mes up's SQLite demo",
    )
    analytics = parser.add_mutually_exclusive_group()
    analytics.add_argument(
        "--skip-analytics",
        action="store_true",
        help="with --database: leave out the pages reading the analytics read model (metal, analytics, partners)",
    )
    analytics.add_argument(
        "--import-analytics",
        action="store_true",
        help="with --database: fill the analytics read model from the services when it is empty (mesctl"
        " analytics rebuild --from-services; kept for later runs) instead of leaving its pages out",
    )
    parser.add_argument(
        "--import-budget",
        type=float,
        default=None,
        metavar="MINUTES",
        help="with --import-analytics: stop (and undo) the import when it would take longer (default 20)",
    )
    args = parser.parse_args(argv)
    args.pages = [p for p in args.pages.split(",") if p]
    if args.database is None and (args.skip_analytics or args.import_analytics):
        parser.error("--skip-analytics and --import-analytics go with --database")
    if args.import_budget is not None and not args.import_analytics:
        parser.error("--import-budget goes with --import-analytics")
    args.analytics = "skip" if args.skip_analytics else "import" if args.import_analytics else "check"
    if args.import_budget is None:
        args.import_budget = DEFAULT_IMPORT_BUDGET_MIN
    if args.import_budget <= 0:
        parser.error("--import-budget must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python -m perf.web_bench", *(argv if argv is not None else sys.argv[1:])])
    if args.database:
        results, wall_s, setup = run_history(
            args.database, args.loads, args.pages, args.analytics, args.import_budget * 60.0
        )
    else:
        results, wall_s, setup = run(args.loads, args.pages)
    print(report(results, args.loads, wall_s, command=command, setup=setup))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(s) for s in results], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
