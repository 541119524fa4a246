"""The browser of the web tests: Debian's ``chromium`` driven by Playwright, what a page must not do
(console errors, failed requests, requests to another origin), signing in, accessibility with
axe-core, and a switch on the page's WebSockets (kill them, refuse new ones).

Playwright's own browser download is never used (it cannot be fetched here): the system's
``chromium`` is launched by path, without the background services that would call other hosts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import ConsoleMessage, Page, Request, Response, WebSocketRoute

#: The system package and how to install it (tests/README.md, "The system group").
CHROMIUM = "chromium"
INSTALL_CHROMIUM = "apt-get install -y chromium"
#: Headless, no sandbox (CI runs as root), and none of the browser's own calls to other hosts.
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--hide-scrollbars",
    "--font-render-hinting=none",
)
VIEWPORT = {"width": 1280, "height": 800}
#: What the browser reports about a page: en-GB dates in UTC, no animations.
CONTEXT_OPTIONS: dict[str, Any] = {
    "viewport": VIEWPORT,
    "device_scale_factor": 1,
    "locale": "en-GB",
    "timezone_id": "UTC",
    "reduced_motion": "reduce",
    "color_scheme": "light",
}
#: Waits for what the page shows (Playwright's auto-wait): generous, the machine may be loaded.
EXPECT_MS = 20_000
#: axe-core: WCAG 2.x A and AA; serious and critical violations fail.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
_AXE = Axe()


@dataclass
class Hygiene:
    """Everything a page did wrong while it was watched; ``problems()`` must stay empty.

    ``allow`` holds patterns of what a test causes on purpose (the 401 of a wrong password, the 503
    of an outage it simulates): a console message, failed request or response matching one is not a
    problem. Every request is recorded: one to another origin is always a problem.
    """

    origin: str
    allow: list[re.Pattern[str]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Hygiene:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{error.name}: {error.message}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", lambda request: self.requests.append(request.url))
        return self

    def allowing(self, *patterns: str) -> Hygiene:
        self.allow += [re.compile(p) for p in patterns]
        return self

    def _allowed(self, text: str) -> bool:
        return any(p.search(text) for p in self.allow)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            self.console.append(f"{message.type}: {message.text} ({message.location.get('url', '')})")

    def _failed(self, request: Request) -> None:
        self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.bad_responses.append(f"{response.status} {response.request.method} {response.url}")

    def foreign(self) -> list[str]:
        """Requests that left the facade's origin (``data:`` and ``blob:`` URLs stay in the page)."""
        return [url for url in self.requests if not url.startswith((self.origin + "/", "data:", "blob:"))]

    def problems(self) -> list[str]:
        found = [f"console {m}" for m in self.console]
        found += [f"page error {m}" for m in self.page_errors]
        found += [f"request failed: {m}" for m in self.failed]
        found += [f"response {m}" for m in self.bad_responses]
        found = [m for m in found if not self._allowed(m)]
        return found + [f"request to another origin: {url}" for url in self.foreign()]

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, "the page misbehaved:\n" + "\n".join(problems)


def sign_in(page: Page, origin: str, code: str, password: str, *, next_path: str = "/") -> None:
    """Sign in through the form and wait for the page it leads to."""
    page.goto(f"{origin}/sign-in?next={next_path}")
    page.get_by_label("Operator code").fill(code)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{origin}{next_path}*", timeout=EXPECT_MS)


def blocking_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (axe-core is the copy
    shipped inside ``axe-playwright-python``: nothing is downloaded)."""
    results = _AXE.run(page, options=AXE_OPTIONS)
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING_IMPACTS
    ]


class SocketSwitch:
    """The page's WebSockets to the facade go through Playwright (``route_web_socket``): each is
    connected to the real server, and can be killed (both ends closed, as when a proxy drops the
    connection) or refused while ``blocked`` (the page keeps trying to reconnect)."""

    #: Close code the page sees on a kill: "service restart", after which a client reconnects.
    KILL_CODE = 1012

    def __init__(self) -> None:
        self.blocked = False
        self.opened = 0
        self._live: list[tuple[WebSocketRoute, WebSocketRoute]] = []

    def attach(self, page: Page) -> SocketSwitch:
        page.route_web_socket(re.compile(r"/graphql(\?.*)?$"), self._route)
        return self

    def _route(self, ws: WebSocketRoute) -> None:
        self.opened += 1
        if self.blocked:
            ws.close(code=self.KILL_CODE, reason="refused by the test")
            return
        server = ws.connect_to_server()
        self._live.append((ws, server))

    @property
    def live(self) -> int:
        return len(self._live)

    def kill(self) -> int:
        """Close every open socket at both ends; returns how many there were."""
        killed, self._live = self._live, []
        for page_side, server_side in killed:
            server_side.close(code=1000, reason="killed by the test")
            page_side.close(code=self.KILL_CODE, reason="killed by the test")
        return len(killed)


def texts(page: Page, selector: str) -> list[str]:
    """The inner texts of every element matching ``selector``, in document order."""
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def one_line(items: Iterable[str]) -> str:
    return " | ".join(items)
