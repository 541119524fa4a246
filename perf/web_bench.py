"""First paint and weight of the operators' web app (G-D1, G-D2), in Debian's chromium driven by Playwright.

```bash
python -m perf.web_bench [--loads 20] [--pages floor,orders,...] [--json FILE]
```

What it does:

1. **The stack.** ``mes up`` (``python -m mes_stack up``, SQLite, every port a free one) with the demo
   data and the analytics' demo history (``MES_STACK_DEMO_HISTORY_DAYS``, 42 days by default), plus the
   web tests' demo orders (``tests/e2e/web/_seed.py``: three orders in production, an operation started at
   a bench, the analytics caught up). The data generator's 100,000 orders are not loaded: it writes
   PostgreSQL, and ``mes up`` here runs on SQLite.
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

Targets: LCP p75 ≤ 1,000 ms warm, ≤ 1,500 ms flushed; FCP p75 ≤ 400 ms; CLS ≤ 0.02; Floor ≤ 150 KB
transferred; ≤ 4 requests before LCP; no GraphQL request before first paint; inline data ≤ 30 KB.
Progress goes to stderr, the markdown report to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, CDPSession, Page, sync_playwright

from mes_stack.demo_data import DEMO_OPERATOR_PASSWORD, DEMO_SUPERVISOR_PASSWORD
from perf._common import response_cache_lookups
from perf._stack import free_ports
from perf._stats import load_average, quantile
from tests.e2e._graphql import GraphQLStack
from tests.e2e._stack import RunningStack, stack_env, start_stack, stop_stack
from tests.e2e.web._browser import CHROMIUM, LAUNCH_ARGS, sign_in
from tests.e2e.web._pages import Visit, visits
from tests.e2e.web._seed import OPERATOR, SUPERVISOR, seed

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1366, "height": 768}
CONTEXT: dict[str, Any] = {"viewport": VIEWPORT, "device_scale_factor": 1, "locale": "en-GB", "timezone_id": "UTC"}
PEOPLE = {"operator": (OPERATOR, DEMO_OPERATOR_PASSWORD), "supervisor": (SUPERVISOR, DEMO_SUPERVISOR_PASSWORD)}
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


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


def signed_in(browser: Browser, origin: str, role: str) -> Any:
    """The cookies of ``role`` signed in through the form on ``origin``."""
    context = browser.new_context(**CONTEXT)
    try:
        page = context.new_page()
        code, password = PEOPLE[role]
        sign_in(page, origin, code, password)
        return context.storage_state()
    finally:
        context.close()


# -- the report --------------------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: Sequence[Series], loads: int, wall_s: float) -> str:
    out = [
        f"## Web app first paint and weight (G-D1, G-D2), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`python -m perf.web_bench --loads {loads}`: {wall_s:.0f} s. p75 over {loads} loads per page"
        " (p50 in brackets), each in a new browser context, 1366x768, signed in by cookie.",
        "",
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
    env = {**stack_env(), "MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE": "100000000"}
    stack = start_stack(workdir / "var", env)
    try:
        yield stack
    finally:
        stop_stack(stack)


def run(loads: int, pages: Sequence[str] | None) -> tuple[list[Series], float]:
    chromium = shutil.which(CHROMIUM)
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    began = time.perf_counter()
    results: list[Series] = []
    with tempfile.TemporaryDirectory(prefix="mes-web-bench-") as tmp, running_stack(Path(tmp)) as stack:
        say(f"stack up; seeding the demo orders (load average {load_average()})")
        seeded = seed(GraphQLStack.of(stack))
        chosen = [v for v in visits(seeded) if not pages or v.name in pages]
        warm = stack_facade(stack)
        flushed = start_flushed_facade(stack, Path(tmp) / "facade-flushed.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=list(LAUNCH_ARGS))
                try:
                    for facade in (warm, flushed):
                        states = {role: signed_in(browser, facade.origin, role) for role in PEOPLE}
                        for visit in chosen:
                            series = run_series(browser, facade, visit, states[visit.role], loads)
                            say(
                                f"  {facade.name:8} {visit.name:10} LCP p75 {series.p('lcp_ms'):.0f} ms,"
                                f" {series.p('bytes') / 1024:.1f} KB, cache {series.cache}, load {series.load_average}"
                            )
                            results.append(series)
                finally:
                    browser.close()
        finally:
            stop_facade(flushed)
    return results, time.perf_counter() - began


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="First paint and weight of the web app's pages.")
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--pages", default="", help="comma-separated page names (all by default)")
    parser.add_argument("--json", default=None, help="write every load as JSON to this file")
    args = parser.parse_args(argv)
    pages = [p for p in args.pages.split(",") if p]
    results, wall_s = run(args.loads, pages)
    print(report(results, args.loads, wall_s))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(s) for s in results], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
