"""A tour of every page of the operators' web app (every page in ``app_pages.PAGES``) in a real browser,
in each of its states: loaded from the inline snapshot, live, paused with the toggle, reconnecting
(its WebSocket killed and new ones refused), and in error (the facade answering 503 to a refresh).
Throughout: no console error, no failed request, no request to another origin; axe-core finds no
serious or critical violation; the screenshots match their baselines (``docs/screenshots``).

These tests only read the session's demo data (the live tests change theirs on a stack of their own).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

import graphql_facade.web  # noqa: F401  (registers every page in PAGES)
from tests.e2e.web._browser import SocketSwitch, blocking_violations
from tests.e2e.web._pages import page_names
from tests.e2e.web._screens import check, shoot
from tests.e2e.web.conftest import SETTLED, Browsing, WebStack, open_page

pytestmark = pytest.mark.system

#: What a renderer shows when it puts a missing value on the page as text.
LEAKED = re.compile(r"\b(?:null|undefined|NaN|\[object Object\])\b")
UNAVAILABLE = {"errors": [{"message": "Service unavailable.", "extensions": {"code": "UNAVAILABLE"}}]}


def _refresh_now(page: Page) -> None:
    """The page's own refresh (``live.js``'s ``refetchSoon``), through the module instance the page uses."""
    page.evaluate("async () => (await import('/static/app/live.js')).refetchSoon(0)")


@pytest.mark.parametrize("name", page_names())
def test_web_page_in_every_state(web: WebStack, browse: Callable[..., Browsing], name: str) -> None:
    visit = web.visit(name)
    tab = browse(visit.role)
    switch = SocketSwitch().attach(tab.page)
    page = open_page(tab, web, visit.path)
    status, toggle = page.locator("#live-status"), page.get_by_role("button", name=re.compile("live updates"))
    # Loaded: the data came inline, no GraphQL request before the first paint.
    assert not [url for url in tab.hygiene.requests if url.endswith("/graphql")]
    expect(page.get_by_role("main")).not_to_be_empty()
    leaked = LEAKED.findall(page.get_by_role("main").inner_text())
    assert not leaked, f"the page shows a raw script value: {leaked}"
    violations = blocking_violations(page)
    assert not violations, "\n".join(violations)
    if status.get_attribute("data-state") == "static":
        tab.hygiene.assert_clean()
        return

    # Live, then paused and resumed with the toggle (WCAG 2.2.2).
    expect(status).to_have_text("Live")
    assert switch.live == 1, "one WebSocket per tab"
    toggle.click()
    expect(status).to_have_attribute("data-state", "paused")
    expect(status).to_have_text("Paused")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(status).to_have_text("Live")

    # Reconnecting: the socket is killed and new ones are refused until the facade is back.
    switch.blocked = True
    assert switch.kill() == 1
    expect(status).to_have_attribute("data-state", "reconnecting")
    expect(status).to_have_text(re.compile(r"^Reconnecting since \d\d:\d\d:\d\d$"))
    opened = switch.opened
    switch.blocked = False
    expect(status).to_have_text("Live", timeout=45_000)  # the backoff may have grown to 30 s
    assert switch.opened > opened

    # Error: the facade answers 503 to the page's refresh; the page says so and keeps its data.
    tab.hygiene.allowing(r"503 POST .*/graphql$", r"status of 503")

    def unavailable(route: Route) -> None:
        route.fulfill(status=503, json=UNAVAILABLE, headers={"Retry-After": "1"})

    shown = page.locator("main *").count()
    page.route(re.compile(r"/graphql$"), unavailable)
    _refresh_now(page)
    expect(status).to_have_text(re.compile(r"Refresh failed: Service unavailable\."))
    expect(page.locator("main *")).to_have_count(shown)
    page.unroute(re.compile(r"/graphql$"))
    # Back: the next refresh that succeeds clears the message (no reconnection needed).
    expect(status).to_have_text(re.compile(r"^Live · Refresh failed"))
    _refresh_now(page)
    expect(status).to_have_text("Live")
    expect(page.locator("main *")).not_to_have_count(0)
    tab.hygiene.assert_clean()


@pytest.mark.parametrize("name", page_names())
def test_web_page_has_no_serious_accessibility_violation_for_an_operator(
    web: WebStack, browse: Callable[..., Browsing], name: str
) -> None:
    visit = web.visit(name)
    page = open_page(browse("operator"), web, visit.path)
    violations = blocking_violations(page)
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("name", page_names())
def test_web_page_screenshot(web: WebStack, browse: Callable[..., Browsing], scratch: Path, name: str) -> None:
    visit = web.visit(name)
    tab = browse(visit.role)
    page = open_page(tab, web, visit.path)
    expect(page.locator("#live-status")).to_have_attribute("data-state", SETTLED)
    mask = [page.locator(selector) for selector in visit.volatile]
    check(visit.screenshot, shoot(page, mask, visit.frozen), scratch)
    tab.hygiene.assert_clean()


def test_web_sign_in_screenshot(web: WebStack, browse: Callable[..., Browsing], scratch: Path) -> None:
    tab = browse()
    page = tab.page
    page.goto(f"{web.origin}/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    violations = blocking_violations(page)
    assert not violations, "\n".join(violations)
    check("sign-in", shoot(page), scratch)
    tab.hygiene.assert_clean()
