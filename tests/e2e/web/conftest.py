"""The operators' web app in a real browser: one `mes up` with the demo data (plus the demo orders of
``_seed``) and one headless chromium for the whole folder.

Every test here is in the ``system`` group: it asks for the ``web`` fixture (or ``browse``), which
first checks that ``chromium`` is on the PATH (skipped with the install command on a developer's
machine, failed in CI) and only then starts the session's stack and browser.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from mes_stack.demo_data import DEMO_OPERATOR_PASSWORD, DEMO_SUPERVISOR_PASSWORD, PLANT_TIME_ZONE
from tests._infra.ci import require_system_tool, service_unavailable
from tests._infra.nats import NATS_MISSING, find_nats_server
from tests.e2e._graphql import GraphQLStack
from tests.e2e._stack import stack_env, start_stack, stop_stack
from tests.e2e.web._browser import CHROMIUM, CONTEXT_OPTIONS, EXPECT_MS, INSTALL_CHROMIUM, LAUNCH_ARGS, Hygiene, sign_in
from tests.e2e.web._pages import Visit, visits
from tests.e2e.web._seed import OPERATOR, SUPERVISOR, Seeded, seed

expect.set_options(timeout=EXPECT_MS)

#: The web stack's settings beyond the defaults: no made-up analytics history (it ends today, so the
#: analytics pages' pictures would change every day; their data is the demo orders of ``_seed``), and the
#: facade told the plant's time zone (its analytics windows end at the plant's midnight, as the analytics
#: service's days do).
WEB_STACK_ENV = {"MES_STACK_DEMO_HISTORY_DAYS": "0", "MES_FACADE_PLANT_TIME_ZONE": PLANT_TIME_ZONE}
#: A loaded page's live status once settled: following the floor, or a page without live updates.
SETTLED = re.compile(r"^(live|static)$")
#: Role -> (operator code, password) of the demo sign-ins.
PEOPLE = {"operator": (OPERATOR, DEMO_OPERATOR_PASSWORD), "supervisor": (SUPERVISOR, DEMO_SUPERVISOR_PASSWORD)}


@dataclass
class WebStack:
    """The stack under test: its facade's origin, the demo orders, and the signed-in browser states."""

    gq: GraphQLStack
    seeded: Seeded
    browser: Browser
    states: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.gq.url.removesuffix("/graphql")

    def state(self, role: str) -> Any:
        """The cookies of a signed-in ``role`` (signed in through the form once per session)."""
        if role not in self.states:
            context = self.browser.new_context(**CONTEXT_OPTIONS)
            try:
                page = context.new_page()
                code, password = PEOPLE[role]
                sign_in(page, self.origin, code, password)
                self.states[role] = context.storage_state()
            finally:
                context.close()
        return self.states[role]

    def visit(self, name: str) -> Visit:
        """The visit of the page ``name``: its path in the demo data and who opens it."""
        return next(v for v in visits(self.seeded) if v.name == name)

    def open_tab(self, contexts: list[BrowserContext], role: str | None = None, **options: Any) -> Browsing:
        """A new tab in a fresh context, signed in as ``role`` (or not at all), its misbehaviour
        recorded; the context is added to ``contexts``, which the caller closes."""
        state = self.state(role) if role is not None else None
        context = self.browser.new_context(**{**CONTEXT_OPTIONS, **options}, storage_state=state)
        context.set_default_timeout(EXPECT_MS)
        contexts.append(context)
        page = context.new_page()
        return Browsing(page, context, Hygiene(self.origin).watch(page))


@dataclass
class Browsing:
    """A browser tab in a fresh context, watched by ``hygiene``."""

    page: Page
    context: BrowserContext
    hygiene: Hygiene


def open_page(tab: Browsing, web: WebStack, path: str) -> Page:
    """``path`` of the stack loaded in ``tab`` (answered 200), once its live status settled."""
    page = tab.page
    response = page.goto(f"{web.origin}{path}")
    assert response is not None and response.status == 200, f"{path}: {response and response.status}"
    expect(page.locator("#live-status")).to_have_attribute("data-state", SETTLED)
    return page


@contextlib.contextmanager
def seeded_stack(browser: Browser, data_dir: Path, env: dict[str, str]) -> Iterator[WebStack]:
    """``mes up`` in ``data_dir`` with ``env``, given the demo orders of ``_seed``; stopped at the end."""
    stack = start_stack(data_dir, env)
    try:
        gq = GraphQLStack.of(stack)
        yield WebStack(gq, seed(gq), browser)
    finally:
        stop_stack(stack)


def with_chromium(request: pytest.FixtureRequest, fixture: str) -> WebStack:
    """The stack of the fixture named ``fixture``, once ``chromium`` is known to be there."""
    require_system_tool(request, CHROMIUM, install=INSTALL_CHROMIUM)
    stack: WebStack = request.getfixturevalue(fixture)
    return stack


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def _browser(_playwright: Playwright) -> Iterator[Browser]:
    path = shutil.which(CHROMIUM)
    assert path is not None  # checked by `web` before this fixture is asked for
    browser = _playwright.chromium.launch(executable_path=path, args=list(LAUNCH_ARGS))
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def _web_stack(tmp_path_factory: pytest.TempPathFactory, _browser: Browser) -> Iterator[WebStack]:
    if find_nats_server() is None:
        service_unavailable(NATS_MISSING)
    with seeded_stack(_browser, tmp_path_factory.mktemp("web") / "var", {**stack_env(), **WEB_STACK_ENV}) as stack:
        yield stack


@pytest.fixture
def web(request: pytest.FixtureRequest) -> WebStack:
    """The session's stack and browser, once ``chromium`` is known to be there."""
    return with_chromium(request, "_web_stack")


@pytest.fixture
def browse(web: WebStack) -> Iterator[Callable[..., Browsing]]:
    """``browse(role=None)``: a new tab, signed in as ``"operator"`` or ``"supervisor"`` (or not at all),
    its misbehaviour recorded; every context is closed after the test."""
    contexts: list[BrowserContext] = []

    def open_tab(role: str | None = None, **options: Any) -> Browsing:
        return web.open_tab(contexts, role, **options)

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """Where a failed screenshot comparison leaves its pictures."""
    return tmp_path / "screenshots"
